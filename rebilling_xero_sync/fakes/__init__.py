"""A fake Xero (identity + accounting API) for tests and benchmarks (not loaded by the addon)."""

from .fake_xero import FakeXero, pkce_pair

__all__ = ["FakeXero", "pkce_pair"]
