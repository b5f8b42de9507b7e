"""Client-side rate limiters of the HTTP client core (:mod:`.http`): a sliding-window and
concurrency limit per process (:class:`RateLimiter`) and one whose window counter lives
outside the process (:class:`SharedRateLimiter`). Pure Python, no Odoo.
"""

import threading
import time
from collections import deque


# ------------------------------------------------------------------ rate limiter
def _wait_for_slot(delay_of, limiter, start, timeout, what):
    """Call ``delay_of()`` until it takes a slot (returns 0), sleeping the delays it asks.

    With ``timeout`` (seconds since ``start``), raise :class:`TimeoutError` rather
    than wait longer.
    """
    while True:
        delay = delay_of()
        if not delay:
            return
        if timeout is not None and limiter._clock() - start + delay > timeout:
            raise TimeoutError(f"rate limiter: {what}")
        limiter._sleep(delay)


class _LimiterContext:
    """``with limiter: ...`` around one call."""

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.release()
        return False


class RateLimiter(_LimiterContext):
    """Client-side limit: at most ``max_calls`` per sliding ``window`` seconds and
    at most ``max_concurrent`` calls in progress. Thread-safe.

    Use ``with limiter: ...`` or ``acquire()`` / ``release()`` around each call.

    :param max_calls: calls allowed per window (``None``: no window limit).
    :param window: window length in seconds, before ``time_factor``.
    :param max_concurrent: calls allowed at the same time (``None``: no limit).
    :param time_factor: multiplies the window, e.g. ``RateLimiter(60, 60,
        time_factor=0.01)`` allows 60 calls per 0.6 s for a benchmark.
    :param clock: monotonic clock in seconds (injectable for tests).
    :param sleep: sleep function (injectable for tests).
    """

    def __init__(
        self,
        max_calls=None,
        window=60.0,
        *,
        max_concurrent=None,
        time_factor=1.0,
        clock=time.monotonic,
        sleep=time.sleep,
    ):
        if max_calls is not None and max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if window <= 0 or time_factor <= 0:
            raise ValueError("window and time_factor must be positive")
        self.max_calls = max_calls
        self.max_concurrent = max_concurrent
        self.window = float(window) * float(time_factor)
        self.time_factor = float(time_factor)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = threading.Condition(self._lock)
        self._stamps = deque()
        self._paused_until = None
        self.in_flight = 0
        self.calls = 0
        self.waited = 0.0

    def _take_concurrency_slot(self, deadline):
        with self._slots:
            while self.max_concurrent is not None and self.in_flight >= self.max_concurrent:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._slots.wait(remaining)
            self.in_flight += 1
            return True

    def _window_delay(self):
        """Reserve a window slot and return 0, or return how long to wait. Lock held."""
        now = self._clock()
        if self._paused_until is not None:
            if now < self._paused_until:
                return self._paused_until - now
            self._paused_until = None
        if self.max_calls is not None:
            horizon = now - self.window
            while self._stamps and self._stamps[0] <= horizon:
                self._stamps.popleft()
            if len(self._stamps) >= self.max_calls:
                return max(self._stamps[0] + self.window - now, 1e-4)
            self._stamps.append(now)
        self.calls += 1
        return 0.0

    def acquire(self, timeout=None):
        """Block until a call may start; return the seconds spent waiting for the window.

        With ``timeout`` (seconds), raise :class:`TimeoutError` instead of waiting longer.
        """
        start = self._clock()
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._take_concurrency_slot(deadline):
            raise TimeoutError("rate limiter: no free concurrency slot")
        try:
            _wait_for_slot(self._locked_window_delay, self, start, timeout, "window full")
        except BaseException:
            self.release()
            raise
        waited = self._clock() - start
        with self._lock:
            self.waited += waited
        return waited

    def _locked_window_delay(self):
        with self._lock:
            return self._window_delay()

    def release(self):
        """Mark a call started with :meth:`acquire` as finished."""
        with self._slots:
            if self.in_flight > 0:
                self.in_flight -= 1
            self._slots.notify()

    def pause(self, seconds):
        """Hold back every new call for ``seconds`` (e.g. after a 429 with Retry-After)."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            if self._paused_until is None or until > self._paused_until:
                self._paused_until = until

    def __repr__(self):
        return (
            f"RateLimiter(max_calls={self.max_calls}, window={self.window:g}, "
            f"max_concurrent={self.max_concurrent})"
        )


class SharedRateLimiter(_LimiterContext):
    """A :class:`RateLimiter` whose window counter lives outside the process.

    ``reserve()`` takes one call of the current window wherever the count is
    kept (a PostgreSQL row shared by every worker, see
    ``rebilling.rate.window``) and returns 0 when the call may go, else the
    seconds to wait before trying again. ``local`` (a :class:`RateLimiter`
    without window limit, or ``None``) keeps the concurrent calls of this
    process and the pauses asked by ``Retry-After``.
    """

    def __init__(
        self,
        reserve,
        local=None,
        *,
        max_calls=None,
        window=None,
        sleep=time.sleep,
        clock=time.monotonic,
    ):
        self._reserve = reserve
        self.local = local
        self.max_calls = max_calls
        self.window = window
        self.max_concurrent = local.max_concurrent if local is not None else None
        self._sleep = sleep
        self._clock = clock
        self.calls = 0
        self.waited = 0.0

    def acquire(self, timeout=None):
        start = self._clock()
        if self.local is not None:
            self.local.acquire(timeout=timeout)
        try:
            _wait_for_slot(self._reserve, self, start, timeout, "shared window full")
        except BaseException:
            if self.local is not None:
                self.local.release()
            raise
        waited = self._clock() - start
        self.calls += 1
        self.waited += waited
        return waited

    def release(self):
        if self.local is not None:
            self.local.release()

    def pause(self, seconds):
        if self.local is not None:
            self.local.pause(seconds)
