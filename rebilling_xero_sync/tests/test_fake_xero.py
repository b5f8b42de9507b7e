"""The fake Xero enforces the documented rules (over real HTTP on 127.0.0.1, no database)."""

import time
import unittest
from datetime import date
from urllib.parse import parse_qs, urlsplit

import requests

from odoo.addons.rebilling_connector.connector.http import (
    BearerAuth,
    HttpClient,
    PermanentError,
)
from odoo.addons.rebilling_connector.tests.common_http import TIMEOUT, RecordingSleep

from ..fakes import FakeXero, pkce_pair


# ---------------------------------------------------------------------------- Xero
class TestFakeXero(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.xero = FakeXero(minute_limit=1000)
        self.xero.start()
        self.addCleanup(self.xero.stop)
        self.sleep = RecordingSleep()

    def api(self, tokens=None, tenant_id=None, **kwargs):
        tokens = tokens or self.xero.issue_tokens()
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("timeout", TIMEOUT)
        client = HttpClient(
            self.xero.api_url,
            headers={
                "xero-tenant-id": tenant_id or self.xero.default_tenant_id,
                "Accept": "application/json",
            },
            auth=BearerAuth(tokens["access_token"]),
            sleep=self.sleep,
            **kwargs,
        )
        self.addCleanup(client.close)
        return client

    def identity(self):
        client = HttpClient(
            self.xero.base_url,
            auth=(self.xero.client_id, self.xero.client_secret),
            max_retries=0,
            timeout=TIMEOUT,
        )
        self.addCleanup(client.close)
        return client

    def authorize(self, client, challenge=None):
        params = {
            "response_type": "code",
            "client_id": self.xero.client_id,
            "redirect_uri": "https://odoo.example.com/xero/callback",
            "scope": "openid offline_access accounting.transactions accounting.contacts",
            "state": "st4te",
        }
        if challenge:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        response = client.request(
            "GET", "/identity/connect/authorize", params=params, allow_redirects=False
        )
        self.assertEqual(response.status_code, 302)
        location = urlsplit(response.headers["Location"])
        self.assertEqual(location.netloc, "odoo.example.com")
        query = parse_qs(location.query)
        self.assertEqual(query["state"], ["st4te"])
        return query["code"][0]

    def test_authorization_code_with_pkce_and_refresh_rotation(self):
        identity = self.identity()
        verifier, challenge = pkce_pair()
        form = {
            "grant_type": "authorization_code",
            "redirect_uri": "https://odoo.example.com/xero/callback",
        }
        bad_code = self.authorize(identity, challenge)
        with self.assertRaises(PermanentError) as caught:
            identity.post(
                "/identity/connect/token",
                data={**form, "code": bad_code, "code_verifier": "wrong-verifier"},
            )
        self.assertEqual(caught.exception.body, {"error": "invalid_grant"})

        code = self.authorize(identity, challenge)
        tokens = identity.post(
            "/identity/connect/token", data={**form, "code": code, "code_verifier": verifier}
        )
        self.assertEqual(tokens["token_type"], "Bearer")
        self.assertEqual(tokens["expires_in"], 1800)
        self.assertTrue(tokens["refresh_token"])
        with self.assertRaises(PermanentError):  # a code is single-use
            identity.post(
                "/identity/connect/token", data={**form, "code": code, "code_verifier": verifier}
            )

        first = tokens["refresh_token"]
        rotated = identity.post(
            "/identity/connect/token", data={"grant_type": "refresh_token", "refresh_token": first}
        )
        self.assertNotEqual(rotated["refresh_token"], first)
        self.assertEqual(self.xero.refresh_token_state(first), "used")
        with self.assertRaises(PermanentError) as caught:
            identity.post(
                "/identity/connect/token",
                data={"grant_type": "refresh_token", "refresh_token": first},
            )
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.body, {"error": "invalid_grant"})
        again = identity.post(
            "/identity/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]},
        )
        self.assertIn("access_token", again)
        # The token request used HTTP Basic client authentication.
        auth = self.xero.requests_matching("POST", "connect/token")[-1].headers["Authorization"]
        self.assertTrue(auth.startswith("Basic "))

    def test_connections_tenant_header_and_expired_token(self):
        tokens = self.xero.issue_tokens()
        conn = HttpClient(self.xero.base_url, auth=BearerAuth(tokens["access_token"]))
        self.addCleanup(conn.close)
        connections = conn.get("/connections")
        self.assertEqual(connections[0]["tenantId"], self.xero.default_tenant_id)
        self.assertEqual(connections[0]["tenantType"], "ORGANISATION")

        with self.assertRaises(PermanentError) as caught:
            self.api(tokens, tenant_id="00000000-0000-0000-0000-000000000000").get("Contacts")
        self.assertEqual(caught.exception.status, 403)

        client = self.api(tokens)
        self.assertEqual(client.get("Organisation")["Organisations"][0]["BaseCurrency"], "AUD")
        self.xero.expire_access_tokens()
        with self.assertRaises(PermanentError) as caught:
            client.get("Contacts")
        self.assertEqual(caught.exception.status, 401)

    def test_contacts_paging_where_and_search(self):
        for i in range(230):
            self.xero.add_contact(f"Contact {i:03d}", EmailAddress=f"c{i}@example.com")
        client = self.api()
        sizes, page = [], 1
        while True:
            body = client.get("Contacts", params={"page": page})
            sizes.append(len(body["Contacts"]))
            if len(body["Contacts"]) < 100:
                break
            page += 1
        self.assertEqual(sizes, [100, 100, 30])
        self.assertEqual(body["pagination"]["itemCount"], 230)
        self.assertEqual(body["pagination"]["pageCount"], 3)

        found = client.get("Contacts", params={"where": 'Name=="Contact 007"'})["Contacts"]
        self.assertEqual([c["EmailAddress"] for c in found], ["c7@example.com"])
        found = client.get(
            "Contacts",
            params={"where": 'EmailAddress!=null && EmailAddress.StartsWith("c22")'},
        )["Contacts"]
        self.assertEqual(len(found), 11)  # c22, c220..c229
        found = client.get("Contacts", params={"searchTerm": "contact 1"})["Contacts"]
        self.assertEqual(len(found), 100)
        revenue = client.get("Accounts", params={"where": 'Type=="REVENUE" AND Status=="ACTIVE"'})[
            "Accounts"
        ]
        self.assertEqual(sorted(a["Code"] for a in revenue), ["200", "260"])

    def test_duplicate_contact_name_is_rejected(self):
        client = self.api()
        client.put("Contacts", json={"Contacts": [{"Name": "Acme Ltd"}]})
        with self.assertRaises(PermanentError) as caught:
            client.put("Contacts", json={"Contacts": [{"Name": "Acme Ltd"}]})
        element = caught.exception.body["Elements"][0]
        self.assertIn("already assigned", element["ValidationErrors"][0]["Message"])
        self.assertEqual(len(self.xero.contacts()), 1)

    def invoice(self, contact_id, number=None):
        invoice = {
            "Type": "ACCREC",
            "Contact": {"ContactID": contact_id},
            "Date": "2026-01-31",
            "DueDate": "2026-02-14",
            "Status": "AUTHORISED",
            "LineItems": [
                {
                    "Description": "Managed services",
                    "Quantity": 2,
                    "UnitAmount": 50.0,
                    "AccountCode": "200",
                    "TaxType": "OUTPUT",
                }
            ],
        }
        if number:
            invoice["InvoiceNumber"] = number
        return invoice

    def test_invoices_summarize_errors_and_validation(self):
        contact = self.xero.add_contact("Acme Ltd")
        client = self.api()
        good = self.invoice(contact["ContactID"], "RB-0001")
        bad = self.invoice("6f0e2b43-0000-0000-0000-000000000000", "RB-0002")
        body = client.put(
            "Invoices", json={"Invoices": [good, bad]}, params={"summarizeErrors": "false"}
        )
        first, second = body["Invoices"]
        self.assertEqual(first["StatusAttributeString"], "OK")
        self.assertFalse(first["HasErrors"])
        self.assertEqual(first["Total"], 110.0)
        self.assertEqual(first["DateString"], "2026-01-31T00:00:00")
        self.assertRegex(first["Date"], r"^/Date\(\d+\+0000\)/$")
        self.assertTrue(second["HasErrors"])
        self.assertEqual(second["StatusAttributeString"], "ERROR")
        self.assertTrue(second["ValidationErrors"])

        no_lines = dict(self.invoice(contact["ContactID"], "RB-0003"), LineItems=[])
        for invoice in (self.invoice(contact["ContactID"], "RB-0001"), no_lines):
            with self.assertRaises(PermanentError) as caught:
                client.put("Invoices", json={"Invoices": [invoice]})
            self.assertEqual(caught.exception.body["Type"], "ValidationException")
            self.assertTrue(caught.exception.body["Elements"][0]["ValidationErrors"])
        self.assertEqual([i["InvoiceNumber"] for i in self.xero.invoices()], ["RB-0001"])

        listed = client.get("Invoices", params={"InvoiceNumbers": "RB-0001", "page": 1})
        self.assertEqual(listed["Invoices"][0]["LineItems"][0]["LineAmount"], 100.0)
        online = client.get(f"Invoices/{first['InvoiceID']}/OnlineInvoice")
        self.assertTrue(online["OnlineInvoices"][0]["OnlineInvoiceUrl"].startswith("http"))

    def test_tax_per_line_and_given_tax_amount(self):
        """Rounding in Xero: tax per line, rounded, summed; a given TaxAmount is kept."""
        contact = self.xero.add_contact("Acme Ltd")
        line = {"Description": "x", "Quantity": 1, "UnitAmount": 0.04, "AccountCode": "200"}
        invoice = dict(self.invoice(contact["ContactID"], "RB-0009"), LineItems=[line] * 12)
        body = self.api().put("Invoices", json={"Invoices": [invoice]})
        self.assertEqual(body["Invoices"][0]["TotalTax"], 0.0, "12 x 0.004, rounded per line")
        invoice = dict(
            self.invoice(contact["ContactID"], "RB-0010"),
            LineItems=[dict(line, UnitAmount=0.25, TaxAmount=0.03)],
        )
        body = self.api().put("Invoices", json={"Invoices": [invoice]})
        self.assertEqual(body["Invoices"][0]["Total"], 0.28)

    def test_credit_notes_allocations_and_lock_dates(self):
        contact = self.xero.add_contact("Acme Ltd")
        other = self.xero.add_contact("Other Ltd")
        client = self.api()
        invoice = client.put(
            "Invoices", json={"Invoices": [self.invoice(contact["ContactID"], "RB-0001")]}
        )["Invoices"][0]
        note = dict(self.invoice(contact["ContactID"]), Type="ACCRECCREDIT")
        note.pop("DueDate")
        note["CreditNoteNumber"] = "CN-RB-0001"
        created = client.put("CreditNotes", json={"CreditNotes": [note, note]})["CreditNotes"]
        self.assertEqual([c["CreditNoteNumber"] for c in created], ["CN-RB-0001"] * 2)
        self.assertEqual(created[0]["RemainingCredit"], 110.0)
        found = client.get("CreditNotes", params={"where": 'CreditNoteNumber=="CN-RB-0001"'})
        self.assertEqual(len(found["CreditNotes"]), 2)
        path = f"CreditNotes/{created[0]['CreditNoteID']}/Allocations"

        def allocate(amount, invoice_id=invoice["InvoiceID"], day="2026-02-01"):
            allocation = {"Invoice": {"InvoiceID": invoice_id}, "Amount": amount, "Date": day}
            return client.put(path, json={"Allocations": [allocation]})

        for amount in (0, 120.0):
            with self.assertRaises(PermanentError) as caught:
                allocate(amount)
            self.assertEqual(caught.exception.body["Type"], "ValidationException")
        allocate(60.0)
        self.assertEqual(self.xero.get_invoice("RB-0001")["AmountDue"], 50.0)
        with self.assertRaisesRegex(PermanentError, "remaining credit|amount due"):
            allocate(60.0)  # 50 left on the credit note, 50 due
        allocate(50.0)
        paid = self.xero.get_invoice("RB-0001")
        self.assertEqual(
            (paid["Status"], paid["AmountDue"], paid["AmountCredited"]), ("PAID", 0.0, 110.0)
        )
        theirs = client.put(
            "Invoices", json={"Invoices": [self.invoice(other["ContactID"], "RB-0002")]}
        )["Invoices"][0]
        path = f"CreditNotes/{created[1]['CreditNoteID']}/Allocations"
        with self.assertRaisesRegex(PermanentError, "same contact"):
            allocate(10.0, theirs["InvoiceID"])
        # Lock dates: nothing dated on or before them is saved.
        self.xero.set_lock_dates(period=date(2026, 1, 31))
        with self.assertRaises(PermanentError) as caught:
            client.put("Invoices", json={"Invoices": [self.invoice(contact["ContactID"], "RB-3")]})
        (element,) = caught.exception.body["Elements"]
        self.assertIn("lock date (31 Jan 2026)", element["ValidationErrors"][0]["Message"])
        organisation = client.get("Organisation")["Organisations"][0]
        self.assertIn("PeriodLockDate", organisation)

    def test_idempotency_key_replays_the_first_response(self):
        contact = self.xero.add_contact("Acme Ltd")
        client = self.api()
        invoice = self.invoice(contact["ContactID"])
        headers = {"Idempotency-Key": "run-42-invoice-1"}
        params = {"summarizeErrors": "false"}
        one = client.put("Invoices", json={"Invoices": [invoice]}, params=params, headers=headers)
        two = client.put("Invoices", json={"Invoices": [invoice]}, params=params, headers=headers)
        self.assertEqual(one["Invoices"][0]["InvoiceID"], two["Invoices"][0]["InvoiceID"])
        self.assertEqual(len(self.xero.invoices()), 1)
        self.assertTrue(self.xero.last_request.extra.get("idempotent_replay"))

        # A timed-out create retried with the same key makes one invoice, not two.
        self.xero.timeout_next(1, 0.4, path="Invoices", method="PUT")
        slow = self.api(timeout=(2, 0.15))
        slow.put(
            "Invoices",
            json={"Invoices": [invoice]},
            params=params,
            headers={"Idempotency-Key": "run-42-invoice-2"},
        )
        deadline = time.monotonic() + 2
        while self.xero.requests_matching("PUT", "Invoices")[-2].status is None:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.assertEqual(len(self.xero.invoices()), 2)

    def test_minute_limit_headers_and_429(self):
        xero = FakeXero(minute_limit=3, window=1.0, retry_after=0.05)
        xero.start()
        self.addCleanup(xero.stop)
        tokens = xero.issue_tokens()
        raw = requests.Session()
        self.addCleanup(raw.close)
        headers = {
            "Authorization": f"Bearer {tokens['access_token']}",
            "xero-tenant-id": xero.default_tenant_id,
        }
        remaining = []
        for _ in range(4):
            response = raw.get(f"{xero.api_url}/Organisation", headers=headers, timeout=TIMEOUT)
            remaining.append(response.headers.get("X-MinLimit-Remaining"))
        self.assertEqual(remaining, ["2", "1", "0", "0"])
        self.assertEqual(response.status_code, 429)
        self.assertEqual(response.headers["Retry-After"], "0.05")
        self.assertEqual(response.headers["X-Rate-Limit-Problem"], "minute")
        self.assertIn("X-DayLimit-Remaining", response.headers)

        client = HttpClient(
            xero.api_url,
            headers={"xero-tenant-id": xero.default_tenant_id},
            auth=BearerAuth(tokens["access_token"]),
            sleep=self.sleep,
            timeout=TIMEOUT,
            max_retries=40,
        )
        self.addCleanup(client.close)
        client.get("Organisation")
        self.assertIn(0.05, self.sleep.delays)


# ---------------------------------------------------------------------------- Autotask
