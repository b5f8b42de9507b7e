"""A fake ConnectWise PSA (Manage) REST API v3.0.

Paths (relative to ``base_url``; matched case-insensitively):

* ``GET /login/companyinfo/{companyId}`` (no auth) → ``{"Codebase": "v2025_1/", ...}``
* API under ``/{codebase}apis/3.0/`` (``api_url``):
  ``company/companies``, ``finance/agreements``, ``finance/agreements/{id}/additions``,
  ``procurement/catalog``, ``procurement/subcategories``, ``procurement/types``:
  ``GET`` (list), ``POST`` (→ 201), ``GET .../count``,
  ``GET``/``PUT``/``PATCH`` (JSON-Patch array)/``DELETE`` (→ 204) ``.../{id}``

Every API call needs ``Authorization: Basic base64("{company}+{public}:{private}")``
and a ``clientId`` header (wrong or missing → 401). Lists take ``conditions``,
``orderBy``, ``fields``, ``page``/``pageSize`` (default 25, at most 1000) and answer
with a ``Link`` header (``rel="first"/"prev"/"next"/"last"``) when there is more than
one page; ``pagination-type: forward-only`` with ``pageId`` is supported too. Errors
look like ``{"code":"InvalidObject","message":..,
"errors":[{"code","message","resource","field"}]}``.

Rules, each with the ConnectWise page it comes from (developer.connectwise.com:
the "Developer Guide", the best-practice pages "PSA API Requests" and "PSA
Pagination", and the PSA REST API reference generated from ConnectWise's OpenAPI
file, developer.connectwise.com/Products/Manage/REST), or ASSUMED where no
ConnectWise page states it:

* Basic auth ``company+public:private`` and the ``clientId`` header on every call
  (Developer Guide, Authentication and ClientIds).
* ``page``/``pageSize`` (at most 1000) and the ``Link`` header, navigable or
  forward-only with ``pageId`` ("PSA Pagination").
* POST answers 201 with the record, DELETE 204, 400/401/403/404/409, and 429 with a
  numeric ``Retry-After`` ("PSA API Requests"); PATCH takes a JSON-Patch array and
  errors look like ``{"code":"InvalidObject","message","errors":[...]}`` (REST API
  reference: ``PatchOperation``, ``ErrorResponseMessage``).
* An addition needs ``billCustomer``; a catalog item needs ``identifier``,
  ``description``, ``customerDescription`` (REST API reference: the required
  properties of ``Addition`` and ``CatalogItem``).
* ASSUMED (the reference marks them optional; third-party clients such as
  ConnectPyse and the customer's specification treat them as required): an
  addition needs ``product``, a catalog item ``subcategory`` and ``type``.
* ASSUMED: the catalog ``identifier`` is unique, an agreement needs ``type`` and
  ``company``.

What the server does after it accepted requests (each rule cites its source
where it is implemented): ``conditions`` ``contains``/``like`` run as SQL
Server LIKE (:func:`sql_like`), and the agreement billing cycles bill the
additions effective in them and not cancelled before them
(:meth:`FakeConnectWise.run_billing_cycle`; tests and benches run them).
"""

import base64
import itertools
import re

from odoo.addons.rebilling_base.fakes.base import FakeResponse, FakeServer, HttpError

from .cw_billing import ConnectWiseBillingMixin
from .cw_conditions import ConditionParser, apply_order_by
from .cw_endpoints import ConnectWiseEndpointsMixin
from .cw_records import ConnectWiseRecordsMixin
from .cw_schema import ENTITIES
from .cw_validation import ConnectWiseValidationMixin


# ------------------------------------------------------------------ the fake
class FakeConnectWise(
    ConnectWiseRecordsMixin,
    ConnectWiseBillingMixin,
    ConnectWiseEndpointsMixin,
    ConnectWiseValidationMixin,
    FakeServer,
):
    """A fake ConnectWise PSA API.

    :param company_id: the company (login) id, first part of the Basic user name.
    :param public_key: / :param private_key: the API member keys.
    :param client_id: the required ``clientId`` header value (``None``: any non-empty value).
    :param codebase: what ``/login/companyinfo`` returns, e.g. ``"v2025_1/"``.
    :param rate_limit: / :param rate_window: / :param retry_after: see :class:`FakeServer`.
    """

    name = "fake-connectwise"
    case_insensitive_paths = True

    def __init__(
        self,
        *,
        company_id="fakeco",
        public_key="fake-public",
        private_key="fake-private",
        client_id="00000000-0000-4000-8000-00000000c11e",
        codebase="v2025_1/",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.company_id = company_id
        self.public_key = public_key
        self.private_key = private_key
        self.client_id = client_id
        self.codebase = codebase if codebase.endswith("/") else codebase + "/"
        self._ids = {key: itertools.count(1) for key in ENTITIES}
        self._data = {key: {} for key in ENTITIES}
        # Agreement invoices of the billing cycles run (see run_billing_cycle).
        self._agreement_invoices = []
        self._routes_setup()

    # -------------------------------------------------------------- URLs / auth helpers
    @property
    def api_url(self):
        return f"{self.base_url}/{self.codebase}apis/3.0"

    def auth_header(self):
        raw = f"{self.company_id}+{self.public_key}:{self.private_key}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def auth_headers(self):
        """The headers a client must send."""
        return {"Authorization": self.auth_header(), "clientId": self.client_id or "any"}

    # -------------------------------------------------------------- errors
    def _error_body(self, status, message):
        codes = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "NotFound",
            405: "MethodNotAllowed",
            409: "Conflict",
            429: "TooManyRequests",
        }
        return {"code": codes.get(status, "Error"), "message": message}

    def _invalid(self, key, errors):
        resource = ENTITIES[key]["resource"]
        raise HttpError(
            400,
            {
                "code": "InvalidObject",
                "message": f"{resource} object is invalid",
                "errors": [
                    {"code": code, "message": message, "resource": resource, "field": field_name}
                    for code, message, field_name in errors
                ],
            },
        )

    def _not_found_error(self, what):
        raise HttpError(404, {"code": "NotFound", "message": f"{what} not found"})

    # -------------------------------------------------------------- routes
    def _routes_setup(self):
        self.route("GET", r"/login/companyinfo/(?P<company>[^/]+)", self._company_info)
        api = "/" + re.escape(self.codebase) + r"apis/3\.0/"
        self.route("GET", api + r"system/info", self._system_info)
        for key, spec in ENTITIES.items():
            path = re.escape(spec["path"]).replace(r"\{agreement\}", r"(?P<agreement>\d+)")
            self.route(("GET", "POST"), api + path, self._make(self._collection, key))
            self.route("GET", api + path + "/count", self._make(self._count, key))
            self.route(
                ("GET", "PUT", "PATCH", "DELETE"),
                api + path + r"/(?P<id>\d+)",
                self._make(self._item, key),
            )

    @staticmethod
    def _make(handler, key):
        def bound(request):
            return handler(request, key)

        bound.__name__ = f"{handler.__name__}_{key}"
        return bound

    def _authenticate(self, request):
        if request.path.lower().startswith("/login/"):
            return None
        header = request.header("Authorization", "")
        ok = False
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            user, _, private = decoded.partition(":")
            company, _, public = user.partition("+")
            ok = (
                company.lower() == self.company_id.lower()
                and public == self.public_key
                and private == self.private_key
            )
        client = request.header("clientId")
        if not client or (self.client_id is not None and client != self.client_id):
            ok = False
        if not ok:
            return FakeResponse(401, self._error_body(401, "Invalid or missing credentials"))
        return None

    def _rate_limited_response(self, request, retry_after):
        return FakeResponse(
            429,
            self._error_body(429, "Too many requests, please retry later"),
            {"Retry-After": retry_after},
        )


__all__ = ["ConditionParser", "FakeConnectWise", "apply_order_by"]
