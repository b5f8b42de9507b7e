"""Fake servers for tests, benchmarks and the demo: threaded HTTP (or SMTP, DNS) servers
on 127.0.0.1 that enforce the documented rules of the system they stand in for.

This package is not loaded by the addon (nothing imports it at install): tests,
``bench/`` and ``setup/`` import it. The generic base (:mod:`.base`: routes, fault
switches, rate windows, request log) and the SMTP and DNS fakes live here; each
connector keeps the fake of its own system next to it
(``odoo.addons.rebilling_xero_sync.fakes``, ``rebilling_autotask.fakes``,
``rebilling_connectwise.fakes``).
"""

from .base import FakeRequest, FakeResponse, FakeServer, HttpError, RecordedRequest

__all__ = ["FakeRequest", "FakeResponse", "FakeServer", "HttpError", "RecordedRequest"]
