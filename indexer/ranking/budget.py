"""A question's time budget: the stages that can stop early (the phrase matcher, feedback)
ask it before their next piece of work, and the ranking says whether any stopped.

The budget is CPU time of the thread answering, not time on the clock: under load a
question shares the GIL with others, and a clock budget would cut ordinary questions short
(and, partial answers not being cached, keep them from ever being cached)."""

from __future__ import annotations

import time


class Budget:
    """Ends once the thread that made it has used `seconds` of CPU (None: never); `cut`
    once a stage skipped work. Used by the thread that made it."""

    def __init__(self, seconds: float | None = None) -> None:
        self.ends = None if seconds is None else time.thread_time() + seconds
        self.cut = False

    def spent(self) -> bool:
        """True when the time is up: the caller skips what it was about to do, and the
        ranking is marked partial."""
        if self.ends is None or time.thread_time() < self.ends:
            return False
        self.cut = True
        return True
