from odoo.exceptions import UserError
from odoo.tests import Form

from .common import AutotaskCase


class TestAutotaskPull(AutotaskCase):
    def test_pull_with_paging_and_mapping(self):
        self.connect()
        fake = self.autotask
        for n in range(505):
            fake.add_company(f"Filler {n:03d}")
        self.seed(map_customers=False)
        companies = self.env["rebilling.external.record"].search(
            [("backend_id", "=", self.backend.id), ("kind", "=", "company")]
        )
        self.assertEqual(len(companies), 507)
        nexts = fake.requests_matching(None, r"/Companies/query/next")
        self.assertEqual([r.method for r in nexts], ["POST"], "next page POSTed with the body")
        self.assertTrue(nexts[0].json["Filter"])
        # Only material codes.
        codes = self.env["rebilling.external.record"].search(
            [("backend_id", "=", self.backend.id), ("kind", "=", "billing_code")]
        )
        self.assertEqual(codes.mapped("name"), ["VoIP usage"])
        contract = self.record("contract", self.at_contract_a["id"])
        self.assertEqual(contract.parent_id, self.record("company", self.at_harbour["id"]))
        self.assertEqual(self.record("product", self.at_product["id"]).unit_price, 99.0)
        # Mapping: suggested by name, confirmed by hand.
        harbour = self.record("company", self.at_harbour["id"])
        self.assertEqual(self.customer_a.rebilling_autotask_suggested_id, harbour)
        self.assertFalse(self.customer_a.rebilling_autotask_company_id)
        self.assertEqual(
            self.customer_b.rebilling_autotask_suggested_id,
            self.record("company", self.at_bondi["id"]),
            "partial name match",
        )
        self.customer_a.action_autotask_confirm_company()
        self.assertEqual(self.customer_a.rebilling_autotask_company_id, harbour)
        self.assertFalse(self.customer_a.rebilling_autotask_suggested_id)
        self.customer_b.action_autotask_reject_suggestion()
        self.assertFalse(self.customer_b.rebilling_autotask_suggested_id)
        # A record gone from Autotask is archived by the next pull.
        with fake._state_lock:
            del fake._data["products"][self.at_product["id"]]
        self.backend.action_autotask_pull()
        self.assertFalse(self.record("product", self.at_product["id"]))
        logs = self.env["rebilling.sync.log"].search(
            [("backend_id", "=", self.backend.id), ("direction", "=", "pull")]
        )
        self.assertIn("autotask_companies", logs.mapped("operation"))
        self.assertEqual(set(logs.mapped("state")), {"done"})

    def test_create_contract_and_product_from_the_service_form(self):
        self.connect()
        self.seed()
        self.customer_a.action_autotask_confirm_company()
        action = self.service_a.action_autotask_create_contract()
        wizard_form = Form(
            self.env[action["res_model"]].with_context(**action["context"]),
        )
        self.assertEqual(
            wizard_form.autotask_company_id, self.customer_a.rebilling_autotask_company_id
        )
        wizard_form.name = "Harbour NBN 2026"
        wizard_form.date_start = "2026-01-01"
        wizard_form.date_end = "2026-12-31"
        wizard_form.save().action_create()
        contract = self.service_a.autotask_contract_id
        self.assertEqual(contract.name, "Harbour NBN 2026")
        remote = self.autotask.get("Contracts", contract.external_id)
        self.assertEqual(remote["companyID"], self.at_harbour["id"])
        self.assertEqual(remote["contractType"], 7)
        self.assertTrue(remote["startDate"].startswith("2026-01-01"))
        self.assertTrue(remote["endDate"].startswith("2026-12-31"))

        action = self.service_a.action_autotask_create_product()
        wizard_form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        self.assertEqual(wizard_form.name, "Business NBN 100/40")
        wizard_form.description = "NBN 100/40 wholesale"
        wizard_form.unit_cost = 55.5
        wizard_form.unit_price = 99.0
        wizard_form.billing_code_id = self.record("billing_code", self.at_material["id"])
        wizard_form.is_serialized = True
        wizard_form.save().action_create()
        product = self.service_a.autotask_product_id
        remote = self.autotask.get("Products", product.external_id)
        self.assertEqual(remote["name"], "Business NBN 100/40")
        self.assertEqual(remote["unitCost"], 55.5)
        self.assertEqual(remote["productBillingCodeID"], self.at_material["id"])
        self.assertTrue(remote["isSerialized"])
        self.assertTrue(remote["isActive"])

    def test_contract_needs_a_mapped_company(self):
        self.connect()
        self.seed(map_customers=False)
        action = self.service_b.action_autotask_create_contract()
        wizard = Form(self.env[action["res_model"]].with_context(**action["context"]))
        wizard.date_end = "2027-01-01"
        with self.assertRaisesRegex(UserError, "Map Bondi Surf to an Autotask company"):
            wizard.save().action_create()

    def test_zone_and_page_links_stay_on_the_zone_host(self):
        """The credentials go only to the discovered zone's host (https Autotask zones)."""
        self.autotask.zone_answer_url = "https://webservices5.evil.example.com/ATServicesRest/"
        backend = self.configure()
        action = backend.action_autotask_connect()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("not an Autotask zone", action["params"]["message"])
        self.assertFalse(backend.api_url)
        self.assertTrue(backend._autotask_trusted_zone("https://webservices5.autotask.net/x/"))
        self.assertFalse(backend._autotask_trusted_zone("http://webservices5.autotask.net/x/"))
        self.autotask.zone_answer_url = None
        backend.active = False  # one active backend per company and system
        self.connect()
        for n in range(501):
            self.autotask.add_company(f"Company {n:03}")
        self.autotask.page_link_base = "http://127.0.0.2:9/ATServicesRest/V1.0"
        with self.assertRaisesRegex(UserError, "next page on another host"):
            self.backend._rebilling_pull("autotask_companies")
        self.assertEqual(self.autotask.request_count("POST", "/Companies/query/next"), 0)
