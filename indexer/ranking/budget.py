"""A question's time budget: the stages that can stop early (the phrase matcher, feedback)
ask it before their next piece of work, and the ranking says whether any stopped."""

from __future__ import annotations

import time


class Budget:
    """Ends `seconds` after it is made (None: never); `cut` once a stage skipped work."""

    def __init__(self, seconds: float | None = None) -> None:
        self.ends = None if seconds is None else time.monotonic() + seconds
        self.cut = False

    def spent(self) -> bool:
        """True when the time is up: the caller skips what it was about to do, and the
        ranking is marked partial."""
        if self.ends is None or time.monotonic() < self.ends:
            return False
        self.cut = True
        return True
