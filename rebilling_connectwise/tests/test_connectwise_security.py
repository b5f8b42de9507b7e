from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user

from .common import ConnectwiseCase


class TestConnectwiseSecurity(ConnectwiseCase):
    def test_site_url_changed_by_system_admins_only(self):
        """The private key goes to the site URL: only system administrators choose it."""
        backend = self.connect()
        manager = new_test_user(
            self.env, login="cw_manager", groups="rebilling_base.group_rebilling_manager"
        )
        for name in ("connectwise_site_url", "api_url"):
            with self.assertRaises(AccessError):
                backend.with_user(manager).write({name: "https://attacker.example"})
        # The manager reconnects: the API URL follows the site's codebase.
        self.assertEqual(
            backend.with_user(manager).action_connectwise_connect()["params"]["type"], "success"
        )
        admin = new_test_user(
            self.env,
            login="cw_system",
            groups="base.group_system,rebilling_base.group_rebilling_manager",
        )
        backend.with_user(admin).connectwise_site_url = "https://api-eu.myconnectwise.net"
        self.assertEqual(backend.connectwise_site_url, "https://api-eu.myconnectwise.net")
        # Plain http only on the local host, even for an administrator.
        with self.assertRaises(ValidationError):
            backend.with_user(admin).connectwise_site_url = "http://api-eu.myconnectwise.net"
