"""Retry pacing and the circuit breaker shared by every connector's caller.

Both are pure and clock-injectable so the forwarder and the unit tests drive
them the same way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 60.0,
                  rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt`` (0 = first retry).

    Capped exponential backoff with "full jitter" (uniform in ``[0, min(cap, base * 2**attempt)]``):
    many forwarders that failed together do not retry together.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    ceiling = min(cap, base * (2 ** min(attempt, 62)))
    return ceiling * rng()


@dataclass
class RetryPolicy:
    """How many times and how far apart a batch is retried before it is dead-lettered."""

    base: float = 0.5
    cap: float = 60.0
    max_attempts: int = 8
    max_retry_after: float = 300.0  # a destination's Retry-After is honoured up to this
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry ``attempt``; never shorter than the destination asked for."""
        delay = backoff_delay(attempt, base=self.base, cap=self.cap, rng=self.rng)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay

    def exhausted(self, attempt: int) -> bool:
        """True when retry ``attempt`` would be one too many."""
        return attempt >= self.max_attempts


class CircuitBreaker:
    """closed → open after ``threshold`` consecutive failures → half-open after ``cooldown``.

    In half-open state exactly one probe is allowed through; its success closes the
    breaker, its failure opens it again for another cooldown.
    """

    def __init__(self, threshold: int = 5, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if threshold < 1:
            raise ValueError("threshold must be >= 1")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` (an open breaker past its cooldown)."""
        if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown:
            return HALF_OPEN
        return self._state

    @property
    def failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self._state != OPEN:
            return 0.0
        return max(0.0, self.cooldown - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a request go out now? In half-open state this claims the single probe."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._probing:
            self._state = HALF_OPEN
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        self._state = CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state == HALF_OPEN or self._failures >= self.threshold:
            self._state = OPEN
            self._opened_at = self._clock()
        self._probing = False

    def snapshot(self) -> dict[str, object]:
        """State for status pages and the integration's JSON."""
        return {"state": self.state, "consecutive_failures": self._failures,
                "retry_in_s": round(self.retry_in(), 3)}
