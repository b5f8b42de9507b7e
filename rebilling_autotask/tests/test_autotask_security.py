from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from .common import NOV, AutotaskCase


class TestAutotaskSecurity(AutotaskCase):
    def test_credentials_hidden_from_non_admins(self):
        backend = self.connect()
        for group in (
            "rebilling_base.group_rebilling_user",
            "rebilling_base.group_rebilling_manager",
        ):
            user = new_test_user(self.env, login=f"at_{group[-7:]}", groups=group)
            as_user = backend.with_user(user)
            self.assertEqual(as_user.username, self.autotask.username)
            for name in ("autotask_secret", "autotask_integration_code"):
                with self.assertRaises(AccessError):
                    as_user.read([name])
        # The push still works for a rebilling user (credentials read with sudo).
        self.seed()
        self.link_services()
        user = new_test_user(
            self.env,
            login="at_pusher",
            groups="rebilling_base.group_rebilling_user,account.group_account_invoice",
        )
        run = self.run_billing(NOV)
        invoice = self.invoices_of(self.customer_a, NOV)
        self.assertTrue(run)
        invoice.with_user(user).action_rebilling_autotask_push()

    def test_zone_url_changed_by_system_admins_only(self):
        """A rebilling manager cannot send the Autotask secret to another host."""
        self.check_endpoints_admin_only(
            self.connect(),
            ["autotask_zone_url"],
            lambda backend: backend.action_autotask_connect(),
            "https://zone.example/zoneInformation",
        )
