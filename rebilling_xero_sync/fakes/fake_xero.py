"""A fake Xero: OAuth2 identity server, ``/connections`` and part of the Accounting API.

Paths (relative to ``base_url``; matched case-insensitively):

* ``GET  /identity/connect/authorize`` → 302 to ``redirect_uri?code=..&state=..``
* ``POST /identity/connect/token`` (authorization_code with optional PKCE, refresh_token
  with single-use rotating refresh tokens), ``POST /identity/connect/revocation``
* ``GET /connections`` (``?authEventId=``), ``DELETE /connections/{id}``
* ``/api.xro/2.0/``: ``Organisation``, ``TaxRates``, ``Accounts``, ``Contacts``,
  ``Invoices``, ``Invoices/{id}/OnlineInvoice``, ``Invoices/{id}/Email``,
  ``CreditNotes``, ``CreditNotes/{id}/Allocations``

Behaviour copied from the real API, each rule with the vendor page it comes from
(Xero's pages on developer.xero.com; "the spec" is Xero's own OpenAPI file
``xero_accounting.yaml`` in github.com/XeroAPI/Xero-OpenAPI), or ASSUMED where no
Xero page states it:

* OAuth 2.0 authorization code flow, token endpoint, ``/connections`` and the
  tenant of each call ("The OAuth 2.0 flow",
  https://developer.xero.com/documentation/guides/oauth2/auth-flow): Bearer token
  and ``xero-tenant-id`` checks, 401 without a valid token, 403 for a tenant the
  token is not connected to ("HTTP response codes",
  https://developer.xero.com/documentation/api/http-response-codes); the access
  token lives 30 minutes and a refresh token is single-use and rotates (same
  page); a refresh token unused for 60 days expires (same page).
* ``summarizeErrors`` ("Requests and responses", section "Creating many
  resources", https://developer.xero.com/documentation/api/requests-and-responses):
  false answers 200 with per-item ``ValidationErrors``, otherwise 400
  ``ValidationException`` with ``Elements``.
* ``Idempotency-Key`` replay, at most 128 characters (the spec, header parameter
  ``Idempotency-Key`` of every PUT/POST).
* Rate limits ("API rate limits",
  https://developer.xero.com/documentation/guides/oauth2/limits, and the FAQ
  https://developer.xero.com/faq/limits): 60 calls a minute, 5,000 a day and 5 at
  a time per tenant, ``X-MinLimit-Remaining`` / ``X-DayLimit-Remaining`` headers,
  429 with ``Retry-After`` and ``X-Rate-Limit-Problem`` (its values ``minute`` and
  ``day`` as the limits page names the limits; ``concurrent``: ASSUMED).
* MS-JSON dates with their ``...String`` twins ("Requests and responses", JSON
  dates).
* A contact name unique among active contacts ("Contacts",
  https://developer.xero.com/documentation/api/accounting/contacts).

ASSUMED: the idempotency cache never expires here (Xero publishes no window); a
daily-limit 429's ``Retry-After`` is the time until the oldest call of the day
leaves the window.

Choices of this fake where the real behaviour is unknown (ASSUMED): string ``==`` in
``where`` is case-sensitive (use ``.ToLower()``), the duplicate contact-name check
is case-insensitive, ``GET /Invoices`` without ``page`` leaves out line items,
the online invoice of a DRAFT invoice is refused, an invoice whose contact is
given by an unknown ``Name`` is rejected unless ``auto_create_contacts=True``.
"""

import copy
import re
import time
import uuid

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    FakeServer,
    HttpError,
    SlidingWindow,
)

from .xero_common import (
    API,
    DEFAULT_ACCOUNTS,
    DEFAULT_SCOPE,
    _bool_arg,
    _now,
    ms_date,
    parse_ms_date,
)
from .xero_contacts import XeroContactsMixin
from .xero_credit_notes import XeroCreditNotesMixin
from .xero_identity import XeroIdentityMixin, pkce_pair
from .xero_invoices import XeroInvoicesMixin
from .xero_query import (
    WhereError,
    WhereParser,
    apply_order,
)


# ------------------------------------------------------------------ the fake
class FakeXero(
    XeroIdentityMixin, XeroContactsMixin, XeroInvoicesMixin, XeroCreditNotesMixin, FakeServer
):
    """A fake Xero identity + accounting server.

    :param client_id: / :param client_secret: the registered OAuth2 app (more with
        :meth:`add_client`).
    :param tenants: names of the organisations to create (default one, "Demo Company (AU)").
    :param minute_limit: calls per tenant per ``window`` seconds before a 429 (Xero: 60).
    :param window: length of the minute window in seconds (shorten it in tests).
    :param day_limit: calls per tenant per ``day_window`` seconds (Xero: 5000).
    :param concurrent_limit: calls in progress per tenant (Xero: 5; ``None``: unchecked).
    :param retry_after: ``Retry-After`` value sent with a 429 (default: seconds until a slot frees).
    :param access_token_ttl: access token lifetime in seconds (``expires_in``).
    :param auto_create_contacts: create a contact for an invoice naming an unknown contact.
    :param check_scopes: refuse API calls whose token lacks the needed scope (401).
    """

    name = "fake-xero"
    case_insensitive_paths = True

    def __init__(
        self,
        *,
        client_id="fake-xero-client",
        client_secret="fake-xero-secret",
        tenants=("Demo Company (AU)",),
        minute_limit=60,
        window=60.0,
        day_limit=5000,
        day_window=86400.0,
        concurrent_limit=None,
        retry_after=None,
        access_token_ttl=1800,
        auto_create_contacts=False,
        check_scopes=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.clients = {client_id: client_secret}
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.auto_create_contacts = auto_create_contacts
        self.check_scopes = check_scopes
        self.minute_limit = minute_limit
        self.day_limit = day_limit
        self._minute = SlidingWindow(minute_limit, window) if minute_limit else None
        self._day = SlidingWindow(day_limit, day_window) if day_limit else None
        self._xero_retry_after = retry_after
        if concurrent_limit:
            self.set_concurrency_limit(concurrent_limit)
        self._codes = {}
        self._access_tokens = {}
        self._refresh_tokens = {}
        self.tenants = {}
        self.auth_event_id = str(uuid.uuid4())
        for tenant_name in tenants:
            self.add_tenant(tenant_name)
        self._routes_setup()

    # -------------------------------------------------------------- URLs
    @property
    def authorize_url(self):
        return f"{self.base_url}/identity/connect/authorize"

    @property
    def token_url(self):
        return f"{self.base_url}/identity/connect/token"

    @property
    def revocation_url(self):
        return f"{self.base_url}/identity/connect/revocation"

    @property
    def connections_url(self):
        return f"{self.base_url}/connections"

    @property
    def api_url(self):
        return f"{self.base_url}{API}"

    @property
    def default_tenant_id(self):
        return next(iter(self.tenants), None)

    def add_tenant(self, name, *, tenant_id=None, tenant_type="ORGANISATION", accounts=True):
        """Create an organisation (with the default chart of accounts); return its tenantId."""
        tenant_id = tenant_id or str(uuid.uuid4())
        now = _now().strftime("%Y-%m-%dT%H:%M:%S.%f")
        self.tenants[tenant_id] = {
            "connection": {
                "id": str(uuid.uuid4()),
                "authEventId": self.auth_event_id,
                "tenantId": tenant_id,
                "tenantType": tenant_type,
                "tenantName": name,
                "createdDateUtc": now,
                "updatedDateUtc": now,
            },
            "connected": True,
            "contacts": {},
            "accounts": {},
            "invoices": {},
            "credit_notes": {},
            "idempotency": {},
            "invoice_seq": 0,
            "credit_note_seq": 0,
            "lock_dates": {},
        }
        if accounts:
            for code, acc_name, acc_type, tax_type in DEFAULT_ACCOUNTS:
                self.add_account(
                    Code=code, Name=acc_name, Type=acc_type, TaxType=tax_type, tenant_id=tenant_id
                )
        return tenant_id

    def _tenant(self, tenant_id=None):
        tenant_id = tenant_id or self.default_tenant_id
        return self.tenants[tenant_id]

    # -------------------------------------------------------------- routes
    def _routes_setup(self):
        api = re.escape(API)
        self.route("GET", r"/identity/connect/authorize", self._authorize)
        self.route("POST", r"/identity/connect/token", self._token)
        self.route("POST", r"/identity/connect/revocation", self._revocation)
        self.route("GET", r"/connections", self._connections)
        self.route("DELETE", r"/connections/(?P<id>[^/]+)", self._disconnect)
        self.route("GET", api + r"/Organisation", self._organisation)
        self.route("GET", api + r"/TaxRates", self._tax_rates)
        self.route("GET", api + r"/Accounts", self._list_accounts)
        self.route("GET", api + r"/Accounts/(?P<id>[^/]+)", self._get_account)
        self.route("GET", api + r"/Contacts", self._list_contacts)
        self.route(("PUT", "POST"), api + r"/Contacts", self._save_contacts)
        self.route("GET", api + r"/Contacts/(?P<id>[^/]+)", self._get_contact)
        self.route("POST", api + r"/Contacts/(?P<id>[^/]+)", self._save_contacts)
        self.route("GET", api + r"/Invoices", self._list_invoices)
        self.route(("PUT", "POST"), api + r"/Invoices", self._save_invoices)
        self.route("GET", api + r"/Invoices/(?P<id>[^/]+)", self._get_invoice)
        self.route("POST", api + r"/Invoices/(?P<id>[^/]+)", self._save_invoices)
        self.route("GET", api + r"/Invoices/(?P<id>[^/]+)/OnlineInvoice", self._online_invoice)
        self.route("POST", api + r"/Invoices/(?P<id>[^/]+)/Email", self._email_invoice)
        self.route("GET", api + r"/CreditNotes", self._list_credit_notes)
        self.route(("PUT", "POST"), api + r"/CreditNotes", self._save_credit_notes)
        self.route("GET", api + r"/CreditNotes/(?P<id>[^/]+)", self._get_credit_note)
        self.route("POST", api + r"/CreditNotes/(?P<id>[^/]+)", self._save_credit_notes)
        self.route(("PUT", "POST"), api + r"/CreditNotes/(?P<id>[^/]+)/Allocations", self._allocate)

    # -------------------------------------------------------------- hooks
    def _error_body(self, status, message):
        titles = {
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            405: "Method Not Allowed",
            429: "Too Many Requests",
        }
        return {
            "Type": None,
            "Title": titles.get(status, "Error"),
            "Status": status,
            "Detail": message,
            "Instance": str(uuid.uuid4()),
            "Extensions": {},
        }

    def _is_api(self, request):
        return request.path.lower().startswith(API.lower() + "/")

    def _rate_key(self, request):
        return request.context.get("tenant_id")

    def _check_rate(self, request):
        tenant_id = self._rate_key(request)
        if tenant_id is None:
            return None
        problem, wait = None, 0.0
        now = time.monotonic()
        # Check both windows before counting, so a refused call is counted in neither.
        with self._state_lock:
            for label, counter in (("day", self._day), ("minute", self._minute)):
                if counter is None:
                    continue
                if counter.remaining(tenant_id, now) <= 0:
                    _, _, wait = counter.hit(tenant_id, now)
                    problem = label
                    break
            if problem is None:
                for counter in (self._minute, self._day):
                    if counter is not None:
                        counter.hit(tenant_id, now)
        self._remember_remaining(request, tenant_id)
        if problem is None:
            return None
        retry_after = self._retry_after_value(self._xero_retry_after, wait)
        return FakeResponse(
            429,
            self._error_body(429, f"Rate limit exceeded: {problem}"),
            {"Retry-After": retry_after, "X-Rate-Limit-Problem": problem},
        )

    def _remember_remaining(self, request, tenant_id):
        if self._minute is not None:
            request.context["min_remaining"] = max(0, self._minute.remaining(tenant_id))
        if self._day is not None:
            request.context["day_remaining"] = max(0, self._day.remaining(tenant_id))

    def _concurrency_key(self, request):
        return request.context.get("tenant_id")

    def _concurrency_response(self, request):
        return FakeResponse(
            429,
            self._error_body(429, "Rate limit exceeded: concurrent"),
            {"Retry-After": "1", "X-Rate-Limit-Problem": "concurrent"},
        )

    def _after_route(self, request, response):
        if "min_remaining" in request.context:
            response.headers.setdefault(
                "X-MinLimit-Remaining", str(request.context["min_remaining"])
            )
        if "day_remaining" in request.context:
            response.headers.setdefault(
                "X-DayLimit-Remaining", str(request.context["day_remaining"])
            )
        if "tenant_id" in request.context:
            response.headers.setdefault("X-AppMinLimit-Remaining", "9999")
        return response

    # -------------------------------------------------------------- API helpers
    def _envelope(self, key, items, pagination=None):
        body = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": "Fake Xero",
            "DateTimeUTC": f"/Date({int(time.time() * 1000)})/",
        }
        if pagination is not None:
            body["pagination"] = pagination
        body[key] = items
        return body

    def _request_tenant(self, request):
        return self.tenants[request.context["tenant_id"]]

    def _filter(self, request, items, *, id_field=None):
        where = request.arg("where", ignore_case=True)
        if where:
            try:
                predicate = WhereParser(where).parse()
            except WhereError as exc:
                raise HttpError(
                    400,
                    {"ErrorNumber": 16, "Type": "QueryParseException", "Message": str(exc)},
                )
            items = [item for item in items if predicate(item)]
        ids = request.arg("IDs", ignore_case=True)
        if ids and id_field:
            wanted = {i.strip().lower() for i in ids.split(",") if i.strip()}
            items = [item for item in items if item[id_field].lower() in wanted]
        return apply_order(items, request.arg("order", ignore_case=True))

    def _page(self, request, items, key, *, default_all=True):
        """``page`` (1-based) and ``pageSize`` (default 100, at most 1000) with the
        ``pagination`` block of the envelope (the spec's list responses; paging and
        ``pageSize``: "Requests and responses", Paging,
        https://developer.xero.com/documentation/api/requests-and-responses; the cap
        of 1000: ASSUMED, the spec gives ``pageSize`` no maximum). Without ``page``:
        every record, no pagination (ASSUMED for collections Xero always pages)."""
        page = request.arg("page", ignore_case=True)
        if page is None and default_all:
            return self._envelope(key, items)
        try:
            page = max(1, int(page or 1))
            size = min(1000, max(1, int(request.arg("pageSize", 100, ignore_case=True))))
        except ValueError:
            raise HttpError(400, self._error_body(400, "page and pageSize must be integers"))
        count = len(items)
        chunk = items[(page - 1) * size : page * size]
        pagination = {
            "page": page,
            "pageSize": size,
            "pageCount": (count + size - 1) // size,
            "itemCount": count,
        }
        return self._envelope(key, chunk, pagination)

    def _items(self, request, key):
        body = request.json
        if isinstance(body, dict) and key in body:
            items = body[key]
        elif isinstance(body, dict):
            items = [body]
        elif isinstance(body, list):
            items = body
        else:
            items = None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise HttpError(
                400,
                {
                    "ErrorNumber": 14,
                    "Type": "PostDataInvalidException",
                    "Message": f"Expected a {key} collection in the request body.",
                },
            )
        return copy.deepcopy(items)

    def _work_copy(self, tenant):
        return {
            "contacts": copy.deepcopy(tenant["contacts"]),
            "invoices": copy.deepcopy(tenant["invoices"]),
            "credit_notes": copy.deepcopy(tenant["credit_notes"]),
            "accounts": tenant["accounts"],
            "invoice_seq": tenant["invoice_seq"],
            "credit_note_seq": tenant["credit_note_seq"],
            "lock_dates": tenant["lock_dates"],
        }

    def _commit(self, tenant, work):
        tenant["contacts"] = work["contacts"]
        tenant["invoices"] = work["invoices"]
        tenant["credit_notes"] = work["credit_notes"]
        tenant["invoice_seq"] = work["invoice_seq"]
        tenant["credit_note_seq"] = work["credit_note_seq"]

    def _idempotent(self, request, produce):
        """Run ``produce()`` once per Idempotency-Key and replay its answer afterwards."""
        key = request.header("Idempotency-Key")
        if key is not None and len(key) > 128:
            raise HttpError(
                400, self._error_body(400, "Idempotency-Key must be at most 128 characters")
            )
        tenant = self._request_tenant(request)
        with self._state_lock:
            if key and key in tenant["idempotency"]:
                status, body, headers = tenant["idempotency"][key]
                request.context["idempotent_replay"] = True
                return FakeResponse(status, copy.deepcopy(body), dict(headers))
            try:
                response = produce()
            except HttpError as exc:
                response = exc.response()
            if key:
                tenant["idempotency"][key] = (
                    response.status,
                    copy.deepcopy(response.body),
                    dict(response.headers),
                )
            return response

    def _save_batch(self, request, key, apply_one):
        summarize = _bool_arg(request.arg("summarizeErrors", ignore_case=True), True)
        upsert = request.method == "POST"
        items = self._items(request, key)
        if request.params.get("id"):
            for item in items:
                id_field = {"Contacts": "ContactID", "CreditNotes": "CreditNoteID"}
                item.setdefault(id_field.get(key, "InvoiceID"), request.params["id"])

        def produce():
            tenant = self._request_tenant(request)
            work = self._work_copy(tenant)
            results, failed = [], []
            for item in items:
                result, errors = apply_one(
                    work, copy.deepcopy(item), upsert=upsert, request=request
                )
                flag = "HasValidationErrors" if key == "Contacts" else "HasErrors"
                if errors:
                    echo = dict(item)
                    echo[flag] = True
                    echo["StatusAttributeString"] = "ERROR"
                    echo["ValidationErrors"] = [{"Message": m} for m in errors]
                    results.append(echo)
                    failed.append(echo)
                else:
                    if not summarize:
                        result[flag] = False
                        result["StatusAttributeString"] = "OK"
                    results.append(result)
            if failed and summarize:
                return FakeResponse(
                    400,
                    {
                        "ErrorNumber": 10,
                        "Type": "ValidationException",
                        "Message": "A validation exception occurred",
                        "Elements": failed,
                    },
                )
            self._commit(tenant, work)
            return FakeResponse(200, self._envelope(key, results))

        return self._idempotent(request, produce)


__all__ = ["DEFAULT_SCOPE", "FakeXero", "WhereParser", "ms_date", "parse_ms_date", "pkce_pair"]
