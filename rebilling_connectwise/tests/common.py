"""A rebilling company connected to a fake ConnectWise over real HTTP (127.0.0.1)."""

from datetime import date
from urllib.parse import urlsplit

from odoo.addons.rebilling_base.tests.common import RebillingCase
from odoo.addons.rebilling_base.tests.fakes.fake_connectwise import FakeConnectWise
from odoo.tests import Form
from odoo.tests import common as test_common
from odoo.tools import config

NOV = date(2026, 11, 1)


class ConnectwiseCase(RebillingCase):
    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Requests to the fake servers keep their own (connect, read) timeouts.
        url = urlsplit(r.url)
        if url.hostname == "127.0.0.1" and url.port != config["http_port"]:
            return test_common._super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

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
            "connectwise_subcategory_ref": 12,
            "connectwise_type_ref": 3,
            **overrides,
        }
        with Form(self.env["rebilling.backend"]) as form:
            form.backend_type = "connectwise"
            for name, value in values.items():
                setattr(form, name, value)
        backend = form.record
        backend.write(
            {
                "connect_timeout": 2.0,
                "read_timeout": 0.5,
                "retry_backoff": 0.01,
                "max_retry_after": 1.0,
                "time_factor": 0.001,
            }
        )
        return backend

    def connect(self):
        self.backend = self.configure()
        action = self.backend.action_connectwise_connect()
        self.assertEqual(action["params"]["type"], "success", action["params"]["message"])
        return self.backend

    def record(self, kind, external_id):
        return self.env["rebilling.connectwise.record"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("kind", "=", kind),
                ("external_id", "=", external_id),
            ]
        )

    def seed(self):
        cw = self.cw
        self.cw_harbour = cw.add_company("HARBOUR", "Harbour Dental")
        self.cw_bondi = cw.add_company("BONDI", "Bondi Surf")
        self.cw_agreement_a = cw.add_agreement("Harbour Managed Voice", self.cw_harbour["id"])
        self.cw_agreement_b = cw.add_agreement("Bondi Managed Voice", self.cw_bondi["id"])
        self.cw_product = cw.add_product("NBN100", "Business NBN", price=99.0, cost=60.0)
        self.backend.action_connectwise_pull()

    def link_services(self):
        with Form(self.service_a) as form:
            form.connectwise_agreement_id = self.record("agreement", self.cw_agreement_a["id"])
            form.connectwise_product_id = self.record("product", self.cw_product["id"])
        with Form(self.service_b) as form:
            form.connectwise_agreement_id = self.record("agreement", self.cw_agreement_b["id"])
            form.connectwise_product_id = self.record("product", self.cw_product["id"])
