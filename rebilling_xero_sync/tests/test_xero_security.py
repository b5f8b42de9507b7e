import logging

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, new_test_user, tagged

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

    def test_endpoints_changed_by_system_admins_only(self):
        """The client secret and tokens go to these URLs: a manager cannot move them."""
        manager = new_test_user(
            self.env,
            login="xero-endpoint-manager",
            groups="rebilling_base.group_rebilling_manager",
            company_id=self.company.id,
        )
        backend = self.backend.with_user(manager)
        endpoints = self.env["rebilling.backend"]._rebilling_endpoint_fields()
        self.assertLessEqual(
            {"api_url", "xero_token_url", "xero_authorize_url", "xero_connections_url"},
            endpoints,
        )
        for name in endpoints:
            with self.assertRaises(AccessError):
                backend.write({name: "https://attacker.example/x"})
        # The form shows them read-only.
        form = Form(backend)
        with self.assertRaises(AssertionError):
            form.xero_token_url = "https://attacker.example/token"
        # Nor through a new backend; the defaults are fine.
        self.backend.active = False
        Backend = self.env["rebilling.backend"].with_user(manager)
        with self.assertRaises(AccessError):
            Backend.create({"backend_type": "xero", "xero_token_url": "https://attacker.example"})
        self.assertTrue(Backend.create({"backend_type": "xero", "name": "Xero"}).api_url)
        admin = new_test_user(
            self.env,
            login="xero-endpoint-admin",
            groups="base.group_system,rebilling_base.group_rebilling_manager",
            company_id=self.company.id,
        )
        with Form(self.backend.with_user(admin)) as form:
            form.xero_token_url = "https://identity.example/token"
        self.assertEqual(self.backend.xero_token_url, "https://identity.example/token")
        with self.assertRaises(ValidationError):
            self.backend.with_user(admin).xero_token_url = "http://identity.example/token"

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
