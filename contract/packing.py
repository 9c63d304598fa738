"""The packed form of records that runtimes without strings take: numbers and category indices.

    numbers     float32 [N, k]  every integer, number and boolean feature, in declaration order
                                (booleans as 0 and 1)
    categories  int32   [N, m]  every category feature, as the index of its value in the
                                declared categories

Both the LiteRT export's signature and the service's packing derive from the declaration this
way, so they cannot disagree on a column's position.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.features import Feature

NUMBERS_INPUT = "numbers"
CATEGORIES_INPUT = "categories"


@dataclass(frozen=True)
class PackedLayout:
    """Which feature goes in which column of the packed inputs."""

    numbers: tuple[str, ...]
    categories: tuple[tuple[str, tuple[str, ...]], ...]  # (feature, its declared categories)

    @classmethod
    def of(cls, features: tuple[Feature, ...]) -> PackedLayout:
        """Return the layout of a feature declaration."""
        return cls(
            numbers=tuple(f.name for f in features if f.type != "category"),
            categories=tuple(
                (f.name, f.categories or ()) for f in features if f.type == "category"
            ),
        )

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.categories)
