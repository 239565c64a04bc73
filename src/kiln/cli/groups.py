"""Typer groups whose first word may be left out: `kiln serve MODEL` is `kiln serve start MODEL`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperGroup

if TYPE_CHECKING:
    # typer 0.28 carries its own click (typer._click); its Context is the one TyperGroup takes
    from typer._click.core import Context


class DefaultCommandGroup(TyperGroup):
    """A group that runs `default_command` when the first argument names no sub-command."""

    default_command = ""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def default_to(name: str) -> type[DefaultCommandGroup]:
    return type(f"DefaultTo{name.title()}", (DefaultCommandGroup,), {"default_command": name})
