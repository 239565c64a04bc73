"""Options that several commands share, with one help text and one parser each."""

from __future__ import annotations

VOLUME_HELP = ("Bind a volume the pipeline mounts to a volume here: NAME=VOLUME, repeatable "
               "(a Kale notebook names its cluster's PVCs, e.g. data-8lbdjmzdh=data).")


def volume_bindings(items: list[str]) -> dict[str, str]:
    """`--volume data-8lbdjmzdh=data` -> {"data-8lbdjmzdh": "data"}."""
    from kiln.errors import ParameterError
    from kiln.spec.params import parse_assignments

    out = parse_assignments(items, what="--volume", example="--volume data-8lbdjmzdh=data")
    for name, local in out.items():
        if not local.strip():
            raise ParameterError(f"--volume {name}=: name the volume of this machine to bind "
                                 f"'{name}' to", where="--volume",
                                 hint=f"--volume {name}=VOLUME (see `kiln volume ls`)")
    return out
