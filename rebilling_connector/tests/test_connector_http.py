"""The client-side rate limiter of the HTTP client core (the client against the fake
servers is tested next to each fake: ``rebilling_connectwise/tests/test_fake_connectwise.py``
and the Xero and Autotask ones).

Plain ``unittest`` tests: no database, no Odoo registry. They run in the test command
(pytest-odoo imports them as ``odoo.addons.rebilling_connector.tests...``); plain pytest would
import the addon's ``__init__`` outside ``odoo.addons``, which Odoo refuses.
"""

import threading
import time
import unittest

from ..connector.http import RateLimiter
from .common_http import max_in_window


class FakeClock:
    """A monotonic clock whose sleep only moves the time forward."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


# ---------------------------------------------------------------------------- rate limiter
class TestRateLimiter(unittest.TestCase):
    def test_sliding_window_with_injected_clock(self):
        clock = FakeClock()
        limiter = RateLimiter(3, 1.0, clock=clock, sleep=clock.sleep)
        starts = []
        for _ in range(7):
            with limiter:
                starts.append(clock())
        self.assertEqual(max_in_window(starts, 1.0), 3)
        self.assertAlmostEqual(starts[-1] - starts[0], 2.0, places=3)
        self.assertEqual(limiter.calls, 7)
        self.assertEqual(limiter.in_flight, 0)

    def test_time_factor_scales_the_window(self):
        clock = FakeClock()
        limiter = RateLimiter(60, 60, time_factor=0.01, clock=clock, sleep=clock.sleep)
        self.assertAlmostEqual(limiter.window, 0.6)
        for _ in range(120):
            limiter.acquire()
            limiter.release()
        self.assertAlmostEqual(clock() - 1000.0, 0.6, places=3)

    def test_pause_holds_back_new_calls(self):
        clock = FakeClock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        limiter.pause(2.5)
        waited = limiter.acquire()
        limiter.release()
        self.assertAlmostEqual(waited, 2.5)

    def test_concurrency_limit_across_threads(self):
        limiter = RateLimiter(max_concurrent=2)
        lock = threading.Lock()
        state = {"now": 0, "max": 0}

        def work():
            with limiter:
                with lock:
                    state["now"] += 1
                    state["max"] = max(state["max"], state["now"])
                time.sleep(0.03)
                with lock:
                    state["now"] -= 1

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(state["max"], 2)
        self.assertEqual(limiter.in_flight, 0)

    def test_acquire_timeout(self):
        limiter = RateLimiter(max_concurrent=1)
        limiter.acquire()
        with self.assertRaises(TimeoutError):
            limiter.acquire(timeout=0.05)
        limiter.release()


# ---------------------------------------------------------------------------- client core
