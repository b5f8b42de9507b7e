import logging

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import XeroCase

SECRETS = (
    "client_secret",
    "access_token",
    "refresh_token",
    "xero_oauth_state",
    "xero_code_verifier",
)


@tagged("post_install", "-at_install")
class TestXeroSecurity(XeroCase):
    def test_only_system_admins_read_credentials(self):
        manager = new_test_user(
            self.env,
            login="rebilling-manager",
            groups="rebilling_base.group_rebilling_manager",
            company_id=self.company.id,
        )
        backend = self.backend.with_user(manager)
        self.assertEqual(backend.name, "Xero")
        for name in SECRETS:
            with self.assertRaises(AccessError):
                backend.read([name])
        self.assertFalse(set(SECRETS) & set(backend.fields_get()))
        with self.assertRaises(AccessError):
            self.env["rebilling.xero.token"].with_user(manager).search([])
        # The manager still connects and pushes: the code reads the secrets itself.
        self.connect(backend)
        move = self.make_invoices(self.customer_a)
        move.with_user(manager).action_rebilling_xero_upload()
        self.assertEqual(move.rebilling_xero_state, "done")

    def test_credentials_never_logged(self):
        with self.assertLogs("odoo.addons", level=logging.DEBUG) as logs:
            logging.getLogger("odoo.addons").debug("start")
            self.connect()
            self.xero.expire_access_tokens()
            self.xero.fail_next(1, 503, path="/Invoices$")
            move = self.make_invoices(self.customer_a)
            move.action_rebilling_xero_upload()
        secret = self.backend._xero_token()
        values = [self.xero.client_secret, secret.access_token, secret.refresh_token]
        text = "\n".join(logs.output)
        text += "\n".join(filter(None, self.env["rebilling.sync.log"].search([]).mapped("message")))
        for value in values:
            self.assertTrue(value)
            self.assertNotIn(value, text)
