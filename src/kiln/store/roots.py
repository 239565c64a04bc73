"""What gc keeps and check names: the store's roots, handed in as plain data.

The store knows no records. Whoever holds the records (the catalog, `catalog/roots.py`)
fills a `Roots` with the digests and trees it still references, each with the names of
what references it, and passes it to `check` and `gc`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Roots:
    artifacts: dict[str, list[str]] = field(default_factory=dict)  # digest -> "run/step/name"
    trees: dict[str, list[str]] = field(default_factory=dict)  # tree id -> "volume@snapshot"
