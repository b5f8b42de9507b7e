from datetime import date

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import RebillingCase


@tagged("post_install", "-at_install")
class TestCustomers(RebillingCase):
    def test_customer_form(self):
        form = Form(self.env["res.partner"].with_context(default_rebilling_enabled=True))
        form.name = "Manly Marine"
        form.rebilling_invoice_email = "ap@manly.example.com"
        form.rebilling_class_id = self.env["rebilling.customer.class"].create({"name": "SMB"})
        partner = form.save()
        self.assertTrue(partner.rebilling_enabled)
        self.assertEqual(partner._rebilling_email(), "ap@manly.example.com")
        with self.assertRaisesRegex(ValidationError, "not a valid email"):
            partner.rebilling_invoice_email = "not-an-email"

    def test_service_form_defaults_from_product(self):
        form = Form(self.env["rebilling.service"])
        form.partner_id = self.customer_b
        form.product_id = self.product_nbn
        self.assertEqual(form.price_unit, 99.0)
        self.assertEqual(form.service_type, "wholesale")
        self.assertEqual(form.name, "Business NBN 100/40")
        form.identifiers = "+61290001111\nTRUNK-7, +61290001112"
        form.price_unit = 89.0
        service = form.save()
        self.assertEqual(service._identifier_list(), ["+61290001111", "TRUNK-7", "+61290001112"])
        self.assertEqual(self.customer_b.rebilling_service_count, 2)
        with self.assertRaisesRegex(ValidationError, "before its start date"):
            with Form(service) as edit:
                edit.date_end = date(2025, 12, 31)

    def test_service_type_from_product_on_create(self):
        self.assertEqual(self.service_a.service_type, "wholesale")
        self.assertEqual(self.service_b.service_type, "voip_bundle")
        other = self.env["rebilling.service"].create(
            {"partner_id": self.customer_a.id, "product_id": self.product_fee.id}
        )
        self.assertEqual(other.service_type, "other")

    def test_charges_tied_to_a_service(self):
        form = Form(self.env["rebilling.charge"])
        form.service_id = self.service_a
        self.assertEqual(form.partner_id, self.customer_a, "the service gives the customer")
        form.name = "Static IP"
        form.product_id = self.product_fee
        form.charge_type = "once"
        charge = form.save()
        self.assertEqual(charge.price_unit, 150.0)
        self.assertFalse(charge.invoiced)
        self.assertIn(charge, self.service_a.charge_ids)

    def test_settings_write_the_company(self):
        settings = Form(self.env["res.config.settings"])
        settings.rebilling_auto_invoice = True
        settings.rebilling_payment_term_days = 21
        settings.save().execute()
        self.assertTrue(self.company.rebilling_auto_invoice)
        self.assertEqual(self.company.rebilling_payment_term_days, 21)
        action = self.env["res.config.settings"].create({}).action_rebilling_configuration()
        self.assertEqual(action["res_id"], self.company.id)

    def test_partner_buttons(self):
        self.run_billing(date(2026, 11, 1))
        action = self.customer_a.action_rebilling_invoices()
        self.assertEqual(len(self.env["account.move"].search(action["domain"])), 1)
        action = self.customer_a.action_rebilling_services()
        self.assertEqual(self.env["rebilling.service"].search(action["domain"]), self.service_a)
