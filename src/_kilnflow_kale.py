"""`kale.sdk` for modules written for Kale's SDK, when Kale itself is not installed.

A finder placed last on `sys.meta_path` answers for `kale` and `kale.sdk` only after every
other finder found nothing, so a real Kale always wins and nothing named `kale` is
installed. kilnflow installs it when it loads a module (`kiln run module.py`), and the
`kilnflow-kale.pth` file installs it at interpreter start so `python module.py` works too.
This module stays tiny: the .pth imports it in every interpreter of the environment.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types

_NAMES = ("kale", "kale.sdk")


# Plain classes, not importlib.abc's: importing importlib.abc costs 16 ms in every interpreter
# of the environment, and the import system only calls these methods.
class _Loader:
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__name__ == "kale":
            module.__path__ = []  # a package, so `kale.sdk` can be found beneath it
            module.__doc__ = "kilnflow's stand-in: Kale is not installed here"
            return
        from kiln.sdk import kale as compat

        module.__doc__ = compat.__doc__
        module.step = compat.step  # type: ignore[attr-defined]
        module.pipeline = compat.pipeline  # type: ignore[attr-defined]
        module.artifact = compat.artifact  # type: ignore[attr-defined]


class KaleSDKFinder:
    def find_spec(self, name: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name not in _NAMES:
            return None
        return importlib.machinery.ModuleSpec(name, _Loader(), is_package=name == "kale")


def install() -> None:
    if not any(isinstance(f, KaleSDKFinder) for f in sys.meta_path):
        sys.meta_path.append(KaleSDKFinder())
