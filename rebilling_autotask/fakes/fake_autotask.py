"""A fake Autotask PSA REST API (v1.0).

Paths (relative to ``base_url``; matched case-insensitively):

* ``GET /atservicesrest/v1.0/zoneInformation?user=`` (no auth) →
  ``url`` = ``{base_url}/ATServicesRest/``
* ``GET /ATServicesRest/V1.0/ThresholdInformation``, ``/VersionInformation``
* ``/ATServicesRest/V1.0/{Entity}/query`` (POST body or GET ``?search=``), ``/query/count``,
  ``/query/next?paging=..`` (POST with the original body; GET → 405 unless ``search=`` is given)
* ``GET /{Entity}/{id}``, ``GET /{Entity}/entityInformation[/fields]``
* ``POST``/``PATCH``/``PUT /{Entity}`` for Companies, Contracts and Products
* ``POST``/``PATCH``/``PUT /Contracts/{id}/Charges``,
  ``GET``/``DELETE /Contracts/{cid}/Charges/{id}``, ``POST /Contracts/{id}/Charges/query``,
  root ``ContractCharges/query`` and ``ContractCharges/{id}``
* BillingCodes: query and read only

Every call but the zone lookup needs ``ApiIntegrationCode`` (bad → 500
``{"errors":["IntegrationCode is invalid."]}``), ``UserName`` and ``Secret`` (bad → 401).

Rules enforced, each with the Autotask page it comes from (Autotask's developer help;
paths below are under ``https://autotask.net/help/DeveloperHelp/Content/APIs/``; the
REST swagger of a zone, ``webservices2.autotask.net/ATServicesRest/swagger``), or
ASSUMED where no Autotask page states it:

* The zone lookup needs no authentication ("getZoneInfo()",
  ``SOAP/APICalls/GetZoneInfoCall.htm``) and is exempt from thread limits ("API
  thread limiting", ``General/ThreadLimiting.htm``); the REST path and its answer
  (``zoneName``, ``url``, ``webUrl``, ``ci``) are the swagger's ``ZoneInformation``.
* Every other call needs the tracking identifier ("The API tracking identifier",
  ``https://autotask.net/help/Content/4_Admin/1CompanySettings_Users/ResourcesUsersHR/
  Resources/API_Tracking_Identifier.htm``), user name and secret; failed
  authentication is a 401 ("REST API security and authentication",
  ``REST/General_Topics/REST_Security_Auth.htm``).
* ASSUMED (no Autotask page gives the text; client libraries report it): a bad
  integration code is HTTP 500 ``{"errors":["IntegrationCode is invalid."]}``, and
  business-rule errors answer HTTP 500 (``error_status``) with ``{"errors": [...]}``
  — a client must not take them for an outage.
* A charge needs ``productID`` or ``billingCodeID``; update and delete only while
  ``isBilled`` is false ("ContractCharges", ``REST/Entities/ContractChargesEntity.htm``).
* BillingCodes are read only ("BillingCodes", ``REST/Entities/BillingCodesEntity.htm``);
  a contract create sets ``contractType`` ("Contracts",
  ``REST/Entities/ContractsEntity.htm``).
* Pages of at most 500 (``MaxRecords``), ``IncludeFields`` with ``id`` beyond 500
  results, ``pageDetails.nextPageUrl`` ("Advanced query features of the REST API",
  ``REST/API_Calls/REST_Advanced_Query_Features.htm``); ASSUMED: the next page is
  POSTed the original body (client libraries report a 405 for GET).
* Required fields: Contracts and ContractCharges as their field info marks them
  (see ``ENTITIES``); ASSUMED for the others (read them from
  ``entityInformation/fields`` in a real Autotask): Companies ``companyName``,
  ``companyType``; Products ``name``, ``isActive``, ``isSerialized``,
  ``productBillingCodeID`` (fields of "Products", ``REST/Entities/ProductsEntity.htm``).
* The thread limit is 3 per tracking identifier and entity ("API thread
  limiting"); ASSUMED: going over it answers 429.
"""

import copy
import hashlib
import itertools
import json
import re
from datetime import UTC, datetime
from urllib.parse import quote

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    FakeServer,
    HttpError,
    find_key_ci,
    get_ci,
)

PREFIX = r"/atservicesrest/v1\.0"
MAX_RECORDS = 500
THREAD_LIMIT_MESSAGE = (
    "Thread Threshold Exceeded — The Autotask API thread threshold of 3 threads has been exceeded."
)

ENTITIES = {
    "companies": {
        "name": "Companies",
        "create": True,
        "update": True,
        "udf": True,
        "required": ("companyName", "companyType"),
        "fields": (
            "id companyName companyNumber companyType isActive phone fax address1 address2 city "
            "state postalCode countryID ownerResourceID parentCompanyID taxID taxRegionID "
            "invoiceMethod webAddress createDate lastActivityDate lastTrackedModifiedDateTime"
        ),
        "defaults": {"isActive": True},
        "picklists": {
            "companyType": [
                (1, "Customer"),
                (2, "Lead"),
                (3, "Prospect"),
                (4, "Dead"),
                (6, "Cancellation"),
                (7, "Vendor"),
                (8, "Partner"),
            ]
        },
    },
    "contracts": {
        "name": "Contracts",
        "create": True,
        "update": True,
        "udf": True,
        # DOCUMENTED: the required fields of a Contract as Autotask's field info marks
        # them (isRequired), generated into ecitsolutions/Autotask
        # Functions/New-AtwsContract.ps1 (Mandatory: AccountID, i.e. companyID in REST,
        # ContractName, ContractType, EndDate, StartDate, Status,
        # TimeReportingRequiresStartAndStopTimes); see the field definitions (Is
        # Required) of Autotask's "Contracts" entity page.
        "required": (
            "contractName",
            "companyID",
            "contractType",
            "startDate",
            "endDate",
            "status",
            "timeReportingRequiresStartAndStopTimes",
        ),
        "fields": (
            "id contractName contractNumber companyID contactID contractType contractCategory "
            "status startDate endDate description billingPreference billToCompanyID "
            "purchaseOrderNumber setupFee setupFeeBillingCodeID estimatedRevenue estimatedCost "
            "estimatedHours isDefaultContract serviceLevelAgreementID "
            "timeReportingRequiresStartAndStopTimes exclusionContractID renewedContractID "
            "organizationalLevelAssociationID lastModifiedDateTime"
        ),
        "defaults": {"isDefaultContract": False},
        "picklists": {
            "contractType": [
                (1, "Time and Materials"),
                (3, "Fixed Price"),
                (4, "Block Hours"),
                (6, "Retainer"),
                (7, "Recurring Service"),
                (8, "Per Ticket"),
            ],
            "status": [(0, "Inactive"), (1, "Active")],
        },
    },
    "products": {
        "name": "Products",
        "create": True,
        "update": True,
        "udf": True,
        "required": ("name", "isActive", "isSerialized", "productBillingCodeID"),
        "fields": (
            "id name description sku unitCost unitPrice msrp markupRate productBillingCodeID "
            "chargeBillingCodeID productCategory isActive isSerialized isEligibleForRma "
            "doesNotRequireProcurement manufacturerName manufacturerProductName "
            "vendorProductNumber defaultVendorID externalProductID internalProductID billingType "
            "periodType priceCostMethod link"
        ),
        "defaults": {"isActive": True, "isSerialized": False},
        "picklists": {},
    },
    "billingcodes": {
        "name": "BillingCodes",
        "create": False,
        "update": False,
        "udf": False,
        "required": (),
        "fields": (
            "id name description externalNumber billingCodeType useType isActive "
            "isExcludedFromNewContracts unitCost unitPrice markupRate department "
            "generalLedgerAccount taxCategoryID afterHoursWorkType"
        ),
        "defaults": {"isActive": True, "isExcludedFromNewContracts": False},
        "picklists": {
            "useType": [
                (1, "Work Type"),
                (2, "Material"),
                (3, "Internal Time"),
                (4, "Expense Category"),
                (5, "Recurring Contract Service"),
                (6, "Milestone"),
            ],
        },
    },
    "contractcharges": {
        "name": "ContractCharges",
        "create": False,  # only through /Contracts/{id}/Charges
        "update": False,
        "udf": False,
        # DOCUMENTED: ContractCost (ContractCharges in REST) requires ContractID, CostType
        # (chargeType), DatePurchased, Name, UnitQuantity (see the field definitions of
        # Autotask's "ContractCharges" entity page) [ecitsolutions/Autotask
        # Functions/New-AtwsContractCost.ps1, generated from Autotask's field info].
        "required": ("name", "datePurchased", "unitQuantity", "chargeType"),
        "fields": (
            "id contractID name description datePurchased unitQuantity unitCost unitPrice "
            "billableAmount extendedCost productID billingCodeID chargeType status "
            "statusLastModifiedBy statusLastModifiedDate isBillableToCompany isBilled notes "
            "purchaseOrderNumber internalPurchaseOrderNumber contractServiceID "
            "contractServiceBundleID createDate creatorResourceID internalCurrencyBillableAmount "
            "internalCurrencyUnitPrice organizationalLevelAssociationID"
        ),
        "defaults": {
            "isBilled": False,
            "isBillableToCompany": True,
            "status": 1,
        },
        "picklists": {
            "status": [(1, "Ready to Deliver/Ship"), (2, "Delivered/Shipped Full")],
            "chargeType": [(1, "Operational"), (2, "Capitalized")],
        },
        "read_only": (
            "billableAmount extendedCost createDate isBilled internalCurrencyBillableAmount "
            "internalCurrencyUnitPrice statusLastModifiedDate"
        ),
    },
}
CHILDREN = {("contracts", "charges"): "contractcharges"}
FILTER_OPS = {
    "eq",
    "noteq",
    "gt",
    "gte",
    "lt",
    "lte",
    "beginswith",
    "endswith",
    "contains",
    "exist",
    "notexist",
    "in",
    "notin",
}


def _iso_now():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_dt(value):
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _norm_pair(left, right):
    """Make a record value and a filter value comparable."""
    if isinstance(left, bool) or isinstance(right, bool):

        def as_bool(v):
            if isinstance(v, str):
                return v.strip().lower() == "true"
            return bool(v) if v is not None else None

        return as_bool(left), as_bool(right)
    left_dt, right_dt = _parse_dt(left), _parse_dt(right)
    if left_dt and right_dt:
        return left_dt, right_dt
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            return str(left), str(right)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    return left, right


def _match_op(op, value, target):
    if op == "exist":
        return value is not None and value != ""
    if op == "notexist":
        return value is None or value == ""
    if op in ("in", "notin"):
        targets = target if isinstance(target, list) else [target]
        found = False
        for candidate in targets:
            if value is not None and candidate is not None:
                a, b = _norm_pair(value, candidate)
                found = found or a == b
        return found if op == "in" else not found
    if op == "eq":
        if value is None or target is None:
            return value is None and target is None
        a, b = _norm_pair(value, target)
        return a == b
    if op == "noteq":
        return not _match_op("eq", value, target)
    if value is None or target is None:
        return False
    if op in ("beginswith", "endswith", "contains"):
        text, part = str(value).casefold(), str(target).casefold()
        return {
            "beginswith": text.startswith(part),
            "endswith": text.endswith(part),
            "contains": part in text,
        }[op]
    a, b = _norm_pair(value, target)
    try:
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    except TypeError:
        return False


class FakeAutotask(FakeServer):
    """A fake Autotask REST API.

    :param username: / :param secret: the API user (more with :meth:`add_user`).
    :param integration_code: the API tracking identifier (``ApiIntegrationCode``).
    :param thread_limit: requests in flight per (integration code, entity) before a 429
        (Autotask: 3; ``None``: unchecked). Combine with ``latency`` to test it.
    :param error_status: HTTP status of business-rule errors (500 like Autotask; 400 if preferred).
    :param zone_name: the ``zoneName`` of the zone lookup.
    """

    name = "fake-autotask"
    case_insensitive_paths = True

    def __init__(
        self,
        *,
        username="api-user@example.com",
        secret="fake-secret",
        integration_code="FAKE-TRACKING-ID",
        thread_limit=None,
        error_status=500,
        zone_name="Fake Zone",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.users = {username: secret}
        self.username = username
        self.secret = secret
        self.integration_codes = {integration_code}
        self.integration_code = integration_code
        self.error_status = error_status
        self.zone_name = zone_name
        self.thread_limit = thread_limit
        # A tampered or misconfigured answer: the zone's URL, the base of the page links.
        self.zone_answer_url = None
        self.page_link_base = None
        if thread_limit:
            self.set_concurrency_limit(thread_limit)
        self._ids = itertools.count(29683000)
        self._data = {key: {} for key in ENTITIES}
        self._invoices = []  # what approve_and_post billed
        self._routes_setup()

    # -------------------------------------------------------------- URLs / auth helpers
    @property
    def api_url(self):
        """The zone URL plus ``V1.0`` (what a client builds from the zone lookup)."""
        return f"{self.base_url}/ATServicesRest/V1.0"

    @property
    def zone_url(self):
        return f"{self.base_url}/atservicesrest/v1.0/zoneInformation"

    def auth_headers(self):
        """The three headers a client must send."""
        return {
            "ApiIntegrationCode": self.integration_code,
            "UserName": self.username,
            "Secret": self.secret,
        }

    def add_user(self, username, secret):
        self.users[username] = secret

    # -------------------------------------------------------------- seeding
    def _insert(self, key, fields):
        spec = ENTITIES[key]
        record = dict.fromkeys(spec["fields"].split())
        record.update(copy.deepcopy(spec["defaults"]))
        if spec["udf"]:
            record["userDefinedFields"] = []
        record.update(copy.deepcopy(fields))
        with self._state_lock:
            if not record.get("id"):
                record["id"] = next(self._ids)
            self._data[key][record["id"]] = record
        return copy.deepcopy(record)

    def add_company(self, company_name=None, **fields):
        """Add a company (no validation); return it."""
        if company_name is not None:
            fields["companyName"] = company_name
        fields.setdefault("companyType", 1)
        fields.setdefault("createDate", _iso_now())
        return self._insert("companies", fields)

    def add_contract(self, company_id=None, contract_name=None, **fields):
        """Add a contract (no validation); return it."""
        if company_id is not None:
            fields["companyID"] = company_id
        if contract_name is not None:
            fields["contractName"] = contract_name
        fields.setdefault("contractType", 7)
        fields.setdefault("status", 1)
        fields.setdefault("startDate", "2026-01-01T00:00:00")
        fields.setdefault("endDate", "2027-12-31T00:00:00")
        fields.setdefault("timeReportingRequiresStartAndStopTimes", 0)
        return self._insert("contracts", fields)

    def add_product(self, name=None, **fields):
        """Add a product (no validation); return it."""
        if name is not None:
            fields["name"] = name
        return self._insert("products", fields)

    def add_billing_code(self, name=None, **fields):
        """Add a billing code (``useType`` 2 = Material in this fake's picklist); return it."""
        if name is not None:
            fields["name"] = name
        fields.setdefault("useType", 2)
        return self._insert("billingcodes", fields)

    def add_charge(self, contract_id, **fields):
        """Add a contract charge through the API rules; return it (ValueError if invalid)."""
        try:
            with self._state_lock:
                record = self._save_charge(contract_id, {"chargeType": 1, **fields}, existing=None)
        except HttpError as exc:
            raise ValueError("; ".join(exc.body["errors"]))
        return copy.deepcopy(record)

    def approve_and_post(self, until=None):
        """Approve and Post every billable charge not billed yet (purchased on or before
        the day ``until``, if given); return the invoice (``lines``, ``total``).

        What Autotask does after it accepted the charges: billable charges "appear in
        Approve and Post" [Autotask "ContractCharges" entity page] and are billed
        once: a posted charge is ``isBilled`` (update and delete refused, same page);
        "the amounts for individual billing items are rounded to two decimal places
        when approved and posted"
        [autotask.net help "Contracts and billing system settings"]; a negative unit
        price is a credit on the invoice [KB "How can I issue a credit..."]. One
        invoice for all companies: ASSUMED (the totals are what the tests compare).
        """
        lines = []
        with self._state_lock:
            for charge in self._data["contractcharges"].values():
                if charge["isBilled"] or not charge.get("isBillableToCompany"):
                    continue
                purchased = _parse_dt(charge["datePurchased"])
                if until is not None and purchased.date() > until:
                    continue
                charge["isBilled"] = True
                lines.append(
                    {"chargeID": charge["id"], "amount": round(charge["billableAmount"], 2)}
                )
            invoice = {"lines": lines, "total": round(sum(x["amount"] for x in lines), 2)}
            self._invoices.append(invoice)
        return copy.deepcopy(invoice)

    def billed_total(self):
        """What Approve and Post billed so far."""
        with self._state_lock:
            return round(sum(invoice["total"] for invoice in self._invoices), 2)

    def invoices(self):
        with self._state_lock:
            return copy.deepcopy(self._invoices)

    def set_charge_billed(self, charge_id, billed=True):
        """Mark a charge billed (Autotask does it when an invoice is posted)."""
        with self._state_lock:
            self._data["contractcharges"][charge_id]["isBilled"] = billed

    def edit_charge(self, charge_id, **fields):
        """What a user does to an unbilled charge in Autotask's UI (its price, its
        quantity, "Billable" unticked); ``billableAmount`` follows [Autotask
        "ContractCharges" entity page: unitQuantity * unitPrice]."""
        with self._state_lock:
            charge = self._data["contractcharges"][charge_id]
            if charge["isBilled"]:
                raise ValueError("A billed charge cannot be changed.")
            charge.update(fields)
            charge["billableAmount"] = round(
                (charge.get("unitQuantity") or 0) * (charge.get("unitPrice") or 0), 2
            )

    # -------------------------------------------------------------- inspection
    def records(self, entity):
        """All records of an entity (``"Companies"``, ``"ContractCharges"``, ...)."""
        with self._state_lock:
            return copy.deepcopy(list(self._data[self._entity_key(entity)].values()))

    def get(self, entity, record_id):
        with self._state_lock:
            return copy.deepcopy(self._data[self._entity_key(entity)].get(int(record_id)))

    def companies(self):
        return self.records("companies")

    def contracts(self):
        return self.records("contracts")

    def products(self):
        return self.records("products")

    def billing_codes(self):
        return self.records("billingcodes")

    def charges(self, contract_id=None):
        items = self.records("contractcharges")
        if contract_id is not None:
            items = [c for c in items if c["contractID"] == contract_id]
        return items

    # -------------------------------------------------------------- plumbing
    def _entity_key(self, name):
        key = str(name).lower()
        if key not in ENTITIES:
            raise HttpError(404, {"errors": [f"Entity {name} not found."]})
        return key

    def _fail(self, *messages, status=None):
        raise HttpError(status or self.error_status, {"errors": list(messages)})

    def _error_body(self, status, message):
        return {"errors": [message]}

    def _routes_setup(self):
        p = PREFIX
        e = r"(?P<entity>[A-Za-z]+)"
        child = r"(?P<parent>[A-Za-z]+)/(?P<pid>\d+)/(?P<child>[A-Za-z]+)"
        self.route("GET", p + r"/zoneInformation", self._zone)
        self.route("GET", p + r"/ThresholdInformation", self._threshold)
        self.route("GET", p + r"/VersionInformation", self._version)
        self.route("GET", p + "/" + e + r"/entityInformation", self._entity_info)
        self.route("GET", p + "/" + e + r"/entityInformation/fields", self._entity_fields)
        self.route(("GET", "POST"), p + "/" + e + r"/query", self._query)
        self.route(("GET", "POST"), p + "/" + e + r"/query/count", self._count)
        self.route(("GET", "POST"), p + "/" + e + r"/query/next", self._query_next)
        self.route("GET", p + "/" + e + r"/(?P<id>\d+)", self._get)
        self.route(("POST", "PATCH", "PUT"), p + "/" + e, self._write)
        self.route("DELETE", p + "/" + e + r"/(?P<id>\d+)", self._delete_root)
        self.route(("POST", "PATCH", "PUT"), p + "/" + child, self._write_child)
        self.route(("GET", "POST"), p + "/" + child + r"/query", self._query)
        self.route(("GET", "POST"), p + "/" + child + r"/query/next", self._query_next)
        self.route(("GET", "DELETE"), p + "/" + child + r"/(?P<id>\d+)", self._child_item)

    def _is_zone(self, request):
        return request.path.lower().rstrip("/").endswith("/zoneinformation")

    def _authenticate(self, request):
        if self._is_zone(request):
            return None
        code = request.header("ApiIntegrationCode")
        if code not in self.integration_codes:
            return FakeResponse(500, {"errors": ["IntegrationCode is invalid."]})
        user = request.header("UserName")
        if user not in self.users or self.users[user] != request.header("Secret"):
            return FakeResponse(401, {"errors": ["Unauthorized"]})
        request.context["integration_code"] = code
        return None

    def _rate_key(self, request):
        return request.context.get("integration_code")

    def _rate_limited_response(self, request, retry_after):
        return FakeResponse(
            429,
            {"errors": ["The hourly request threshold has been exceeded."]},
            {"Retry-After": retry_after},
        )

    def _concurrency_key(self, request):
        code = request.context.get("integration_code")
        if code is None:
            return None
        parts = request.path.lower().split("/")
        entity = parts[3] if len(parts) > 3 else ""
        return (code, entity)

    def _concurrency_response(self, request):
        return FakeResponse(429, {"errors": [THREAD_LIMIT_MESSAGE]})

    # -------------------------------------------------------------- misc endpoints
    def _zone(self, request):
        user = request.arg("user", ignore_case=True)
        if user not in self.users:
            return FakeResponse(500, {"errors": ["Zone information could not be determined"]})
        return {
            "zoneName": self.zone_name,
            "url": self.zone_answer_url or f"{self.base_url}/ATServicesRest/",
            "webUrl": f"{self.base_url}/",
            "ci": 1,
        }

    def _threshold(self, request):
        code = request.context.get("integration_code")
        count = sum(1 for r in self.requests if get_ci(r.headers, "ApiIntegrationCode") == code)
        return {
            "externalRequestThreshold": self._rate.limit if self._rate else 10000,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": count,
        }

    def _version(self, request):
        return {"apiVersions": ["1.0"]}

    def _entity_info(self, request):
        key = self._entity_key(request.params["entity"])
        spec = ENTITIES[key]
        return {
            "info": {
                "name": spec["name"],
                "canCreate": spec["create"] or key == "contractcharges",
                "canUpdate": spec["update"] or key == "contractcharges",
                "canQuery": True,
                "canDelete": key == "contractcharges",
                "hasUserDefinedFields": spec["udf"],
                "supportsWebhookCallouts": False,
            }
        }

    def _entity_fields(self, request):
        key = self._entity_key(request.params["entity"])
        spec = ENTITIES[key]
        read_only = set(spec.get("read_only", "").split()) | {"id"}
        fields = []
        for name in spec["fields"].split():
            picklist = spec["picklists"].get(name)
            fields.append(
                {
                    "name": name,
                    "dataType": "integer" if name == "id" or name.endswith("ID") else "string",
                    "isRequired": name in spec["required"],
                    "isReadOnly": name in read_only,
                    "isQueryable": True,
                    "isReference": name.endswith("ID") and name != "id",
                    "isPickList": picklist is not None,
                    "picklistValues": [
                        {
                            "value": str(value),
                            "label": label,
                            "isDefaultValue": False,
                            "sortOrder": index,
                            "isActive": True,
                            "isSystem": True,
                        }
                        for index, (value, label) in enumerate(picklist or [])
                    ]
                    or None,
                }
            )
        return {"fields": fields}

    # -------------------------------------------------------------- queries
    def _query_target(self, request):
        """``(entity key, extra predicate, url path of the query)`` of a query request."""
        if "parent" in request.params:
            child_key, pid = self._child_target(request)
            parent = ENTITIES[request.params["parent"].lower()]["name"]
            path = f"{parent}/{pid}/{request.params['child']}"
            return child_key, (lambda r: r.get("contractID") == pid), path
        key = self._entity_key(request.params["entity"])
        return key, None, ENTITIES[key]["name"]

    def _query_spec(self, request):
        if request.method == "GET":
            raw = request.arg("search", ignore_case=True)
            if raw is None:
                return {}
            try:
                spec = json.loads(raw)
            except ValueError:
                self._fail("The search parameter is not valid JSON.")
        else:
            spec = request.json
        if spec is None:
            return {}
        if not isinstance(spec, dict):
            self._fail("The query body must be a JSON object.")
        return spec

    def _compile(self, key, items):
        spec = ENTITIES[key]
        names = {n.lower(): n for n in spec["fields"].split()}
        predicates = []
        for item in items:
            if not isinstance(item, dict):
                self._fail("Each filter must be an object.")
            op = str(get_ci(item, "op", "")).lower()
            if op in ("and", "or"):
                subs = get_ci(item, "items") or []
                if not isinstance(subs, list) or not subs:
                    self._fail(f"The '{op}' filter needs items.")
                compiled = self._compile(key, subs)
                if op == "and":
                    predicates.append(lambda r, c=compiled: all(p(r) for p in c))
                else:
                    predicates.append(lambda r, c=compiled: any(p(r) for p in c))
                continue
            if op not in FILTER_OPS:
                self._fail(f"Unknown filter operation '{op}'.")
            field_name = get_ci(item, "field")
            if not field_name:
                self._fail("A filter needs a field.")
            value = get_ci(item, "value")
            if op in ("in", "notin") and not isinstance(value, list):
                self._fail(f"The '{op}' filter needs a list value.")
            if op not in ("exist", "notexist", "in", "notin") and value is None:
                self._fail(f"The '{op}' filter on {field_name} needs a value.")
            if get_ci(item, "udf"):
                udf_name = str(field_name).lower()

                def getter(record, udf=udf_name):
                    for entry in record.get("userDefinedFields") or []:
                        if str(entry.get("name", "")).lower() == udf:
                            return entry.get("value")
                    return None

            else:
                actual = names.get(str(field_name).lower())
                if actual is None:
                    self._fail(f"Unable to find {field_name} in the {spec['name']} entity.")

                def getter(record, actual=actual):
                    return record.get(actual)

            predicates.append(lambda r, g=getter, o=op, v=value: _match_op(o, g(r), v))
        return predicates

    def _run_query(self, key, spec, extra=None, after=0):
        filters = get_ci(spec, "Filter") or get_ci(spec, "filter") or []
        if not isinstance(filters, list):
            self._fail("Filter must be a list.")
        predicates = self._compile(key, filters)
        with self._state_lock:
            records = sorted(self._data[key].values(), key=lambda r: r["id"])
            matching = [
                copy.deepcopy(r)
                for r in records
                if r["id"] > after and (extra is None or extra(r)) and all(p(r) for p in predicates)
            ]
        return matching

    def _max_records(self, spec):
        value = get_ci(spec, "MaxRecords")
        if value is None:
            return MAX_RECORDS
        try:
            value = int(value)
        except (TypeError, ValueError):
            self._fail("MaxRecords must be a number.")
        if not 1 <= value <= MAX_RECORDS:
            self._fail(f"MaxRecords must be between 1 and {MAX_RECORDS}.")
        return value

    def _include(self, key, spec, records):
        fields = get_ci(spec, "IncludeFields")
        if not fields:
            return records
        result = []
        for record in records:
            slim = {"id": record["id"]}
            for name in fields:
                actual = find_key_ci(record, name)
                if actual is None:
                    self._fail(f"Unable to find {name} in the {ENTITIES[key]['name']} entity.")
                slim[actual] = record[actual]
            result.append(slim)
        return result

    @staticmethod
    def _filter_hash(spec):
        filters = get_ci(spec, "Filter") or []
        return hashlib.sha1(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]

    def _page_response(self, request, key, spec, extra, path, after, history):
        size = self._max_records(spec)
        matching = self._run_query(key, spec, extra, after)
        page = matching[:size]
        from_get = request.method == "GET"

        def link(token):
            base = self.page_link_base or self.api_url
            url = f"{base}/{path}/query/next?paging={quote(json.dumps(token))}"
            if from_get:
                url += f"&search={quote(json.dumps(spec))}"
            return url

        base_token = {"pageSize": size, "filter": self._filter_hash(spec)}
        next_url = prev_url = None
        if len(matching) > size:
            next_url = link({**base_token, "after": page[-1]["id"], "history": [*history, after]})
        if history:
            prev_url = link({**base_token, "after": history[-1], "history": history[:-1]})
        return {
            "items": self._include(key, spec, page),
            "pageDetails": {
                "count": len(page),
                "requestCount": size,
                "prevPageUrl": prev_url,
                "nextPageUrl": next_url,
            },
        }

    def _query(self, request):
        key, extra, path = self._query_target(request)
        spec = self._query_spec(request)
        return self._page_response(request, key, spec, extra, path, 0, [])

    def _query_next(self, request):
        if request.method == "GET" and request.arg("search", ignore_case=True) is None:
            return self._method_not_allowed(request, "POST")
        key, extra, path = self._query_target(request)
        try:
            token = json.loads(request.arg("paging", ignore_case=True) or "")
            after = int(token["after"])
            history = [int(h) for h in token.get("history", [])]
            size = int(token["pageSize"])
        except (ValueError, KeyError, TypeError):
            self._fail("The paging parameter is invalid.")
        spec = self._query_spec(request)
        if not spec:
            self._fail("The query of the next page must be sent again in the request body.")
        if self._filter_hash(spec) != token.get("filter"):
            self._fail("The query does not match the paging parameter.")
        spec = {**spec, "MaxRecords": size}
        return self._page_response(request, key, spec, extra, path, after, history)

    def _count(self, request):
        key, extra, _path = self._query_target(request)
        spec = self._query_spec(request)
        return {"queryCount": len(self._run_query(key, spec, extra))}

    def _get(self, request):
        key = self._entity_key(request.params["entity"])
        with self._state_lock:
            record = self._data[key].get(int(request.params["id"]))
        if record is None:
            return FakeResponse(404, {"item": None})
        return {"item": copy.deepcopy(record)}

    # -------------------------------------------------------------- writes
    def _clean(self, key, body, existing):
        """Keep known, writable fields of ``body`` (unknown ones are ignored, like Autotask)."""
        spec = ENTITIES[key]
        names = {n.lower(): n for n in spec["fields"].split()}
        read_only = set(spec.get("read_only", "").split()) | {"id"}
        clean = {}
        for name, value in body.items():
            actual = names.get(name.lower())
            if actual and actual not in read_only:
                clean[actual] = value
            elif name.lower() == "userdefinedfields" and spec["udf"]:
                clean["userDefinedFields"] = value
        return clean

    def _check_refs(self, record):
        refs = {
            "companyID": "companies",
            "parentCompanyID": "companies",
            "billToCompanyID": "companies",
            "productBillingCodeID": "billingcodes",
            "chargeBillingCodeID": "billingcodes",
            "setupFeeBillingCodeID": "billingcodes",
            "productID": "products",
            "billingCodeID": "billingcodes",
            "contractID": "contracts",
        }
        for name, target in refs.items():
            value = record.get(name)
            if value is not None and value not in self._data[target]:
                self._fail(f"{name} {value} does not exist.")

    def _check_required(self, key, record):
        missing = [n for n in ENTITIES[key]["required"] if record.get(n) in (None, "")]
        if missing:
            self._fail(*[f"The field {n} is required." for n in missing])

    def _check_picklists(self, key, record):
        for name, values in ENTITIES[key]["picklists"].items():
            value = record.get(name)
            if value is not None and str(value) not in {str(v) for v, _ in values}:
                self._fail(f"The value {value} is not valid for {name}.")

    def _body(self, request):
        body = request.json
        if not isinstance(body, dict):
            self._fail("The request body must be a JSON object.")
        return body

    def _write(self, request):
        key = self._entity_key(request.params["entity"])
        spec = ENTITIES[key]
        if request.method == "POST" and not spec["create"]:
            return self._method_not_allowed(request, "GET")
        if request.method in ("PATCH", "PUT") and not spec["update"]:
            return self._method_not_allowed(request, "GET")
        body = self._body(request)
        with self._state_lock:
            if request.method == "POST":
                if get_ci(body, "id"):
                    self._fail("The id must not be set on create.")
                record = dict.fromkeys(spec["fields"].split())
                record.update(copy.deepcopy(spec["defaults"]))
                if spec["udf"]:
                    record["userDefinedFields"] = []
                record.update(self._clean(key, body, None))
                if key == "companies":
                    record["createDate"] = _iso_now()
            else:
                record_id = get_ci(body, "id")
                existing = self._data[key].get(record_id) if record_id is not None else None
                if existing is None:
                    self._fail(f"{spec['name']} with id {record_id} was not found.", status=404)
                record = copy.deepcopy(existing)
                changes = self._clean(key, body, existing)
                if request.method == "PUT":
                    for name in spec["fields"].split():
                        if name != "id" and name not in changes:
                            changes.setdefault(name, spec["defaults"].get(name))
                record.update(changes)
            self._check_required(key, record)
            self._check_picklists(key, record)
            self._check_refs(record)
            if key == "contracts":
                self._check_contract_dates(record)
                record["lastModifiedDateTime"] = _iso_now()
            if not record.get("id"):
                record["id"] = next(self._ids)
            self._data[key][record["id"]] = record
            return {"itemId": record["id"]}

    def _check_contract_dates(self, record):
        """Valid start and end dates, the end not before the start (ASSUMED: the
        rule of the contract form)."""
        start, end = _parse_dt(record["startDate"]), _parse_dt(record["endDate"])
        if start is None or end is None:
            self._fail("startDate and endDate must be dates.")
        if end < start:
            self._fail("The contract end date cannot be before its start date.")

    def _delete_root(self, request):
        self._entity_key(request.params["entity"])
        return self._method_not_allowed(request, "GET")

    def _child_target(self, request):
        """``(entity key, parent id)`` of a child collection (``Contracts/{id}/Charges``)."""
        parent = request.params["parent"].lower()
        child_key = CHILDREN.get((parent, request.params["child"].lower()))
        if child_key is None:
            raise HttpError(404, {"errors": ["Child collection not found."]})
        pid = int(request.params["pid"])
        if pid not in self._data[parent]:
            self._fail(f"{ENTITIES[parent]['name']} {pid} was not found.", status=404)
        return child_key, pid

    def _write_child(self, request):
        _child_key, contract_id = self._child_target(request)
        body = self._body(request)
        with self._state_lock:
            if request.method == "POST":
                if get_ci(body, "id"):
                    self._fail("The id must not be set on create.")
                record = self._save_charge(contract_id, body, existing=None)
            else:
                charge_id = get_ci(body, "id")
                existing = self._data["contractcharges"].get(charge_id)
                if existing is None or existing["contractID"] != contract_id:
                    self._fail(f"ContractCharge {charge_id} was not found.", status=404)
                record = self._save_charge(
                    contract_id, body, existing=existing, replace=request.method == "PUT"
                )
        return {"itemId": record["id"]}

    def _child_item(self, request):
        _child_key, contract_id = self._child_target(request)
        charge_id = int(request.params["id"])
        with self._state_lock:
            charge = self._data["contractcharges"].get(charge_id)
            if charge is None or charge["contractID"] != contract_id:
                if request.method == "GET":
                    return FakeResponse(404, {"item": None})
                self._fail(f"ContractCharge {charge_id} was not found.", status=404)
            if request.method == "GET":
                return {"item": copy.deepcopy(charge)}
            if charge["isBilled"]:
                self._fail("A contract charge that is billed (isBilled = true) cannot be deleted.")
            del self._data["contractcharges"][charge_id]
        return {"itemId": charge_id}

    def _save_charge(self, contract_id, body, *, existing, replace=False):
        """Validate, compute and store a charge (state lock held); return the record."""
        key = "contractcharges"
        spec = ENTITIES[key]
        if contract_id not in self._data["contracts"]:
            self._fail(f"Contract {contract_id} was not found.", status=404)
        body_contract = get_ci(body, "contractID")
        if body_contract is not None and body_contract != contract_id:
            self._fail("contractID does not match the contract of the URL.")
        if existing is not None:
            if existing["isBilled"]:
                self._fail("A contract charge that is billed (isBilled = true) cannot be updated.")
            record = copy.deepcopy(existing)
            changes = self._clean(key, body, existing)
            if replace:
                for name in spec["fields"].split():
                    if name not in changes and name not in ("id", "contractID", "createDate"):
                        changes.setdefault(name, spec["defaults"].get(name))
                changes.pop("isBilled", None)
            record.update(changes)
        else:
            record = dict.fromkeys(spec["fields"].split())
            record.update(copy.deepcopy(spec["defaults"]))
            record.update(self._clean(key, body, None))
            record["createDate"] = _iso_now()
        record["contractID"] = contract_id
        self._check_required(key, record)
        if record.get("productID") is None and record.get("billingCodeID") is None:
            self._fail("A contract charge needs a productID or a billingCodeID.")
        self._check_picklists(key, record)
        self._check_refs(record)
        purchased = _parse_dt(record["datePurchased"])
        if purchased is None:
            self._fail("datePurchased is not a valid date.")
        record["datePurchased"] = purchased.strftime("%Y-%m-%dT%H:%M:%SZ")
        source = self._data["products"].get(record.get("productID")) or self._data[
            "billingcodes"
        ].get(record.get("billingCodeID"))
        try:
            quantity = round(float(record["unitQuantity"]), 4)
            price = record.get("unitPrice")
            if price is None:
                price = (source or {}).get("unitPrice") or 0
            cost = record.get("unitCost")
            if cost is None:
                cost = (source or {}).get("unitCost") or 0
            price, cost = round(float(price), 4), round(float(cost), 4)
        except (TypeError, ValueError):
            self._fail("unitQuantity, unitPrice and unitCost must be numbers.")
        # DOCUMENTED [Autotask KB "How can I issue a credit or add a negative charge to an
        # invoice?": "The Quantity of the charge cannot be a negative value, but the Unit
        # Price can be a negative amount."]
        if quantity < 0:
            self._fail("The quantity of a charge cannot be negative.")
        record.update(
            unitQuantity=quantity,
            unitPrice=price,
            unitCost=cost,
            # Stored with four decimals, rounded to the cent when posted [autotask.net
            # help "Contracts and billing system settings"].
            billableAmount=round(quantity * price, 4),
            extendedCost=round(quantity * cost, 4),
            internalCurrencyUnitPrice=price,
            internalCurrencyBillableAmount=round(quantity * price, 4),
        )
        if existing is None or existing.get("status") != record.get("status"):
            record["statusLastModifiedDate"] = _iso_now()
        if not record.get("id"):
            record["id"] = next(self._ids)
        self._data[key][record["id"]] = record
        return record


__all__ = ["ENTITIES", "FakeAutotask"]
