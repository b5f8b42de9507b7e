"""A fake ConnectWise PSA REST API for tests and benchmarks (not loaded by the addon)."""

from .fake_connectwise import FakeConnectWise

__all__ = ["FakeConnectWise"]
