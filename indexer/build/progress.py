"""How an indexing run reports its progress: the hooks it calls, and a `Progress` that does
nothing (the CLI draws a bar or writes lines)."""

from __future__ import annotations


class Progress:
    """Progress reporting hooks; this one does nothing."""

    def phase(self, name: str, total: int | None, unit: str = "doc") -> None:
        """A new phase of `total` steps (None: not known ahead) of `unit`s starts."""

    def advance(self, steps: int = 1) -> None:
        """Steps of the current phase are done."""

    def close(self) -> None:
        """The current phase, or the run, is over."""
