"""A rebilling company connected to a fake ConnectWise over real HTTP (127.0.0.1)."""

from odoo.addons.rebilling_connector.tests.common_psa import NOV, PsaCase
from odoo.addons.rebilling_connectwise.fakes import FakeConnectWise
from odoo.tests import Form

__all__ = ["NOV", "ConnectwiseCase"]


class ConnectwiseCase(PsaCase):
    backend_type = "connectwise"

    def setUp(self):
        super().setUp()
        self.cw = FakeConnectWise()
        self.cw.start()
        self.addCleanup(self.cw.stop)

    def configure(self, **overrides):
        cw = self.cw
        values = {
            "connectwise_company_id": cw.company_id,
            "connectwise_site_url": cw.base_url,
            "connectwise_public_key": cw.public_key,
            "connectwise_private_key": cw.private_key,
            "client_id": cw.client_id,
            **overrides,
        }
        return self.configure_backend(values)

    def connect(self):
        self.backend = self.configure()
        action = self.backend.action_connectwise_connect()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        return self.backend

    def seed(self):
        cw = self.cw
        self.cw_harbour = cw.add_company("HARBOUR", "Harbour Dental")
        self.cw_bondi = cw.add_company("BONDI", "Bondi Surf")
        self.cw_agreement_a = cw.add_agreement("Harbour Managed Voice", self.cw_harbour["id"])
        self.cw_agreement_b = cw.add_agreement("Bondi Managed Voice", self.cw_bondi["id"])
        self.cw_product = cw.add_product("NBN100", "Business NBN", price=99.0, cost=60.0)
        self.cw_subcategory = cw.add_subcategory("Voice services")
        self.cw_type = cw.add_type("Non-inventory service")
        self.backend.action_connectwise_pull()
        with Form(self.backend) as form:
            form.connectwise_subcategory_id = self.record("subcategory", self.cw_subcategory["id"])
            form.connectwise_type_id = self.record("product_type", self.cw_type["id"])
        for partner, company in (
            (self.customer_a, self.cw_harbour),
            (self.customer_b, self.cw_bondi),
        ):
            with Form(partner) as form:
                form.rebilling_connectwise_company_id = self.record("company", company["id"])

    def link_services(self):
        with Form(self.service_a) as form:
            form.connectwise_agreement_id = self.record("agreement", self.cw_agreement_a["id"])
            form.connectwise_product_id = self.record("product", self.cw_product["id"])
        with Form(self.service_b) as form:
            form.connectwise_agreement_id = self.record("agreement", self.cw_agreement_b["id"])
            form.connectwise_product_id = self.record("product", self.cw_product["id"])
