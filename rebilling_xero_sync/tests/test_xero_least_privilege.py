"""Least privilege, round 2: integration actions check the group before talking to Xero."""

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.exceptions import AccessError
from odoo.models import BaseModel
from odoo.tests import new_test_user, tagged

from .common import XeroCase

# Backend actions a Rebilling User may call: views, and pushing again (README "Who can do what").
USER_ACTIONS = {
    "action_view_bindings",
    "action_view_errors",
    "action_view_logs",
    "action_psa_view_records",
    "action_retry_failed",
}


@tagged("post_install", "-at_install")
class TestXeroActionsRefused(XeroCase):
    def setUp(self):
        super().setUp()
        self.clerk = new_test_user(
            self.env,
            login="xero-clerk",
            groups="rebilling_base.group_rebilling_user",
            company_id=self.company.id,
        )

    def test_user_disconnect_sends_nothing_to_xero(self):
        with trap_jobs():
            self.connect()
        before = len(self.xero.requests)
        with self.assertRaises(AccessError):
            self.backend.with_user(self.clerk).action_disconnect()
        self.assertEqual(self.xero.requests[before:], [], "no DELETE, no token revocation")
        self.assertEqual(self.backend.state, "connected")
        self.assertTrue(self.backend._xero_token().refresh_token)

    def test_user_cannot_start_oauth(self):
        self.backend.action_xero_authenticate()
        pending = self.backend.sudo().xero_oauth_state
        self.assertTrue(pending)
        with self.assertRaises(AccessError):
            self.backend.with_user(self.clerk).action_xero_authenticate()
        self.assertEqual(self.backend.sudo().xero_oauth_state, pending, "the admin's flow stands")

    def test_every_integration_action_refused_to_users_before_any_request(self):
        """Walk the public actions of the integrations: all but views and pushing again are
        refused to a Rebilling User, and nothing reaches Xero."""
        with trap_jobs():
            self.connect()
        Backend = type(self.env["rebilling.backend"])
        actions = sorted(
            name
            for klass in Backend.__mro__
            if klass.__module__.startswith("odoo.addons.rebilling_")
            for name, value in vars(klass).items()
            if not name.startswith("_") and callable(value) and not hasattr(BaseModel, name)
        )
        self.assertIn("action_xero_authenticate", actions)
        self.assertIn("action_psa_pull", actions)
        backend = self.backend.with_user(self.clerk)
        before = len(self.xero.requests)
        refused = []
        for name in actions:
            if name in USER_ACTIONS:
                continue
            with self.subTest(action=name), self.assertRaises(AccessError):
                getattr(backend, name)()
            refused.append(name)
        self.assertEqual(self.xero.requests[before:], [], "nothing reached Xero")
        self.assertGreaterEqual(len(refused), 10, refused)
        self.assertEqual(self.backend.state, "connected")
