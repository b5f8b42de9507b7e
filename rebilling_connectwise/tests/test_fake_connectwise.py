"""The HTTP client core (retries, errors, limiter) and the fake ConnectWise, over real HTTP
on 127.0.0.1: plain ``unittest`` tests, no database."""

import base64
import logging
import threading
import unittest
from datetime import date

import requests

from odoo.addons.rebilling_connector.connector.http import (
    HttpClient,
    PermanentError,
    RateLimiter,
    RetryableError,
)
from odoo.addons.rebilling_connector.tests.common_http import TIMEOUT, RecordingSleep, max_in_window

from ..fakes import FakeConnectWise


class TestHttpClientRetries(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cw = FakeConnectWise()
        cls.cw.start()
        cls.cw.add_company("ACME", "Acme Ltd", city="Sydney")

    @classmethod
    def tearDownClass(cls):
        cls.cw.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.cw.clear_faults()
        self.cw.clear_requests()
        self.sleep = RecordingSleep()

    def client(self, **kwargs):
        kwargs.setdefault("sleep", self.sleep)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("timeout", TIMEOUT)
        client = HttpClient(self.cw.api_url, headers=self.cw.auth_headers(), **kwargs)
        self.addCleanup(client.close)
        return client

    def test_retry_on_429_honours_retry_after(self):
        self.cw.fail_next(2, 429, retry_after=0.05)
        client = self.client()
        companies = client.get("company/companies")
        self.assertEqual(companies[0]["identifier"], "ACME")
        self.assertEqual(self.sleep.delays, [0.05, 0.05])
        self.assertEqual(client.calls, 3)
        self.assertEqual(client.retries, 2)
        self.assertEqual(self.cw.request_count("GET", "company/companies$"), 3)

    def test_long_retry_after_is_not_waited_for(self):
        """A 429 asking for longer than max_retry_after goes up at once, with its wait."""
        self.cw.fail_next(1, 429, retry_after=120)
        client = self.client(max_retry_after=0.02)
        with self.assertRaises(RetryableError) as caught:
            client.get("company/companies")
        self.assertEqual(caught.exception.retry_after, 120)
        self.assertEqual(self.sleep.delays, [])
        self.assertEqual(client.calls, 1)

    def test_429_without_retry_after_uses_backoff(self):
        self.cw.fail_next(2, 429)
        client = self.client(backoff=0.01)
        client.get("company/companies")
        self.assertEqual(self.sleep.delays, [0.01, 0.02])

    def test_retry_on_5xx_with_exponential_backoff(self):
        self.cw.fail_next(3, 503)
        client = self.client(backoff=0.01)
        client.get("company/companies")
        self.assertEqual(self.sleep.delays, [0.01, 0.02, 0.04])
        self.assertEqual(client.calls, 4)

    def test_retryable_error_when_retries_are_used_up(self):
        self.cw.fail_next(10, 500, body={"code": "Boom", "message": "down"})
        client = self.client(max_retries=2)
        with self.assertRaises(RetryableError) as caught:
            client.get("company/companies")
        error = caught.exception
        self.assertEqual(error.status, 500)
        self.assertEqual(error.body, {"code": "Boom", "message": "down"})
        self.assertTrue(error.retryable)
        self.assertIn("HTTP 500", str(error))
        self.assertEqual(client.calls, 3)

    def test_retry_on_timeout(self):
        self.cw.timeout_next(1, 0.5)
        client = self.client(timeout=(2, 0.15))
        companies = client.get("company/companies")
        self.assertEqual(len(companies), 1)
        self.assertEqual(client.calls, 2)
        self.assertEqual(len(self.sleep.delays), 1)

    def test_timeout_error_after_retries(self):
        self.cw.timeout_next(3, 0.4)
        client = self.client(timeout=(2, 0.1), max_retries=1)
        with self.assertRaises(RetryableError) as caught:
            client.get("company/companies", params={"conditions": "secret-in-query"})
        self.assertIsNone(caught.exception.status)
        self.assertIn("timeout", str(caught.exception))
        self.assertNotIn("secret-in-query", str(caught.exception))

    def test_connection_error_is_retryable(self):
        fake = FakeConnectWise()
        url = fake.start()
        fake.stop()  # nothing listens on this port any more
        client = HttpClient(url, max_retries=2, backoff=0.01, sleep=self.sleep, timeout=TIMEOUT)
        self.addCleanup(client.close)
        with self.assertRaises(RetryableError) as caught:
            client.get("anything")
        self.assertIsNone(caught.exception.status)
        self.assertIn("connection error", str(caught.exception))
        self.assertEqual(client.calls, 3)

    def test_permanent_error_on_400_at_once(self):
        client = self.client()
        with self.assertRaises(PermanentError) as caught:
            client.post("procurement/catalog", json={"identifier": "X"})
        error = caught.exception
        self.assertEqual(error.status, 400)
        self.assertEqual(error.body["code"], "InvalidObject")
        self.assertFalse(error.retryable)
        self.assertEqual(client.calls, 1)
        self.assertEqual(self.sleep.delays, [])

    def test_permanent_error_on_401_without_credentials_in_message_or_log(self):
        secret = "very-secret-private-key"
        client = HttpClient(
            self.cw.api_url,
            headers={"clientId": self.cw.client_id, "X-Api-Token": secret},
            auth=(f"{self.cw.company_id}+{self.cw.public_key}", secret),
            sleep=self.sleep,
            timeout=TIMEOUT,
        )
        self.addCleanup(client.close)
        with self.assertLogs("test.connector", level="DEBUG") as logs:
            client.logger = logging.getLogger("test.connector")
            client.logger.debug("start")
            with self.assertRaises(PermanentError) as caught:
                client.get("company/companies", params={"token": secret})
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual(client.calls, 1)
        text = str(caught.exception) + repr(caught.exception.url) + "\n".join(logs.output)
        self.assertNotIn(secret, text)
        self.assertNotIn(base64.b64encode(secret.encode()).decode(), text)
        self.assertNotIn("Authorization", text)

    def test_ok_statuses_and_json_request(self):
        client = self.client()
        response = client.request("GET", "company/companies/999", ok_statuses=(404,))
        self.assertEqual(response.status_code, 404)
        temp = self.cw.add_company("TEMP", "Temporary")
        self.assertIsNone(client.json_request("DELETE", f"company/companies/{temp['id']}"))
        count = client.get("company/companies/count", params={"conditions": 'identifier="TEMP"'})
        self.assertEqual(count, {"count": 0})

    def test_rate_limiter_never_exceeds_the_server_limit(self):
        fake = FakeConnectWise(rate_limit=4, rate_window=0.3, retry_after=0.05)
        fake.start()
        self.addCleanup(fake.stop)
        limiter = RateLimiter(4, 0.4, max_concurrent=3)  # 0.1 s margin for jitter
        client = HttpClient(
            fake.api_url,
            headers=fake.auth_headers(),
            rate_limiter=limiter,
            max_retries=0,
            timeout=TIMEOUT,
        )
        self.addCleanup(client.close)
        errors = []

        def work():
            for _ in range(4):
                try:
                    client.get("company/companies")
                except Exception as exc:  # collected and asserted below
                    errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        received = [r.time for r in fake.requests_matching("GET", "company/companies$")]
        self.assertEqual(len(received), 16)
        self.assertLessEqual(max_in_window(received, 0.3), 4)
        self.assertEqual(fake.request_count(status=429), 0)
        self.assertEqual(client.calls, 16)
        self.assertLessEqual(fake.max_in_flight, 3)


class TestFakeConnectWise(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.cw = FakeConnectWise()
        self.cw.start()
        self.addCleanup(self.cw.stop)
        info = requests.get(
            f"{self.cw.base_url}/login/companyinfo/{self.cw.company_id}", timeout=TIMEOUT
        ).json()
        self.assertEqual(info["Codebase"], "v2025_1/")
        self.client = HttpClient(
            f"{self.cw.base_url}/{info['Codebase']}apis/3.0",
            headers={"clientId": self.cw.client_id},
            auth=(f"{self.cw.company_id}+{self.cw.public_key}", self.cw.private_key),
            max_retries=3,
            backoff=0.01,
            timeout=TIMEOUT,
        )
        self.addCleanup(self.client.close)

    def test_link_header_paging(self):
        for i in range(23):
            self.cw.add_company(f"C{i:02d}", f"Company {i:02d}")
        response = self.client.request("GET", "company/companies", params={"pageSize": 10})
        self.assertEqual(set(response.links), {"next", "last"})
        self.assertIn("page=3", response.links["last"]["url"])
        seen = [c["identifier"] for c in response.json()]
        pages = 1
        while "next" in response.links:
            response = self.client.request("GET", response.links["next"]["url"])
            seen += [c["identifier"] for c in response.json()]
            pages += 1
        self.assertEqual(pages, 3)
        self.assertEqual(set(response.links), {"first", "prev", "last"})
        self.assertEqual(seen, [f"C{i:02d}" for i in range(23)])
        single = self.client.request("GET", "company/companies", params={"pageSize": 1000})
        self.assertNotIn("Link", single.headers)
        self.assertEqual(len(single.json()), 23)
        self.assertEqual(self.client.get("company/companies/count"), {"count": 23})

    def test_conditions(self):
        acme = self.cw.add_company("ACME", "Acme Ltd", city="Sydney", leadFlag=False)
        self.cw.add_company("BETA", "Beta Pty", city="Perth", leadFlag=True)
        self.cw.add_company("GAMMA", "Gamma Ltd", city=None)
        self.cw.add_agreement("Acme MSA", company_id=acme["id"], startDate="2026-01-01T00:00:00Z")
        self.cw.add_agreement("Old", company_id=acme["id"], startDate="2020-01-01T00:00:00Z")

        def ids(path, conditions):
            items = self.client.get(path, params={"conditions": conditions, "orderBy": "id asc"})
            return [item.get("identifier") or item.get("name") for item in items]

        path = "company/companies"
        self.assertEqual(ids(path, 'name like "*Ltd"'), ["ACME", "GAMMA"])
        self.assertEqual(ids(path, 'name contains "pty" or city = null'), ["BETA", "GAMMA"])
        self.assertEqual(
            ids(path, 'identifier in ("ACME","GAMMA") and city != "Perth"'), ["ACME", "GAMMA"]
        )
        self.assertEqual(ids(path, "leadFlag = true"), ["BETA"])
        self.assertEqual(
            ids(path, '(city="Sydney" or city="Perth") and not name like "B*"'), ["ACME"]
        )
        self.assertEqual(
            ids(
                "finance/agreements",
                f"company/id={acme['id']} and startDate > [2025-06-01T00:00:00Z]",
            ),
            ["Acme MSA"],
        )
        with self.assertRaises(PermanentError) as caught:
            self.client.get(path, params={"conditions": 'nosuchfield = "x"'})
        self.assertEqual(caught.exception.status, 400)

    def test_contains_and_like_follow_sql_server_like(self):
        """``contains``/``like`` run as SQL Server LIKE: ``[...]`` is a set, ``_`` one
        character, ``%`` any text; ``[[]`` a literal bracket."""
        company = self.cw.add_company("ACME", "Acme Ltd")
        agreement = self.cw.add_agreement("Acme MSA", company_id=company["id"])
        product = self.cw.add_product("NBN100", "Business NBN")
        base = f"finance/agreements/{agreement['id']}/additions"
        for text in ("Handset", "NBN [rebilling:ab:42]", "NBN [rebilling:ab:420]", "50% off_x"):
            self.cw.add_addition(
                agreement["id"],
                product={"id": product["id"]},
                billCustomer="Billable",
                description=text,
            )

        def found(conditions):
            items = self.client.get(base, params={"conditions": conditions})
            return [item["description"] for item in items]

        # A set matches any one of its characters: each description with an "a", "n"...
        self.assertEqual(len(found('description contains "[rebilling:ab:42]"')), 3)
        self.assertEqual(
            found('description contains "[[]rebilling:ab:42]"'), ["NBN [rebilling:ab:42]"]
        )
        self.assertEqual(found('description contains "(rebilling:ab:42)"'), [])
        self.assertEqual(found('description like "h_nds%"'), ["Handset"])
        self.assertEqual(found('description like "*[%]*"'), ["50% off_x"])
        self.assertEqual(
            found('description like "[^h]*"'),
            ["NBN [rebilling:ab:42]", "NBN [rebilling:ab:420]", "50% off_x"],
        )
        self.assertEqual(found('description contains "OFF_"'), ["50% off_x"])

    def test_agreement_billing_cycle(self):
        """A cycle bills the additions effective in it and not cancelled before it, once."""
        company = self.cw.add_company("ACME", "Acme Ltd")
        agreement = self.cw.add_agreement("Acme MSA", company_id=company["id"])
        product = self.cw.add_product("NBN100", "Business NBN", price=99.0)

        def add(price, effective, cancelled=None, bill="Billable", quantity=1):
            values = {
                "product": {"id": product["id"]},
                "billCustomer": bill,
                "quantity": quantity,
                "unitPrice": price,
                "effectiveDate": f"{effective}T00:00:00Z",
            }
            if cancelled:
                values["cancelledDate"] = f"{cancelled}T00:00:00Z"
            return self.cw.add_addition(agreement["id"], **values)

        add(10.0, "2026-10-01")  # recurring: every cycle from October
        add(2.5, "2026-11-01", "2026-11-30", quantity=3)  # once, in November
        add(-4.0, "2026-11-01", "2026-11-30")  # a credit, in November
        add(1000.0, "2026-11-01", "2026-11-30", bill="DoNotBill")
        add(7.0, "2026-12-01", "2026-12-31")
        with self.assertRaisesRegex(ValueError, "invalid"):
            add(1.0, "2026-12-01", "2026-11-30")
        (nov,) = self.cw.run_billing_cycle(date(2026, 11, 15))
        self.assertEqual(nov["total"], 13.5)  # 10 + 3 x 2.5 - 4
        with self.assertRaisesRegex(ValueError, "already exists"):
            self.cw.run_billing_cycle(date(2026, 11, 1))
        self.cw.run_billing_cycle(date(2026, 12, 1))
        self.cw.run_billing_cycle(date(2027, 1, 1))
        self.assertEqual(self.cw.billed_total(date(2026, 12, 1)), 17.0)
        self.assertEqual(self.cw.billed_total(date(2027, 1, 1)), 10.0)
        self.assertEqual(self.cw.billed_total(), 40.5)

    def test_agreement_additions_and_catalog(self):
        company = self.cw.add_company("ACME", "Acme Ltd")
        agreement = self.cw.add_agreement("Acme MSA", company_id=company["id"])
        with self.assertRaises(PermanentError) as caught:
            self.client.post("procurement/catalog", json={"identifier": "LIC-365"})
        error = caught.exception.body
        self.assertEqual(error["code"], "InvalidObject")
        self.assertEqual(
            {e["field"] for e in error["errors"]},
            {"description", "customerDescription", "subcategory", "type"},
        )
        self.assertEqual(error["errors"][0]["resource"], "catalogItem")
        response = self.client.request(
            "POST",
            "procurement/catalog",
            json={
                "identifier": "LIC-365",
                "description": "M365 licence",
                "customerDescription": "Microsoft 365 Business Standard",
                "subcategory": {"id": 12},
                "type": {"id": 3},
                "price": 20.0,
                "cost": 15.0,
            },
        )
        self.assertEqual(response.status_code, 201)
        product = response.json()

        base = f"finance/agreements/{agreement['id']}/additions"
        response = self.client.request(
            "POST",
            base,
            json={"product": {"id": product["id"]}, "quantity": 3, "billCustomer": "Billable"},
        )
        self.assertEqual(response.status_code, 201)
        addition = response.json()
        self.assertEqual(addition["extPrice"], 60.0)
        self.assertEqual(addition["product"]["identifier"], "LIC-365")
        patched = self.client.patch(
            f"{base}/{addition['id']}", json=[{"op": "replace", "path": "quantity", "value": 5}]
        )
        self.assertEqual((patched["quantity"], patched["extPrice"]), (5, 100.0))
        replaced = self.client.put(
            f"{base}/{addition['id']}",
            json={"product": {"id": product["id"]}, "quantity": 1, "billCustomer": "DoNotBill"},
        )
        self.assertEqual(replaced["billCustomer"], "DoNotBill")
        with self.assertRaises(PermanentError):
            self.client.post(base, json={"product": {"id": product["id"]}, "quantity": 1})
        response = self.client.request("DELETE", f"{base}/{addition['id']}")
        self.assertEqual(response.status_code, 204)
        self.assertEqual(self.cw.additions(agreement["id"]), [])

    def test_authentication(self):
        for headers, auth in (
            ({}, (f"{self.cw.company_id}+{self.cw.public_key}", self.cw.private_key)),
            ({"clientId": self.cw.client_id}, (f"{self.cw.company_id}+{self.cw.public_key}", "x")),
        ):
            client = HttpClient(self.cw.api_url, headers=headers, auth=auth, timeout=TIMEOUT)
            self.addCleanup(client.close)
            with self.assertRaises(PermanentError) as caught:
                client.get("company/companies")
            self.assertEqual(caught.exception.status, 401)

    def test_rate_limit_429_with_retry_after(self):
        self.cw.set_rate_limit(2, 0.3, retry_after=0.05)
        sleep = RecordingSleep()
        client = HttpClient(
            self.cw.api_url,
            headers=self.cw.auth_headers(),
            sleep=sleep,
            max_retries=20,
            timeout=TIMEOUT,
        )
        self.addCleanup(client.close)
        for _ in range(4):
            client.get("company/companies")
        limited = self.cw.requests_matching(status=429)
        self.assertTrue(limited)
        self.assertEqual(set(sleep.delays), {0.05})
        self.assertEqual(client.calls, 4 + len(limited))

    def test_catalog_references_must_exist(self):
        """Once the fake knows subcategories and types, a catalog item must name known ones."""
        subcategory = self.cw.add_subcategory("Voice")
        product_type = self.cw.add_type("Service")
        body = {
            "identifier": "SIP-1",
            "description": "SIP trunk",
            "customerDescription": "SIP trunk",
            "subcategory": {"id": subcategory["id"] + 100},
            "type": {"id": product_type["id"]},
        }
        with self.assertRaises(PermanentError) as caught:
            self.client.post("procurement/catalog", json=body)
        self.assertEqual(caught.exception.body["errors"][0]["field"], "subcategory/id")
        body["subcategory"] = {"id": subcategory["id"]}
        self.assertEqual(
            self.client.request("POST", "procurement/catalog", json=body).status_code, 201
        )
        listed = self.client.get("procurement/subcategories")
        self.assertEqual([s["name"] for s in listed], ["Voice"])


if __name__ == "__main__":
    unittest.main()
