from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import XeroCase


@tagged("post_install", "-at_install")
class TestXeroTokens(XeroCase):
    def expire_locally(self):
        self.backend._xero_token().expires_at = fields.Datetime.now() - timedelta(minutes=1)
        self.env.cr.cache.pop(("rebilling_xero_token", self.backend.id), None)

    def refresh_requests(self):
        return [
            r
            for r in self.xero.requests_matching("POST", "/identity/connect/token")
            if b"grant_type=refresh_token" in r.body
        ]

    def test_refresh_before_expiry_rotates_the_refresh_token(self):
        self.connect()
        secret = self.backend._xero_token()
        old_refresh, old_access = secret.refresh_token, secret.access_token
        self.expire_locally()
        self.backend.action_xero_pull_accounts()
        self.assertEqual(len(self.refresh_requests()), 1)
        self.assertNotEqual(secret.refresh_token, old_refresh)
        self.assertNotEqual(secret.access_token, old_access)
        self.assertEqual(self.xero.refresh_token_state(old_refresh), "used")
        self.assertEqual(self.xero.refresh_token_state(secret.refresh_token), "active")
        self.assertGreater(secret.expires_at, fields.Datetime.now() + timedelta(minutes=20))
        # The new token serves the next calls: no second refresh.
        self.backend.action_xero_pull_accounts()
        self.assertEqual(len(self.refresh_requests()), 1)

    def test_token_refused_by_xero_is_refreshed_once(self):
        self.connect()
        self.xero.expire_access_tokens()
        self.backend.action_xero_pull_accounts()
        self.assertEqual(len(self.refresh_requests()), 1)
        self.assertEqual(self.backend.state, "connected")

    def test_revoked_refresh_token_asks_to_authenticate_again(self):
        self.connect()
        self.xero.revoke_refresh_tokens()
        self.expire_locally()
        ok, message, retryable = self.backend._rebilling_pull_run("accounts")
        self.assertFalse(ok or retryable)
        self.assertIn("authenticate again", message)
        self.assertEqual(self.backend.state, "error")
        self.assertIn("authenticate again", self.backend.state_message)
        self.assertFalse(self.backend._xero_token().refresh_token)
        with self.assertRaises(UserError):
            self.backend.action_xero_pull_accounts()

    def test_disconnect_and_reconnect_keep_the_bindings(self):
        self.connect()
        move = self.make_invoices(self.customer_a)
        move.action_rebilling_xero_upload()
        binding = move._rebilling_binding(self.backend)
        self.assertTrue(binding.external_id)
        self.backend.action_disconnect()
        self.assertEqual(self.backend.state, "draft")
        self.assertFalse(self.backend._xero_token())
        self.assertEqual(self.xero.request_count("DELETE", "/connections/"), 1)
        self.assertTrue(binding.exists())
        self.connect()
        self.assertEqual(move._rebilling_binding(self.backend), binding)
        self.assertEqual(move.rebilling_xero_state, "done")
        self.assertEqual(len(self.xero.invoices()), 1)
