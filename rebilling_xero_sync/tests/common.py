"""A rebilling company connected to a fake Xero over real HTTP (127.0.0.1)."""

from datetime import date
from urllib.parse import parse_qs, urlsplit

import requests

from odoo import Command
from odoo.addons.rebilling_connector.tests.common_fakes import FakeServersCase
from odoo.addons.rebilling_xero_sync.fakes import FakeXero

OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)


class XeroCase(FakeServersCase):
    """``self.xero`` is a fresh :class:`FakeXero` per test; ``self.backend`` points at it."""

    fake_options = {}

    def setUp(self):
        super().setUp()
        self.xero = FakeXero(**self.fake_options)
        self.xero.start()
        self.addCleanup(self.xero.stop)
        self.backend = self.env["rebilling.backend"].create(self.backend_vals())

    def backend_vals(self, **extra):
        xero = self.xero
        return {
            "name": "Xero",
            "backend_type": "xero",
            "company_id": self.company.id,
            "api_url": xero.api_url,
            "xero_authorize_url": xero.authorize_url,
            "xero_token_url": xero.token_url,
            "xero_revocation_url": xero.revocation_url,
            "xero_connections_url": xero.connections_url,
            "xero_app_url": "https://go.xero.example",
            "client_id": xero.client_id,
            "client_secret": xero.client_secret,
            "connect_timeout": 2.0,
            "read_timeout": 2.0,
            "retry_backoff": 0.01,
            "max_retry_after": 1.0,
            "time_factor": 0.01,
            **extra,
        }

    # ------------------------------------------------------------ OAuth through the button
    def authorize(self, backend=None):
        """Click "Authenticate with Xero" and let the fake log in: the callback's query."""
        backend = backend or self.backend
        action = backend.action_xero_authenticate()
        self.assertEqual(action["type"], "ir.actions.act_url")
        answer = requests.get(action["url"], allow_redirects=False, timeout=5)
        self.assertEqual(answer.status_code, 302)
        location = urlsplit(answer.headers["Location"])
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        return action["url"], location, query

    def connect(self, backend=None):
        backend = backend or self.backend
        _url, _location, query = self.authorize(backend)
        backend.env["rebilling.backend"]._xero_oauth_callback(query["state"], code=query["code"])
        self.assertEqual(backend.state, "connected")
        return backend

    # ------------------------------------------------------------ invoices
    def make_customers(self, count, prefix="Customer"):
        return self.env["res.partner"].create(
            [
                {
                    "name": f"{prefix} {i:03d}",
                    "is_company": True,
                    "email": f"{prefix.lower()}{i:03d}@example.com",
                    "rebilling_enabled": True,
                }
                for i in range(count)
            ]
        )

    def make_invoices(self, partners, invoice_date=OCT, lines=1):
        """Posted customer invoices (outside a billing run: an older month)."""
        moves = (
            self.env["account.move"]
            .with_company(self.company)
            .create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner.id,
                        "invoice_date": invoice_date,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "product_id": self.product_nbn.id,
                                    "name": f"Business NBN line {n}",
                                    "quantity": 1 + n,
                                    "price_unit": 99.0,
                                    "tax_ids": [Command.set(self.gst.ids)],
                                }
                            )
                            for n in range(lines)
                        ],
                    }
                    for partner in partners
                ]
            )
        )
        moves.action_post()
        return moves

    def api_requests(self, method, collection):
        return self.xero.requests_matching(method, rf"/api\.xro/2\.0/{collection}$")
