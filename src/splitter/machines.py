"""Load and validate machines.json: the machines of a campaign, in order."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Machine"]


@dataclass(frozen=True)
class Machine:
    """One entry of machines.json: a name, its per-thread performance and its cores."""

    name: str
    perf: float
    cores: int

    @property
    def weight(self) -> float:
        """Compute ability: per-thread performance times cores."""
        return self.perf * self.cores
