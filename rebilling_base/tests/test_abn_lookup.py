"""ABR ABN Lookup (SOAP, zeep) against the fake ABR server on 127.0.0.1."""

from datetime import date

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from ..fakes.fake_abr import FakeABR
from .common import RebillingCase

COMPANY_ABN = "51824753556"
CUSTOMER_ABN = "53004085616"
CANCELLED_ABN = "83914571673"
SOLE_TRADER_ABN = "33102417032"
LAPSED_GST_ABN = "12004044937"


@tagged("post_install", "-at_install")
class TestAbnLookup(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer_a.vat = CUSTOMER_ABN
        cls.customer_b.vat = CANCELLED_ABN
        cls.register = {
            COMPANY_ABN: {"name": "SOUTHERN CROSS COMMUNICATIONS PTY LTD", "gst": True},
            CUSTOMER_ABN: {"name": "HARBOUR DENTAL PTY LTD", "gst": False},
            CANCELLED_ABN: {"name": "BONDI SURF", "status": "Cancelled", "gst": True},
        }

    def serve(self, abr):
        self.env["ir.config_parameter"].set_param("rebilling.abr_wsdl_url", abr.wsdl_url)

    def test_check_buttons_on_configuration_and_customer(self):
        self.company.l10n_au_is_gst_registered = False
        with FakeABR(self.register, guid="guid-1") as abr:
            self.serve(abr)
            with self.assertRaisesRegex(UserError, "GUID"):
                self.company.action_rebilling_check_abn()
            with Form(self.company, view="rebilling_base.res_company_rebilling_form") as form:
                form.rebilling_abr_guid = "wrong-guid"
            with self.assertRaisesRegex(UserError, "not recognised as a Registered Party"):
                self.company.action_rebilling_check_abn()
            with Form(self.company, view="rebilling_base.res_company_rebilling_form") as form:
                form.rebilling_abr_guid = "guid-1"
            result = self.company.action_rebilling_check_abn()
            self.assertEqual(result["params"]["type"], "success")
            self.assertEqual(self.company.rebilling_abn_status, "active")
            self.assertTrue(self.company.rebilling_abn_gst)
            self.assertTrue(self.company.l10n_au_is_gst_registered, "prints Tax Invoice now")
            result = self.customer_a.action_rebilling_check_abn()
            self.assertEqual(self.customer_a.rebilling_abn_status, "active")
            self.assertFalse(self.customer_a.rebilling_abn_gst)
            self.assertIn("not registered for GST", result["params"]["message"])
            self.assertEqual(abr.searches[-1], CUSTOMER_ABN)

    def test_nightly_check_of_company_and_customers(self):
        self.company.rebilling_abr_guid = "guid-1"
        unknown = self.env["res.partner"].create(
            {"name": "Ghost Pty", "vat": "11111111111", "rebilling_enabled": True}
        )
        with FakeABR(self.register, guid="guid-1") as abr:
            self.serve(abr)
            cron = self.env.ref("rebilling_base.ir_cron_rebilling_check_abns")
            self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
            self.assertEqual(cron.code, "model._cron_rebilling_check_abns()")
            self.env["res.company"]._cron_rebilling_check_abns()
            self.assertEqual(
                sorted(abr.searches),
                sorted([COMPANY_ABN, CUSTOMER_ABN, CANCELLED_ABN, "11111111111"]),
            )
        self.assertEqual(self.customer_b.rebilling_abn_status, "cancelled")
        self.assertFalse(self.customer_b.rebilling_abn_gst, "a cancelled ABN is not registered")
        self.assertEqual(unknown.rebilling_abn_status, "not_found")
        self.assertTrue(self.customer_a.rebilling_abn_checked)
        self.assertEqual(self.company.rebilling_abn_status, "active")

    def test_unreachable_service_is_reported(self):
        self.company.rebilling_abr_guid = "guid-1"
        with FakeABR(self.register) as abr:
            url = abr.wsdl_url
        self.env["ir.config_parameter"].set_param("rebilling.abr_wsdl_url", url)
        with self.assertRaisesRegex(UserError, "not reachable"):
            self.company.action_rebilling_check_abn()
        # The nightly check logs it and goes on.
        self.env["res.company"]._cron_rebilling_check_abns()

    # ------------------------------------------------------------ the real answer's layout
    @freeze_time("2026-11-20 03:00:00")
    def test_company_sole_trader_cancelled_and_not_gst_registered(self):
        """The names come in the WSDL's choice (mainName / legalName), read as such."""
        self.company.rebilling_abr_guid = "guid-1"
        sole_trader = self.env["res.partner"].create(
            {"name": "Jane's Surf School", "vat": SOLE_TRADER_ABN, "rebilling_enabled": True}
        )
        lapsed = self.env["res.partner"].create(
            {"name": "Old Mate", "vat": LAPSED_GST_ABN, "rebilling_enabled": True}
        )
        register = dict(
            self.register,
            **{
                SOLE_TRADER_ABN: {
                    "given_name": "Jane",
                    "other_given_name": "Mary",
                    "family_name": "CITIZEN",
                    "trading_name": "Jane's Surf School",
                    "gst": ("2012-03-01", "0001-01-01"),
                },
                LAPSED_GST_ABN: {"name": "OLD MATE PTY LTD", "gst": ("2010-07-01", "2020-06-30")},
            },
        )
        with FakeABR(register, guid="guid-1") as abr:
            self.serve(abr)
            result = self.company.action_rebilling_check_abn()
            self.assertEqual(result["params"]["type"], "success")
            result = sole_trader.action_rebilling_check_abn()
            self.assertEqual(result["params"]["type"], "success")
            self.env["res.company"]._cron_rebilling_check_abns()
        self.assertEqual(
            self.company.partner_id.rebilling_abn_entity_name,
            "SOUTHERN CROSS COMMUNICATIONS PTY LTD",
        )
        self.assertEqual(
            self.company.partner_id.rebilling_abn_entity_type, "Australian Private Company"
        )
        self.assertEqual(sole_trader.rebilling_abn_entity_name, "Jane Mary CITIZEN")
        self.assertEqual(sole_trader.rebilling_abn_entity_type, "Individual/Sole Trader")
        self.assertEqual(sole_trader.rebilling_abn_status, "active")
        self.assertTrue(sole_trader.rebilling_abn_gst)
        self.assertEqual(sole_trader.rebilling_abn_gst_from, date(2012, 3, 1))
        self.assertFalse(sole_trader.rebilling_abn_gst_to)
        self.assertEqual(self.customer_b.rebilling_abn_status, "cancelled")
        self.assertFalse(self.customer_b.rebilling_abn_gst)
        self.assertEqual(self.customer_b.rebilling_abn_entity_name, "BONDI SURF")
        self.assertEqual(self.customer_a.rebilling_abn_status, "active")
        self.assertFalse(self.customer_a.rebilling_abn_gst)
        self.assertEqual(lapsed.rebilling_abn_status, "active")
        self.assertFalse(lapsed.rebilling_abn_gst, "registered until 30 June 2020 only")
        self.assertEqual(lapsed.rebilling_abn_gst_to, date(2020, 6, 30))

    def test_unreadable_answers_are_stored_on_the_record(self):
        """Garbage or an unknown layout: a clear message on the record, never a traceback;
        the other ABNs are checked all the same."""
        self.company.rebilling_abr_guid = "guid-1"
        self.customer_a.vat = SOLE_TRADER_ABN
        register = dict(
            self.register,
            **{
                SOLE_TRADER_ABN: {"answer": "<html><body>Service busy</body></html>"},
                LAPSED_GST_ABN: {
                    "body": "<businessEntity><recordLastUpdatedDate>2026-01-15"
                    "</recordLastUpdatedDate></businessEntity>"
                },
            },
        )
        odd = self.env["res.partner"].create(
            {"name": "Odd Pty", "vat": LAPSED_GST_ABN, "rebilling_enabled": True}
        )
        with FakeABR(register, guid="guid-1") as abr:
            self.serve(abr)
            result = self.customer_a.action_rebilling_check_abn()
            self.assertEqual(result["params"]["type"], "warning")
            self.assertIn("unreadable", result["params"]["message"])
            self.env["res.company"]._cron_rebilling_check_abns()
        self.assertIn(
            "ABN Lookup answered something unreadable", self.customer_a.rebilling_abn_message
        )
        self.assertFalse(self.customer_a.rebilling_abn_status, "nothing made up")
        self.assertTrue(self.customer_a.rebilling_abn_checked)
        self.assertIn("without a status", odd.rebilling_abn_message)
        self.assertEqual(self.customer_b.rebilling_abn_status, "cancelled", "the others go on")
        self.assertEqual(self.company.rebilling_abn_status, "active")
