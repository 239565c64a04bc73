"""Everything is in pyproject.toml except one file setuptools cannot place by itself:
`kilnflow-kale.pth` in site-packages, which lets `python module.py` import `kale.sdk` (Kale's
SDK on kilnflow) when Kale is not installed. See src/_kilnflow_kale.py."""

from __future__ import annotations

import os
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "kilnflow-kale.pth"
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src", PTH)


class BuildPyWithPth(build_py):
    """Wheels and regular installs: the .pth goes beside the packages."""

    def run(self) -> None:
        super().run()
        self.copy_file(SOURCE, os.path.join(self.build_lib, PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH)]


class EditableWheelWithPth(editable_wheel):
    """`pip install -e .`: setuptools' editable wheel holds only its own path file, so add
    ours to the wheel it writes (the strategy hook is setuptools' own extension point)."""

    def _select_strategy(self, name: str, tag: str, build_lib: Any) -> Any:
        strategy = super()._select_strategy(name, tag, build_lib)

        class WithPth:
            def __call__(self, wheel: Any, files: list[str], mapping: dict[str, str]) -> None:
                strategy(wheel, files, mapping)
                with open(SOURCE, "rb") as f:
                    wheel.writestr(PTH, f.read())

            def __enter__(self) -> Any:
                return strategy.__enter__()

            def __exit__(self, *exc: Any) -> None:
                strategy.__exit__(*exc)

        return WithPth()


def panel_data_files() -> list[tuple[str, list[str]]]:
    """The notebook panel (a prebuilt JupyterLab extension, built from jupyterlab/ and kept
    in the package) also where a plain `jupyter lab` looks: share/jupyter/labextensions.
    `kiln notebook start` finds it in the package itself (JUPYTER_PATH)."""
    here = os.path.dirname(os.path.abspath(__file__))
    base = os.path.join("src", "kiln", "jupyter", "share")
    out = []
    for folder, _, names in os.walk(os.path.join(here, base)):
        rel = os.path.relpath(folder, here)
        if names:
            out.append((os.path.join("share", "jupyter", os.path.relpath(folder, os.path.join(
                here, base))), [os.path.join(rel, n) for n in sorted(names)]))
    return out


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth},
      data_files=panel_data_files())
