from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.tests import tagged

from .common import XeroCase


@tagged("post_install", "-at_install")
class TestXeroContacts(XeroCase):
    def test_match_by_binding_then_name_then_email_else_create(self):
        # customer_a: name differs only in case and spaces; customer_b: email only.
        self.xero.add_contact(" HARBOUR DENTAL ", EmailAddress="other@example.com")
        by_email = self.xero.add_contact("Bondi Surf Club", EmailAddress="HELLO@bondi.example.com")
        bound = self.xero.add_contact("Renamed In Xero")
        third = self.env["res.partner"].create(
            {"name": "Manly Bakery", "is_company": True, "rebilling_enabled": True}
        )
        linked = self.env["res.partner"].create(
            {"name": "Linked Pty", "is_company": True, "rebilling_enabled": True}
        )
        with trap_jobs():
            self.connect()
        self.env["rebilling.binding"]._rebilling_bind(self.backend, linked, bound["ContactID"])
        self.backend.action_xero_sync_contacts()
        contact = {c["Name"]: c for c in self.xero.contacts()}
        self.assertEqual(
            self.customer_a.rebilling_xero_contact_id, contact[" HARBOUR DENTAL "]["ContactID"]
        )
        self.assertEqual(self.customer_b.rebilling_xero_contact_id, by_email["ContactID"])
        self.assertEqual(linked.rebilling_xero_contact_id, bound["ContactID"])
        self.assertIn("Manly Bakery", contact, "a customer missing in Xero is created there")
        self.assertEqual(third.rebilling_xero_contact_id, contact["Manly Bakery"]["ContactID"])
        self.assertNotIn("Disabled Pty", contact)
        # Creation is one batch with summarizeErrors=false and an Idempotency-Key.
        puts = self.api_requests("PUT", "Contacts")
        self.assertEqual(len(puts), 1)
        self.assertEqual(puts[0].arg("summarizeErrors"), "false")
        self.assertTrue(puts[0].headers.get("Idempotency-Key"))
        logs = self.env["rebilling.sync.log"].search([("backend_id", "=", self.backend.id)])
        self.assertTrue(logs.filtered(lambda log: log.res_id == third.id and log.state == "done"))
        # A second synchronisation changes nothing.
        self.backend.action_xero_sync_contacts()
        self.assertEqual(len(self.api_requests("PUT", "Contacts")), 1)
        self.assertEqual(len(self.xero.contacts()), 4)

    def test_contact_refused_by_xero_is_logged_and_others_go_on(self):
        with trap_jobs():
            self.connect()
        bad = self.env["res.partner"].create(
            {
                "name": "Bad Email Pty",
                "is_company": True,
                "rebilling_enabled": True,
                "email": "not-an-email",
            }
        )
        self.backend.action_xero_sync_contacts()
        self.assertFalse(bad.rebilling_xero_contact_id)
        self.assertTrue(self.customer_a.rebilling_xero_contact_id)
        log = self.env["rebilling.sync.log"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", bad.id)]
        )
        self.assertEqual(log.state, "error")
        self.assertIn("Email address must be valid", log.message)
