"""Shared fixtures of the PSA connector tests (Autotask, ConnectWise).

A rebilling company whose backend talks to a fake PSA over real HTTP
(127.0.0.1); the fakes live next to each connector (``<addon>/fakes``).
"""

from datetime import date

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, new_test_user

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

    def check_endpoints_admin_only(self, backend, names, connect, admin_value):
        """Only system administrators move the endpoints ``names`` (https only); a
        rebilling manager is refused and still connects with ``connect(backend)``."""
        manager = new_test_user(
            self.env,
            login=f"{self.backend_type}_endpoint_manager",
            groups="rebilling_base.group_rebilling_manager",
        )
        for name in (*names, "api_url"):
            with self.assertRaises(AccessError, msg=name):
                backend.with_user(manager).write({name: "https://attacker.example/x"})
        action = connect(backend.with_user(manager))
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        admin = new_test_user(
            self.env,
            login=f"{self.backend_type}_endpoint_admin",
            groups="base.group_system,rebilling_base.group_rebilling_manager",
        )
        backend.with_user(admin).write({names[0]: admin_value})
        self.assertEqual(backend[names[0]], admin_value)
        # Plain http only on the local host, even for an administrator.
        with self.assertRaises(ValidationError):
            backend.with_user(admin).write({names[0]: admin_value.replace("https:", "http:")})

    def record(self, kind, external_id):
        """The pulled record ``kind`` with this external id of ``self.backend``."""
        return self.env["rebilling.external.record"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("kind", "=", kind),
                ("external_id", "=", external_id),
            ]
        )
