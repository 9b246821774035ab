"""How an indexing run shows its progress: a bar on a terminal, and otherwise a line every
few seconds (done, total, rate, time left) that a log keeps, both on standard error."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from indexer.build import Progress

# Seconds between two progress lines when standard error is not a terminal.
LINE_INTERVAL_S = 5.0


class BarProgress(Progress):
    """A tqdm bar per phase."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.bar: tqdm | None = None

    def phase(self, name: str, total: int | None, unit: str = "doc") -> None:
        """Start a new bar (the previous one goes)."""
        self.close()
        self.bar = tqdm(total=total or None, desc=f"{name:>9}", unit=unit, file=self.stream,
                        leave=False, dynamic_ncols=True)

    def advance(self, steps: int = 1) -> None:
        """Move the bar."""
        if self.bar is not None:
            self.bar.update(steps)

    def close(self) -> None:
        """Take the bar away."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LineProgress(Progress):
    """A line when a phase starts, every `interval` seconds while it runs, and when it ends:
    "embedding: 2,000/5,486 (36%), 201 doc/s, 0:17 left"."""

    def __init__(self, stream: TextIO = sys.stderr, interval: float = LINE_INTERVAL_S,
                 clock=time.monotonic) -> None:
        self.stream, self.interval, self.clock = stream, interval, clock
        self.name: str | None = None

    def phase(self, name: str, total: int | None, unit: str = "doc") -> None:
        """Start a phase: its first line."""
        self.close()
        self.name, self.total, self.unit = name, total or None, unit
        self.done = 0
        self.started = self.last = self.clock()
        self._write()

    def advance(self, steps: int = 1) -> None:
        """Count steps; a line when the interval has passed."""
        if self.name is None:
            return
        self.done += steps
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._write()

    def close(self) -> None:
        """End the phase with its last line."""
        if self.name is not None:
            self._write(final=True)
            self.name = None

    def _write(self, final: bool = False) -> None:
        elapsed = self.clock() - self.started
        parts = [f"{self.done:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.unit}s"]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        if elapsed > 0 and self.done:
            rate = self.done / elapsed
            parts.append(f"{rate:,.0f} {self.unit}/s")
            if self.total and not final:
                parts.append(f"{tqdm.format_interval((self.total - self.done) / rate)} left")
        if final:
            parts.append(f"done in {tqdm.format_interval(elapsed)}")
        print(f"{self.name}: " + ", ".join(parts), file=self.stream, flush=True)


def progress_for(quiet: bool, stream: TextIO = sys.stderr) -> Progress:
    """A bar on a terminal, lines otherwise, nothing when quiet."""
    if quiet:
        return Progress()
    return BarProgress(stream) if stream.isatty() else LineProgress(stream)
