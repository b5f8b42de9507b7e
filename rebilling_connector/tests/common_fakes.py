"""Tests whose connectors talk to fake servers over real HTTP on 127.0.0.1."""

import re
from contextlib import contextmanager
from urllib.parse import urlsplit

from odoo.addons.rebilling_base.tests.common import RebillingCase
from odoo.tests import common as test_common
from odoo.tools import config


class WorkerKilled(BaseException):
    """The job worker died (``kill -9``, OOM, time limit): nothing of it runs any more."""


class FakeServersCase(RebillingCase):
    """Requests to the fake servers keep their own timeouts; a worker can be made to die.

    The registry is in test mode: the connectors' own committed transactions
    (binding intents, shared rate-limit windows) are savepoints of the test's.
    """

    # (method, path regex): the worker dies once the fake answered such a request.
    _die_after = None

    def setUp(self):
        super().setUp()
        if not type(self)._registry_patched:  # HttpCase subclasses are in test mode already
            self.registry_enter_test_mode()

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo's test harness raises short timeouts to 10 s (and cannot read a
        # (connect, read) tuple): requests to the fake servers keep theirs.
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
