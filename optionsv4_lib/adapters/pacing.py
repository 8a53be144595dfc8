"""Pacing of requests to a rate-limited API: a sliding-window rate limiter (in this process, or shared by every
process through PostgreSQL) and an exponential-backoff retry policy.

They take their clock, sleep and random source as arguments, so tests can check the timing without waiting.
Times are in seconds.
"""

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.store.pacing import reserve_slot


@dataclass(frozen=True)
class Rate:
    """At most `count` requests in any window of `per` seconds (count ≥ 1, per ≥ 0 s)."""

    count: int
    per: float

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise InputError(f"count: expected an integer ≥ 1, got {self.count!r}")
        if not isinstance(self.per, (int, float)) or not 0 <= self.per < float("inf"):
            raise InputError(f"per: expected a finite number of seconds ≥ 0, got {self.per!r}")


class RateLimiter:
    """Thread-safe: grants at most rate.count requests in any rate.per-second window, in the order asked.

    acquire() reserves the earliest slot that keeps the window rule (now, or rate.per after the count-th latest
    grant) under a lock, then sleeps until it outside the lock, so waiting callers do not block each other.
    """

    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate = rate
        self._clock, self._sleep = clock, sleep
        self._grants: deque[float] = deque(maxlen=rate.count)  # the latest count grant times, ascending
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = now
            if len(self._grants) == self.rate.count:
                slot = max(now, self._grants[0] + self.rate.per)
            self._grants.append(slot)
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait


class SharedRateLimiter:
    """A RateLimiter whose grants live in the database's api_pacing table under `key`: every process (and thread)
    with the same key keeps rate.count requests in any rate.per seconds together.

    connect: opens a psycopg2 connection (called on the first acquire, and again if the connection was closed).
    Each acquire reserves a slot in one short transaction (store.pacing.reserve_slot), then sleeps until it.
    """

    def __init__(self, rate: Rate, key: str, connect: Callable[[], object], *,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate, self.key = rate, key
        self._connect, self._sleep = connect, sleep
        self._conn = None
        self._lock = threading.Lock()  # one transaction at a time on the connection

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            wait = reserve_slot(self._conn, self.key, self.rate.count, self.rate.per)
        if wait > 0:
            self._sleep(wait)
        return wait

    def close(self) -> None:
        """Close the connection (a later acquire opens a new one)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a request that may succeed later.

    attempts: tries in all, the first included (≥ 1). The wait before retry n (n = 1, 2, …) is
    b = min(max_delay, base_delay · 2^(n−1)), drawn uniformly from [b/2, b] ("equal jitter"), and never shorter
    than a Retry-After the server sent; a Retry-After longer than max_delay means give up now.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or isinstance(self.attempts, bool) or self.attempts < 1:
            raise InputError(f"attempts: expected an integer ≥ 1, got {self.attempts!r}")
        for field in ("base_delay", "max_delay"):
            value = getattr(self, field)
            if not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                raise InputError(f"{field}: expected a finite number of seconds ≥ 0, got {value!r}")

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before retry number `retry` (1-based); None when the server asks for too long a wait."""
        if retry_after is not None and retry_after > self.max_delay:
            return None
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        wait = rng.uniform(ceiling / 2, ceiling)
        return max(wait, retry_after or 0.0)
