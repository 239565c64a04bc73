"""Placeholders that stand for values while a pipeline function is traced into a graph."""

from __future__ import annotations

from typing import Any, NoReturn

from kiln.errors import PipelineDefinitionError


class _Placeholder:
    """A value that only exists once the pipeline runs; using it as data is a mistake."""

    def _misuse(self, what: str) -> NoReturn:
        raise PipelineDefinitionError(
            f"{self!r} is a placeholder while the pipeline graph is built, so it cannot be "
            f"used {what}",
            hint="pass it to a @kiln.step as an argument and do the work inside the step",
        )

    def __bool__(self) -> bool:
        self._misuse("in a condition")

    def __int__(self) -> int:
        self._misuse("as a number")

    def __float__(self) -> float:
        self._misuse("as a number")

    def __index__(self) -> int:
        self._misuse("as an index")

    def __format__(self, spec: str) -> str:
        self._misuse("in a string")

    def __getitem__(self, key: Any) -> Any:
        self._misuse("with [] indexing")

    def __add__(self, other: Any) -> Any:
        self._misuse("in arithmetic")

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __add__

    def __lt__(self, other: Any) -> bool:
        self._misuse("in a comparison")

    __le__ = __gt__ = __ge__ = __lt__


class ParamRef(_Placeholder):
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<pipeline parameter {self.name}>"


class OutputRef(_Placeholder):
    def __init__(self, step: str, output: str) -> None:
        self.step = step
        self.output = output

    def __repr__(self) -> str:
        return f"<output {self.output} of step {self.step}>"

    def __iter__(self) -> NoReturn:
        raise PipelineDefinitionError(
            f"step '{self.step}' has a single output, so it cannot be unpacked",
            hint="if the step returns a tuple, annotate it (`-> tuple[X, Y]`) or declare "
            "@kiln.step(outputs=('a', 'b'))",
        )
