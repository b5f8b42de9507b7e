from odoo.exceptions import UserError

from .common import AutotaskCase


class TestAutotaskConfig(AutotaskCase):
    def test_connect_discovers_the_zone(self):
        backend = self.configure()
        self.assertEqual(backend.name, "Autotask", "type defaults applied by the form")
        self.assertEqual(backend.rate_limit_concurrent, 3)
        action = backend.action_autotask_connect()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Fake Zone", action["params"]["message"])
        self.assertIn("integrated", action["params"]["message"])
        self.assertEqual(backend.state, "connected")
        self.assertEqual(backend.autotask_zone_name, "Fake Zone")
        self.assertEqual(backend.api_url.lower(), self.autotask.api_url.lower())
        zone_call = self.autotask.requests_matching("GET", "zoneInformation")[0]
        self.assertEqual(zone_call.arg("user"), self.autotask.username)
        self.assertNotIn("Secret", zone_call.headers, "the zone lookup is anonymous")
        threshold = self.autotask.requests_matching("GET", "ThresholdInformation")[0]
        self.assertEqual(threshold.headers["ApiIntegrationCode"], self.autotask.integration_code)
        self.assertEqual(threshold.headers["Secret"], self.autotask.secret)
        action = backend.action_test_connection()
        self.assertIn("Fake Zone", action["params"]["message"])

    def test_bad_username(self):
        backend = self.configure(username="nobody@example.com")
        action = backend.action_autotask_connect()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Zone information could not be determined", action["params"]["message"])
        self.assertEqual(backend.state, "error")
        self.assertIn("Zone information could not be determined", backend.state_message)
        with self.assertRaisesRegex(UserError, "Zone information could not be determined"):
            backend.action_test_connection()

    def test_bad_integration_code(self):
        backend = self.configure(autotask_integration_code="WRONG")
        action = backend.action_autotask_connect()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("IntegrationCode is invalid.", action["params"]["message"])
        self.assertEqual(backend.state, "error")

    def test_bad_secret(self):
        backend = self.configure(autotask_secret="wrong")
        action = backend.action_autotask_connect()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Unauthorized", action["params"]["message"])
        self.assertNotIn("wrong", action["params"]["message"], "no secret in messages")

    def test_missing_settings(self):
        backend = self.configure(autotask_secret=False)
        action = backend.action_autotask_connect()
        self.assertIn("Secret", action["params"]["message"])
        self.assertFalse(self.autotask.requests, "nothing sent without credentials")
