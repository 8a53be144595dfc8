"""Rate limiter and retry policy: window rule on a fake clock, thread safety in real time, backoff bounds."""

import random
import threading
import time

import pytest

from optionsv4_lib.adapters.pacing import Rate, RateLimiter, RetryPolicy
from optionsv4_lib.core.errors import InputError


class FakeClock:
    """time.monotonic and time.sleep for one thread: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def grant_times(rate: Rate, calls: int) -> list[float]:
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(calls):
        limiter.acquire()
        times.append(clock.now - 100.0)
    return times


def most_in_any_window(times: list[float], per: float) -> int:
    """The largest number of grants in a half-open window [t, t + per) starting at a grant."""
    return max(sum(start <= t < start + per for t in times) for start in times)


def test_one_request_per_three_seconds_is_evenly_spaced():
    assert grant_times(Rate(1, 3.0), 4) == [0.0, 3.0, 6.0, 9.0]


def test_five_per_second_allows_a_burst_of_five_then_waits_for_the_window():
    times = grant_times(Rate(5, 1.0), 12)
    assert times == [0.0] * 5 + [1.0] * 5 + [2.0] * 2  # as early as the rule allows, never earlier
    assert most_in_any_window(times, 1.0) == 5


def test_a_slow_caller_is_never_delayed():
    clock = FakeClock()
    limiter = RateLimiter(Rate(1, 3.0), clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert limiter.acquire() == 0.0
        clock.now += 3.5
    assert clock.sleeps == []


def test_threads_sharing_a_limiter_keep_the_window_rule_in_real_time():
    limiter = RateLimiter(Rate(2, 0.1))
    granted: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            limiter.acquire()
            with lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted.sort()
    assert len(granted) == 12
    # the k-th grant (0-based) cannot come before k // 2 full windows have passed; scheduling delays of the
    # threads only make the recorded times later, so this holds however busy the machine is
    assert all(at - started >= (k // 2) * 0.1 - 1e-3 for k, at in enumerate(granted))


@pytest.mark.parametrize("retry", [1, 2, 3, 6, 10])
def test_backoff_is_exponential_with_jitter_within_bounds(retry):
    policy = RetryPolicy(attempts=11, base_delay=0.5, max_delay=8.0)
    ceiling = min(8.0, 0.5 * 2 ** (retry - 1))
    waits = [policy.delay(retry, None, random.Random(seed)) for seed in range(200)]
    assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
    assert max(waits) - min(waits) > ceiling / 4  # jitter: the draws spread over the interval


def test_retry_after_sets_a_floor_and_a_too_long_one_gives_up():
    policy = RetryPolicy(base_delay=0.1, max_delay=5.0)
    assert policy.delay(1, 2.0, random.Random(0)) == 2.0
    assert policy.delay(1, 5.5, random.Random(0)) is None


@pytest.mark.parametrize(("build", "field"), [
    (lambda: Rate(0, 1.0), "count"), (lambda: Rate(1, -1.0), "per"), (lambda: Rate(1, float("nan")), "per"),
    (lambda: RetryPolicy(attempts=0), "attempts"), (lambda: RetryPolicy(base_delay=float("inf")), "base_delay"),
])
def test_impossible_settings_raise_input_error_naming_the_field(build, field):
    with pytest.raises(InputError, match=f"^{field}:"):
        build()
