"""A rebilling company connected to a fake Autotask over real HTTP (127.0.0.1)."""

import time

from odoo.addons.rebilling_autotask.fakes import FakeAutotask
from odoo.addons.rebilling_connector.tests.common_psa import NOV, PsaCase
from odoo.tests import Form

__all__ = ["NOV", "AutotaskCase"]


class AutotaskCase(PsaCase):
    """``self.autotask`` is a fresh fake per test; ``self.backend`` points at it."""

    backend_type = "autotask"

    def setUp(self):
        super().setUp()
        self.autotask = FakeAutotask()
        self.autotask.start()
        self.addCleanup(self.autotask.stop)
        self.backend = self.env["rebilling.backend"]
        # rebilling_base creates services with service_type "other" (its default wins over
        # the product's type on create): set the types the fixtures describe.
        self.service_a.service_type = "wholesale"
        self.service_b.service_type = "voip_bundle"

    def configure(self, **overrides):
        """Fill the integration form like a user and save it."""
        fake = self.autotask
        values = {
            "username": fake.username,
            "autotask_secret": fake.secret,
            "autotask_integration_code": fake.integration_code,
            "autotask_zone_url": fake.zone_url,
            **overrides,
        }
        return self.configure_backend(values)

    def connect(self):
        self.backend = self.configure()
        action = self.backend.action_autotask_connect()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        self.assertEqual(self.backend.state, "connected")
        return self.backend

    def seed(self, map_customers=True):
        """Companies, contracts, a product and material codes in Autotask, pulled into Odoo."""
        fake = self.autotask
        self.at_harbour = fake.add_company("Harbour Dental")
        self.at_bondi = fake.add_company("Bondi Surf Club")
        self.at_contract_a = fake.add_contract(self.at_harbour["id"], "Harbour VoIP")
        self.at_contract_b = fake.add_contract(self.at_bondi["id"], "Bondi VoIP")
        self.at_product = fake.add_product("NBN wholesale", unitCost=50.0, unitPrice=99.0)
        self.at_material = fake.add_billing_code("VoIP usage", unitCost=1.0, unitPrice=2.0)
        self.at_work_type = fake.add_billing_code("Remote support", useType=1)
        self.backend.action_autotask_pull()
        if map_customers:
            self.map_customers()

    def map_customers(self):
        """customer_a is Harbour Dental in Autotask, customer_b Bondi Surf Club."""
        for partner, company in (
            (self.customer_a, self.at_harbour),
            (self.customer_b, self.at_bondi),
        ):
            with Form(partner) as form:
                form.rebilling_autotask_company_id = self.record("company", company["id"])

    def link_services(self):
        """service_a (wholesale): contract A + product; service_b (VoIP bundle): B + code."""
        with Form(self.service_a) as form:
            form.autotask_contract_id = self.record("contract", self.at_contract_a["id"])
            form.autotask_product_id = self.record("product", self.at_product["id"])
        with Form(self.service_b) as form:
            form.autotask_contract_id = self.record("contract", self.at_contract_b["id"])
            form.autotask_billing_code_id = self.record("billing_code", self.at_material["id"])

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False

    def charge_posts(self):
        return self.autotask.request_count("POST", r"/Contracts/\d+/Charges$")
