"""Shared fixtures of the PSA connector tests (Autotask, ConnectWise).

A rebilling company whose backend talks to a fake PSA over real HTTP
(127.0.0.1); the fakes live next to each connector (``<addon>/fakes``).
"""

from datetime import date

from odoo.tests import Form

from .common_fakes import FakeServersCase, WorkerKilled

__all__ = ["FAST_SETTINGS", "NOV", "PsaCase", "WorkerKilled"]

NOV = date(2026, 11, 1)
# Fast retries and short waits against the fakes.
FAST_SETTINGS = {
    "connect_timeout": 2.0,
    "read_timeout": 0.5,
    "retry_backoff": 0.01,
    "max_retry_after": 1.0,
    "time_factor": 0.001,
}


class PsaCase(FakeServersCase):
    """Subclasses set ``backend_type``; ``self.backend`` is the backend under test."""

    backend_type = None

    def configure_backend(self, values):
        """Fill the integration form like a user, save it, and make it fast."""
        with Form(self.env["rebilling.backend"]) as form:
            form.backend_type = self.backend_type
            for name, value in values.items():
                setattr(form, name, value)
        backend = form.record
        backend.write(FAST_SETTINGS)
        return backend

    def record(self, kind, external_id):
        """The pulled record ``kind`` with this external id of ``self.backend``."""
        return self.env["rebilling.external.record"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("kind", "=", kind),
                ("external_id", "=", external_id),
            ]
        )
