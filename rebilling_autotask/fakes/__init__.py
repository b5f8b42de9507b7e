"""A fake Autotask REST API for tests and benchmarks (not loaded by the addon)."""

from .fake_autotask import FakeAutotask

__all__ = ["FakeAutotask"]
