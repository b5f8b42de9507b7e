"""Helpers of the tests of the HTTP client core against the fake servers."""

import time

TIMEOUT = (2, 5)


class RecordingSleep:
    """A sleep that records the delays asked for and really sleeps (capped)."""

    def __init__(self, cap=0.5):
        self.delays = []
        self.cap = cap

    def __call__(self, seconds):
        self.delays.append(round(seconds, 3))
        time.sleep(min(seconds, self.cap))


def max_in_window(times, window):
    """The largest number of ``times`` inside any half-open interval of ``window`` seconds."""
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        count = sum(1 for t in times[i:] if t < start + window)
        best = max(best, count)
    return best
