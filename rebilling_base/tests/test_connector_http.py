"""The shared HTTP client core against the fake Xero / Autotask / ConnectWise servers.

Plain ``unittest`` tests over real HTTP on 127.0.0.1: no database, no Odoo registry.
They run under pytest-odoo (module ``odoo.addons.rebilling_base.tests...``) and under
plain pytest, where the pure-Python packages are loaded from their files so that the
addon's ``__init__`` (which needs Odoo) is not imported.
"""

import base64
import logging
import threading
import time
import unittest
from urllib.parse import parse_qs, urlsplit

import requests

try:  # inside the addon package (Odoo, pytest-odoo)
    from ..connector.http import (
        BearerAuth,
        HttpClient,
        PermanentError,
        RateLimiter,
        RetryableError,
    )
    from .fakes import FakeAutotask, FakeConnectWise, FakeXero, pkce_pair
except ImportError:  # plain pytest: this file was imported as a top-level module
    import importlib
    import sys
    import types
    from pathlib import Path

    _ROOT = Path(__file__).resolve().parent.parent
    for _name, _path in (("_rebilling_pure", _ROOT), ("_rebilling_pure.tests", _ROOT / "tests")):
        if _name not in sys.modules:
            _module = types.ModuleType(_name)
            _module.__path__ = [str(_path)]
            sys.modules[_name] = _module
    _http = importlib.import_module("_rebilling_pure.connector.http")
    _fakes = importlib.import_module("_rebilling_pure.tests.fakes")
    BearerAuth, HttpClient, PermanentError = (
        _http.BearerAuth,
        _http.HttpClient,
        _http.PermanentError,
    )
    RateLimiter, RetryableError = _http.RateLimiter, _http.RetryableError
    FakeAutotask, FakeConnectWise = _fakes.FakeAutotask, _fakes.FakeConnectWise
    FakeXero, pkce_pair = _fakes.FakeXero, _fakes.pkce_pair

TIMEOUT = (2, 5)


class RecordingSleep:
    """A sleep that records the delays asked for and really sleeps (capped)."""

    def __init__(self, cap=0.5):
        self.delays = []
        self.cap = cap

    def __call__(self, seconds):
        self.delays.append(round(seconds, 3))
        time.sleep(min(seconds, self.cap))


class FakeClock:
    """A monotonic clock whose sleep only moves the time forward."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def max_in_window(times, window):
    """The largest number of ``times`` inside any half-open interval of ``window`` seconds."""
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        count = sum(1 for t in times[i:] if t < start + window)
        best = max(best, count)
    return best


# ---------------------------------------------------------------------------- rate limiter
class TestRateLimiter(unittest.TestCase):
    def test_sliding_window_with_injected_clock(self):
        clock = FakeClock()
        limiter = RateLimiter(3, 1.0, clock=clock, sleep=clock.sleep)
        starts = []
        for _ in range(7):
            with limiter:
                starts.append(clock())
        self.assertEqual(max_in_window(starts, 1.0), 3)
        self.assertAlmostEqual(starts[-1] - starts[0], 2.0, places=3)
        self.assertEqual(limiter.calls, 7)
        self.assertEqual(limiter.in_flight, 0)

    def test_time_factor_scales_the_window(self):
        clock = FakeClock()
        limiter = RateLimiter(60, 60, time_factor=0.01, clock=clock, sleep=clock.sleep)
        self.assertAlmostEqual(limiter.window, 0.6)
        for _ in range(120):
            limiter.acquire()
            limiter.release()
        self.assertAlmostEqual(clock() - 1000.0, 0.6, places=3)

    def test_pause_holds_back_new_calls(self):
        clock = FakeClock()
        limiter = RateLimiter(clock=clock, sleep=clock.sleep)
        limiter.pause(2.5)
        waited = limiter.acquire()
        limiter.release()
        self.assertAlmostEqual(waited, 2.5)

    def test_concurrency_limit_across_threads(self):
        limiter = RateLimiter(max_concurrent=2)
        lock = threading.Lock()
        state = {"now": 0, "max": 0}

        def work():
            with limiter:
                with lock:
                    state["now"] += 1
                    state["max"] = max(state["max"], state["now"])
                time.sleep(0.03)
                with lock:
                    state["now"] -= 1

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(state["max"], 2)
        self.assertEqual(limiter.in_flight, 0)

    def test_acquire_timeout(self):
        limiter = RateLimiter(max_concurrent=1)
        limiter.acquire()
        with self.assertRaises(TimeoutError):
            limiter.acquire(timeout=0.05)
        limiter.release()


# ---------------------------------------------------------------------------- client core
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
class TestFakeAutotask(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.at = FakeAutotask()
        self.at.start()
        self.addCleanup(self.at.stop)
        zone = requests.get(self.at.zone_url, params={"user": self.at.username}, timeout=TIMEOUT)
        self.assertEqual(zone.status_code, 200)
        self.client = HttpClient(
            zone.json()["url"] + "V1.0",
            headers=self.at.auth_headers(),
            max_retries=0,
            timeout=TIMEOUT,
        )
        self.addCleanup(self.client.close)

    def test_zone_lookup_and_authentication(self):
        unknown = requests.get(self.at.zone_url, params={"user": "nobody"}, timeout=TIMEOUT)
        self.assertEqual(unknown.status_code, 500)
        self.assertEqual(unknown.json(), {"errors": ["Zone information could not be determined"]})
        bad_code = HttpClient(
            self.at.api_url,
            headers={**self.at.auth_headers(), "ApiIntegrationCode": "WRONG"},
            max_retries=0,
            timeout=TIMEOUT,
        )
        self.addCleanup(bad_code.close)
        with self.assertRaises(RetryableError) as caught:
            bad_code.get("Companies/1")
        self.assertEqual(caught.exception.body, {"errors": ["IntegrationCode is invalid."]})
        bad_secret = HttpClient(
            self.at.api_url,
            headers={**self.at.auth_headers(), "Secret": "nope"},
            max_retries=0,
            timeout=TIMEOUT,
        )
        self.addCleanup(bad_secret.close)
        with self.assertRaises(PermanentError) as caught:
            bad_secret.get("Companies/1")
        self.assertEqual(caught.exception.status, 401)

    def test_paging_posts_the_original_body_to_next_page_url(self):
        for i in range(12):
            self.at.add_company(f"Customer {i:02d}")
        self.at.add_company("Vendor")
        body = {
            "MaxRecords": 5,
            "IncludeFields": ["id", "companyName"],
            "Filter": [{"op": "beginsWith", "field": "companyName", "value": "customer"}],
        }
        page = self.client.post("companies/query", json=body)
        names = [c["companyName"] for c in page["items"]]
        details = page["pageDetails"]
        self.assertEqual(details["count"], 5)
        self.assertIn("/query/next?paging=", details["nextPageUrl"])
        self.assertIsNone(details["prevPageUrl"])
        self.assertEqual(set(page["items"][0]), {"id", "companyName"})

        with self.assertRaises(PermanentError) as caught:
            self.client.get(details["nextPageUrl"])
        self.assertEqual(caught.exception.status, 405)

        pages = 1
        while details["nextPageUrl"]:
            page = self.client.post(details["nextPageUrl"], json=body)
            details = page["pageDetails"]
            names += [c["companyName"] for c in page["items"]]
            pages += 1
        self.assertEqual(pages, 3)
        self.assertEqual(names, [f"Customer {i:02d}" for i in range(12)])
        self.assertTrue(details["prevPageUrl"])
        count = self.client.post("Companies/query/count", json=body)
        self.assertEqual(count, {"queryCount": 12})

    def test_filters(self):
        acme = self.at.add_company("Acme Pty Ltd", companyType=1, city="Sydney")
        self.at.add_company("Beta Corp", companyType=3, city=None)
        self.at.add_company("Gamma Ltd", companyType=1, city="Perth", isActive=False)

        def names(*filters):
            body = {"Filter": list(filters)}
            return sorted(
                c["companyName"] for c in self.client.post("Companies/query", json=body)["items"]
            )

        self.assertEqual(
            names({"op": "endsWith", "field": "companyname", "value": "LTD"}),
            ["Acme Pty Ltd", "Gamma Ltd"],
        )
        self.assertEqual(names({"op": "notExist", "field": "city"}), ["Beta Corp"])
        self.assertEqual(names({"op": "in", "field": "companyType", "value": [3]}), ["Beta Corp"])
        self.assertEqual(
            names(
                {"op": "eq", "field": "isActive", "value": True},
                {
                    "op": "or",
                    "items": [
                        {"op": "contains", "field": "companyName", "value": "corp"},
                        {"op": "eq", "field": "id", "value": acme["id"]},
                    ],
                },
            ),
            ["Acme Pty Ltd", "Beta Corp"],
        )
        self.assertEqual(
            names({"op": "notIn", "field": "city", "value": ["Sydney", "Perth"]}), ["Beta Corp"]
        )
        with self.assertRaises(RetryableError) as caught:  # Autotask answers 500 here
            names({"op": "eq", "field": "noSuchField", "value": 1})
        self.assertIn("noSuchField", caught.exception.body["errors"][0])

    def test_contract_charges_rules(self):
        company = self.at.add_company("Acme")
        contract = self.at.add_contract(company["id"], "Managed services")
        code = self.at.add_billing_code("Hardware", unitPrice=12.5, unitCost=7)
        base = {"name": "Licences", "datePurchased": "2026-01-31", "unitQuantity": 4}
        with self.assertRaises(RetryableError) as caught:
            self.client.post(
                f"Contracts/{contract['id']}/Charges", json={**base, "billingCodeID": code["id"]}
            )
        self.assertEqual(caught.exception.body["errors"], ["The field chargeType is required."])
        base["chargeType"] = 1
        with self.assertRaises(RetryableError) as caught:
            self.client.post(f"Contracts/{contract['id']}/Charges", json=base)
        self.assertIn("productID", caught.exception.body["errors"][0])

        created = self.client.post(
            f"Contracts/{contract['id']}/Charges", json={**base, "billingCodeID": code["id"]}
        )
        charge_id = created["itemId"]
        charge = self.client.get(f"ContractCharges/{charge_id}")["item"]
        self.assertEqual(charge["billableAmount"], 50.0)
        self.assertFalse(charge["isBilled"])
        self.client.patch(
            f"Contracts/{contract['id']}/Charges", json={"id": charge_id, "unitQuantity": 5}
        )
        self.assertEqual(self.at.get("ContractCharges", charge_id)["billableAmount"], 62.5)
        found = self.client.post(
            "ContractCharges/query",
            json={"Filter": [{"op": "eq", "field": "contractID", "value": contract["id"]}]},
        )
        self.assertEqual([c["id"] for c in found["items"]], [charge_id])

        self.at.set_charge_billed(charge_id)
        with self.assertRaises(RetryableError):
            self.client.patch(
                f"Contracts/{contract['id']}/Charges", json={"id": charge_id, "unitQuantity": 6}
            )
        with self.assertRaises(RetryableError):
            self.client.delete(f"Contracts/{contract['id']}/Charges/{charge_id}")
        with self.assertRaises(PermanentError) as caught:  # BillingCodes are read-only
            self.client.post("BillingCodes", json={"name": "New"})
        self.assertEqual(caught.exception.status, 405)

    def test_thread_limit(self):
        fake = FakeAutotask(thread_limit=3, latency=0.5)
        fake.start()
        self.addCleanup(fake.stop)
        statuses = []

        def call():
            response = requests.post(
                f"{fake.api_url}/Companies/query",
                json={"Filter": []},
                headers=fake.auth_headers(),
                timeout=TIMEOUT,
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=call) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(statuses), [200, 200, 200, 429, 429])
        self.assertLessEqual(fake.max_in_flight, 3)


# ---------------------------------------------------------------------------- ConnectWise
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


if __name__ == "__main__":
    unittest.main()
