"""Shared fixtures of the PSA connector tests (Autotask, ConnectWise).

A rebilling company whose backend talks to a fake PSA over real HTTP
(127.0.0.1); the fakes live next to each connector (``<addon>/fakes``).
"""

import re
from contextlib import contextmanager
from datetime import date
from urllib.parse import urlsplit

from odoo.tests import Form
from odoo.tests import common as test_common
from odoo.tools import config

from .common import RebillingCase

NOV = date(2026, 11, 1)
# Fast retries and short waits against the fakes.
FAST_SETTINGS = {
    "connect_timeout": 2.0,
    "read_timeout": 0.5,
    "retry_backoff": 0.01,
    "max_retry_after": 1.0,
    "time_factor": 0.001,
}


class WorkerKilled(BaseException):
    """The job worker died (``kill -9``, OOM, time limit): nothing of it runs any more."""


class PsaCase(RebillingCase):
    """Subclasses set ``backend_type``; ``self.backend`` is the backend under test.

    The registry is in test mode: the connectors' own committed transactions
    (binding intents, shared rate-limit windows) are savepoints of the test's.
    """

    backend_type = None
    # (method, path regex): the worker dies once the fake answered such a request.
    _die_after = None

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Requests to the fake servers keep their own (connect, read) timeouts.
        url = urlsplit(r.url)
        if url.hostname == "127.0.0.1" and url.port != config["http_port"]:
            response = test_common._super_send(s, r, **kw)
            die = cls._die_after
            if die and r.method == die[0] and re.search(die[1], url.path, re.IGNORECASE):
                cls._die_after = None
                raise WorkerKilled(f"worker killed after {r.method} {url.path}")
            return response
        return super()._request_handler(s, r, **kw)

    @contextmanager
    def worker_dies_after(self, method, path):
        """The next ``method`` on ``path`` reaches the fake, which acts on it; then the
        worker dies before it reads the answer (nothing after that runs)."""
        type(self)._die_after = (method, path)
        # Not assertRaises: Odoo's rolls back a savepoint, which would also drop what the
        # connector committed in its own (test-mode) transactions.
        died = False
        try:
            yield
        except WorkerKilled:
            died = True
        finally:
            type(self)._die_after = None
        self.assertTrue(died, f"the worker was expected to die after {method} {path}")

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
