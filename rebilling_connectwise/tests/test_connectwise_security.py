from .common import ConnectwiseCase


class TestConnectwiseSecurity(ConnectwiseCase):
    def test_site_url_changed_by_system_admins_only(self):
        """The private key goes to the site URL: only system administrators choose it."""
        self.check_endpoints_admin_only(
            self.connect(),
            ["connectwise_site_url"],
            lambda backend: backend.action_connectwise_connect(),
            "https://api-eu.myconnectwise.net",
        )
