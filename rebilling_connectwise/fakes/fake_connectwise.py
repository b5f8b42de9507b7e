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
import copy
import itertools
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from odoo.addons.rebilling_base.fakes.base import FakeResponse, FakeServer, HttpError, get_ci

ENTITIES = {
    "companies": {
        "path": "company/companies",
        "resource": "company",
        "fields": (
            "id identifier name status types addressLine1 addressLine2 city state zip country "
            "phoneNumber faxNumber website accountNumber territory market defaultContact "
            "billingContact billToCompany billingTerms taxCode deletedFlag leadFlag isVendorFlag "
            "customFields _info"
        ),
        "required": {"identifier": 30, "name": 50},
        "unique": "identifier",
        "defaults": {
            "status": {"id": 1, "name": "Active"},
            "deletedFlag": False,
            "leadFlag": False,
            "isVendorFlag": False,
            "customFields": [],
        },
    },
    "agreements": {
        "path": "finance/agreements",
        "resource": "agreement",
        "fields": (
            "id name type company contact site location department agreementStatus startDate "
            "endDate noEndingDateFlag cancelledFlag billingCycle billAmount billTime "
            "billExpenses billProducts invoicingCycle employeeCompRate applicationUnits "
            "applicationLimit parentAgreement customerPO customFields _info"
        ),
        "required": {"name": 100, "type": None, "company": None},
        "unique": None,
        "defaults": {
            "agreementStatus": "Active",
            "noEndingDateFlag": False,
            "cancelledFlag": False,
            "billTime": "Billable",
            "billExpenses": "Billable",
            "billProducts": "Billable",
            "invoicingCycle": "ContractYear",
            "employeeCompRate": "Actual",
            "customFields": [],
        },
    },
    "additions": {
        "path": "finance/agreements/{agreement}/additions",
        "resource": "addition",
        "fields": (
            "id product quantity lessIncluded unitPrice unitCost billCustomer effectiveDate "
            "cancelledDate taxableFlag serialNumber invoiceDescription description "
            "purchaseItemFlag specialOrderFlag agreementId agreementStatus billedQuantity uom "
            "extPrice extCost margin sequenceNumber prorateCost proratePrice "
            "extendedProrateCost extendedProratePrice prorateCurrentPeriodFlag invoiceGrouping "
            "opportunity customFields _info"
        ),
        "required": {"product": None, "billCustomer": None},
        "unique": None,
        "defaults": {
            "quantity": 0,
            "lessIncluded": 0,
            "purchaseItemFlag": False,
            "specialOrderFlag": False,
            "prorateCurrentPeriodFlag": False,
            "customFields": [],
        },
    },
    "catalog": {
        "path": "procurement/catalog",
        "resource": "catalogItem",
        "fields": (
            "id identifier description customerDescription inactiveFlag subcategory type "
            "productClass category price cost priceAttribute taxableFlag serializedFlag "
            "serializedCostFlag unitOfMeasure manufacturer manufacturerPartNumber vendor "
            "vendorSku integrationXRef notes billableOption recurringFlag recurringRevenue "
            "recurringCost recurringBillCycle dateEntered customFields _info"
        ),
        # identifier, description, customerDescription: DOCUMENTED (required properties
        # of CatalogItem in ConnectWise's PSA REST API reference); subcategory and type:
        # ASSUMED (optional in the reference; required per ConnectPyse and the spec).
        "required": {
            "identifier": 60,
            "description": 60,
            "customerDescription": 6000,
            "subcategory": None,
            "type": None,
        },
        "unique": "identifier",
        "defaults": {
            "inactiveFlag": False,
            "productClass": "NonInventory",
            "price": 0.0,
            "cost": 0.0,
            "taxableFlag": False,
            "serializedFlag": False,
            "serializedCostFlag": False,
            "recurringFlag": False,
            "customFields": [],
        },
    },
}
# Read-only lists of the catalog setup (the fake accepts writes too).
for _key, _path, _resource in (
    ("subcategories", "procurement/subcategories", "subcategory"),
    ("types", "procurement/types", "type"),
):
    ENTITIES[_key] = {
        "path": _path,
        "resource": _resource,
        "fields": "id name category inactiveFlag _info",
        "required": {"name": 50},
        "unique": None,
        "defaults": {"inactiveFlag": False},
    }
ENUMS = {
    ("additions", "billCustomer"): {"Billable", "DoNotBill", "NoCharge"},
    ("catalog", "productClass"): {"Agreement", "Bundle", "Inventory", "NonInventory", "Service"},
    ("agreements", "agreementStatus"): {"Active", "Cancelled", "Expired", "Inactive"},
}
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 25


def _iso_now():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_dt(value):
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _resolve(record, path):
    value = record
    for part in path.split("/"):
        if isinstance(value, dict):
            value = get_ci(value, part)
        else:
            return None
    return value


# ------------------------------------------------------------------ conditions
class ConditionError(ValueError):
    pass


_COND_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<date>\[[^\]]*\])
      | (?P<number>-?\d+(?:\.\d+)?(?![\w/]))
      | (?P<op>!=|<>|<=|>=|[=<>(),])
      | (?P<word>[A-Za-z_][\w/.]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "contains", "like", "in", "true", "false", "null"}


def _tokenize(text):
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _COND_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ConditionError(f"Unexpected character at position {pos}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "date":
            parsed = _parse_dt(value[1:-1].strip())
            if parsed is None:
                raise ConditionError(f"Invalid date {value}")
            value = parsed
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        elif kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        tokens.append((kind, value))
    return tokens


def _norm(left, right):
    if isinstance(right, datetime) or isinstance(left, datetime):
        return _parse_dt(left), _parse_dt(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(right, (int, float)) and not isinstance(left, (int, float)):
        try:
            return float(left), right
        except (TypeError, ValueError):
            return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    return left, right


def _compare(op, left, right):
    if op in ("=", "!="):
        if right is None or left is None:
            equal = left is None and right is None
        else:
            a, b = _norm(left, right)
            equal = a == b
        return equal if op == "=" else not equal
    if left is None or right is None:
        return False
    if op in ("contains", "like"):
        return sql_like(str(left), str(right), op)
    a, b = _norm(left, right)
    try:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:
        return False


def sql_like_regex(pattern):
    """The regex of a SQL Server LIKE ``pattern``.

    DOCUMENTED [Microsoft Learn "LIKE (Transact-SQL)", wildcard characters]:
    ``%`` any string of zero or more characters, ``_`` any single character,
    ``[a-f]``/``[abc]`` any single character of the range or set, ``[^...]``
    any single character not in it; a wildcard inside brackets is literal
    (``[%]``, ``[_]``, ``[[]``). ASSUMED: a ``[`` without its ``]`` is literal.
    """
    parts = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        elif char == "[" and pattern.find("]", pos + 2) != -1:
            end = pattern.find("]", pos + 2)
            body = pattern[pos + 1 : end]
            negate = body.startswith("^") and len(body) > 1
            if negate:
                body = body[1:]
            items = []
            i = 0
            while i < len(body):
                if i + 2 < len(body) and body[i + 1] == "-":
                    items.append(f"{re.escape(body[i])}-{re.escape(body[i + 2])}")
                    i += 3
                else:
                    items.append(re.escape(body[i]))
                    i += 1
            parts.append(("[^" if negate else "[") + "".join(items) + "]")
            pos = end
        else:
            parts.append(re.escape(char))
        pos += 1
    return "".join(parts)


def sql_like(text, value, op="like"):
    """Whether ``text`` matches the condition ``op`` (``like``/``contains``) ``value``.

    The server runs both as SQL Server LIKE, case-insensitive (the default
    collation; ASSUMED): ``like`` takes ``*`` as its wildcard (DOCUMENTED:
    ConnectWise Developer Guide, conditions, ``name like "Ac*"``) besides LIKE's
    own; ``contains`` is ``LIKE '%value%'`` and does not escape the value's
    wildcards, so ``[ ]``, ``%`` and ``_`` are wildcards there (ASSUMED: no
    ConnectWise page says how ``contains`` is run; client reports agree).
    """
    value = value.replace("*", "%") if op == "like" else f"%{value}%"
    regex = sql_like_regex(value.casefold())
    return re.fullmatch(regex, text.casefold(), re.DOTALL) is not None


class ConditionParser:
    """Parses ConnectWise ``conditions`` into a predicate ``f(record) -> bool``.

    Operators ``= != < <= > >= contains like in`` (each may follow ``not``),
    ``and``/``or``, parentheses, ``"strings"``, ``[dates]``, numbers,
    ``true``/``false``/``null`` and nested fields (``company/id``).
    ``known_fields`` (lower-case top-level names) rejects unknown fields.
    """

    def __init__(self, text, known_fields=None):
        self.tokens = _tokenize(text)
        self.pos = 0
        self.known = known_fields

    def parse(self):
        if not self.tokens:
            return lambda record: True
        node = self._or()
        if self.pos != len(self.tokens):
            raise ConditionError(f"Unexpected {self.tokens[self.pos][1]!r}")
        return node

    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def _accept(self, kind, value=None):
        token = self._peek()
        if token[0] == kind and (value is None or token[1] == value):
            self.pos += 1
            return True
        return False

    def _or(self):
        node = self._and()
        while self._accept("kw", "or"):
            left, right = node, self._and()
            node = lambda r, a=left, b=right: a(r) or b(r)  # noqa: E731
        return node

    def _and(self):
        node = self._factor()
        while self._accept("kw", "and"):
            left, right = node, self._factor()
            node = lambda r, a=left, b=right: a(r) and b(r)  # noqa: E731
        return node

    def _factor(self):
        if self._accept("op", "("):
            node = self._or()
            if not self._accept("op", ")"):
                raise ConditionError("Missing ')'")
            return node
        if self._accept("kw", "not"):
            inner = self._factor()
            return lambda r: not inner(r)
        return self._comparison()

    def _literal(self):
        kind, value = self._peek()
        self.pos += 1
        if kind in ("string", "number", "date"):
            return value
        if kind == "kw" and value in ("true", "false"):
            return value == "true"
        if kind == "kw" and value == "null":
            return None
        raise ConditionError(f"Expected a value, found {value!r}")

    def _comparison(self):
        kind, field_name = self._peek()
        if kind != "word":
            raise ConditionError(f"Expected a field name, found {field_name!r}")
        self.pos += 1
        top = field_name.split("/")[0].lower()
        if self.known is not None and top not in self.known:
            raise ConditionError(f"Unknown field {field_name}")
        negate = self._accept("kw", "not")
        kind, op = self._peek()
        self.pos += 1
        if kind == "op" and op in ("=", "!=", "<>", "<", "<=", ">", ">="):
            op = "!=" if op == "<>" else op
            value = self._literal()
            test = lambda r: _compare(op, _resolve(r, field_name), value)  # noqa: E731
        elif kind == "kw" and op in ("contains", "like"):
            value = self._literal()
            test = lambda r: _compare(op, _resolve(r, field_name), value)  # noqa: E731
        elif kind == "kw" and op == "in":
            if not self._accept("op", "("):
                raise ConditionError("Expected '(' after in")
            values = [self._literal()]
            while self._accept("op", ","):
                values.append(self._literal())
            if not self._accept("op", ")"):
                raise ConditionError("Missing ')' after the in list")

            def test(r):
                actual = _resolve(r, field_name)
                return any(_compare("=", actual, v) for v in values)

        else:
            raise ConditionError(f"Unknown operator {op!r}")
        if negate:
            return lambda r: not test(r)
        return test


def apply_order_by(items, order_by):
    """Sort by ``"name asc, _info/lastUpdated desc"``."""
    if not order_by:
        return items
    for part in reversed([p for p in order_by.split(",") if p.strip()]):
        words = part.split()
        path, descending = words[0], len(words) > 1 and words[1].lower() == "desc"

        def key(record, path=path):
            value = _resolve(record, path)
            if isinstance(value, str):
                value = _parse_dt(value) or value.casefold()
            return (value is None, value if value is not None else 0)

        try:
            items = sorted(items, key=key, reverse=descending)
        except TypeError:
            items = sorted(items, key=lambda r, k=key: str(k(r)), reverse=descending)
    return items


# ------------------------------------------------------------------ the fake
class FakeConnectWise(FakeServer):
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

    # -------------------------------------------------------------- seeding
    def _store(self, key, record, agreement_id=None):
        with self._state_lock:
            if not record.get("id"):
                record["id"] = next(self._ids[key])
            if key == "additions":
                record["agreementId"] = agreement_id
            self._data[key][record["id"]] = record
        return copy.deepcopy(record)

    def _seed(self, key, fields):
        record = copy.deepcopy(ENTITIES[key]["defaults"])
        record.update(copy.deepcopy(fields))
        now = _iso_now()
        record["_info"] = {"lastUpdated": now, "updatedBy": "FakeApi", "dateEntered": now}
        return record

    def add_company(self, identifier=None, name=None, **fields):
        """Add a company (no validation); return it."""
        if identifier is not None:
            fields["identifier"] = identifier
        if name is not None:
            fields["name"] = name
        return self._store("companies", self._seed("companies", fields))

    def add_agreement(self, name=None, company_id=None, **fields):
        """Add an agreement (``company_id`` becomes ``company: {"id": ..}``); return it."""
        if name is not None:
            fields["name"] = name
        if company_id is not None:
            fields["company"] = {"id": company_id}
        fields.setdefault("type", {"id": 1, "name": "Managed Services"})
        record = self._seed("agreements", fields)
        self._expand_refs("agreements", record)
        return self._store("agreements", record)

    def add_product(self, identifier=None, description=None, **fields):
        """Add a catalog item (no validation); return it."""
        if identifier is not None:
            fields["identifier"] = identifier
        if description is not None:
            fields["description"] = description
            fields.setdefault("customerDescription", description)
        return self._store("catalog", self._seed("catalog", fields))

    def add_subcategory(self, name, **fields):
        """Add a product subcategory (``procurement/subcategories``); return it."""
        return self._store("subcategories", self._seed("subcategories", dict(fields, name=name)))

    def add_type(self, name, **fields):
        """Add a product type (``procurement/types``); return it."""
        return self._store("types", self._seed("types", dict(fields, name=name)))

    def add_addition(self, agreement_id, **fields):
        """Add an agreement addition through the API rules; return it (ValueError if invalid)."""
        if agreement_id not in self._data["agreements"]:
            raise ValueError(f"Agreement {agreement_id} does not exist")
        try:
            with self._state_lock:
                record = self._build("additions", fields, existing=None, agreement_id=agreement_id)
                return self._store("additions", record, agreement_id)
        except HttpError as exc:
            raise ValueError(exc.body.get("message") if isinstance(exc.body, dict) else exc.body)

    # -------------------------------------------------------------- inspection
    def records(self, key):
        with self._state_lock:
            return copy.deepcopy(list(self._data[key].values()))

    def companies(self):
        return self.records("companies")

    def agreements(self):
        return self.records("agreements")

    def products(self):
        return self.records("catalog")

    def additions(self, agreement_id=None):
        items = self.records("additions")
        if agreement_id is not None:
            items = [a for a in items if a["agreementId"] == agreement_id]
        return items

    def edit_addition(self, addition_id, **fields):
        """What a user does to an addition in ConnectWise's UI (its price, its quantity,
        "Bill Customer" set to DoNotBill); ``extPrice`` follows (``Addition.extPrice``
        of ConnectWise's REST API reference)."""
        with self._state_lock:
            addition = self._data["additions"][addition_id]
            addition.update(fields)
            addition["extPrice"] = round(
                (addition.get("quantity") or 0) * (addition.get("unitPrice") or 0), 2
            )

    # -------------------------------------------------------------- agreement billing
    @staticmethod
    def billing_period(day):
        """``(first, last)`` day of the billing cycle holding ``day``.

        ASSUMED: monthly agreements whose cycle starts on the 1st (the
        ``billingCycle`` "Monthly" with a billing start on a 1st).
        """
        first = day.replace(day=1)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first, following - timedelta(days=1)

    def run_billing_cycle(self, day, agreement_id=None):
        """Run the agreement invoicing of the cycle holding ``day``; return the invoices.

        What ConnectWise does after it accepted additions:

        * an agreement's cycle is invoiced once: DOCUMENTED [betterinvoice.io
          "The Agreement Tab": Create Invoice "generates the invoice for the first
          or next billing cycle. Grayed out if the current cycle invoice already
          exists"] (ValueError here);
        * the cycle bills every addition effective on or before its last day and
          not cancelled before its first day: DOCUMENTED [betterinvoice.io
          "Agreement Additions Tab": Effective "date the addition became active for
          billing", Cancelled "date the addition stopped billing"; "charge a
          one-time setup fee by setting the Effective Date and Cancelled Date
          within the same billing period"; the ``effectiveDate`` and
          ``cancelledDate`` of ``Addition`` in ConnectWise's REST API reference];
          only ``billCustomer`` "Billable" ones (ASSUMED:
          DoNotBill and NoCharge bill nothing);
        * at the full price: ASSUMED, the agreement's prorate option is off
          [support.ceojuice.com "Syncing Prorated Agreements from ConnectWise":
          without it an addition added mid-month bills the full amount];
        * a line is ``(quantity - lessIncluded) x unitPrice`` rounded to the cent
          [betterinvoice.io: "Ext Price: Total Quantity x Unit Price"; the
          rounding and lessIncluded: ASSUMED]; a negative price is a credit
          (ASSUMED).

        Only active agreements are invoiced (ASSUMED).
        """
        first, last = self.billing_period(day)
        invoices = []
        with self._state_lock:
            agreements = [
                a
                for a in self._data["agreements"].values()
                if (agreement_id is None or a["id"] == agreement_id)
                and a.get("agreementStatus", "Active") == "Active"
            ]
            for agreement in agreements:
                if any(
                    i["agreementId"] == agreement["id"] and i["periodStart"] == first
                    for i in self._agreement_invoices
                ):
                    raise ValueError(
                        f"The invoice of agreement {agreement['id']} for the cycle "
                        f"{first} - {last} already exists."
                    )
                lines = []
                for addition in self._data["additions"].values():
                    if addition["agreementId"] != agreement["id"]:
                        continue
                    if addition.get("billCustomer") != "Billable":
                        continue
                    effective = _parse_dt(addition.get("effectiveDate"))
                    cancelled = _parse_dt(addition.get("cancelledDate"))
                    if effective is not None and effective.date() > last:
                        continue
                    if cancelled is not None and cancelled.date() < first:
                        continue
                    quantity = float(addition.get("quantity") or 0) - float(
                        addition.get("lessIncluded") or 0
                    )
                    amount = round(quantity * float(addition.get("unitPrice") or 0), 2)
                    lines.append({"additionId": addition["id"], "amount": amount})
                invoice = {
                    "agreementId": agreement["id"],
                    "periodStart": first,
                    "periodEnd": last,
                    "lines": lines,
                    "total": round(sum(line["amount"] for line in lines), 2),
                }
                self._agreement_invoices.append(invoice)
                invoices.append(copy.deepcopy(invoice))
        return invoices

    def agreement_invoices(self, agreement_id=None):
        """The agreement invoices of the cycles run so far."""
        with self._state_lock:
            return [
                copy.deepcopy(i)
                for i in self._agreement_invoices
                if agreement_id is None or i["agreementId"] == agreement_id
            ]

    def billed_total(self, day=None):
        """What the cycles run billed (the one holding ``day`` only, if given)."""
        first = self.billing_period(day)[0] if day else None
        return round(
            sum(
                i["total"]
                for i in self.agreement_invoices()
                if first is None or i["periodStart"] == first
            ),
            2,
        )

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

    # -------------------------------------------------------------- endpoints
    def _company_info(self, request):
        if request.params["company"].lower() != self.company_id.lower():
            return FakeResponse(404, self._error_body(404, "Company not found"))
        return {
            "CompanyName": "Fake MSP",
            "Codebase": self.codebase,
            "VersionCode": "v2025.1",
            "VersionNumber": "v4.6.99999",
            "CompanyID": self.company_id,
            "IsCloud": True,
            "SiteUrl": self.base_url,
        }

    def _system_info(self, request):
        return {"version": "v2025.1.99999", "isCloud": True, "serverTimeZone": "UTC"}

    def _scope(self, request, key):
        """Records of ``key`` visible under the URL (additions: those of one agreement)."""
        if key != "additions":
            return self._data[key]
        agreement_id = int(request.params["agreement"])
        if agreement_id not in self._data["agreements"]:
            self._not_found_error(f"Agreement with id {agreement_id}")
        return {
            rid: r for rid, r in self._data[key].items() if r.get("agreementId") == agreement_id
        }

    def _filtered(self, request, key):
        known = {f.lower() for f in ENTITIES[key]["fields"].split()}
        conditions = request.arg("conditions", ignore_case=True)
        try:
            predicate = ConditionParser(conditions or "", known).parse()
        except ConditionError as exc:
            raise HttpError(
                400,
                {"code": "InvalidObject", "message": f"conditions is invalid: {exc}"},
            )
        with self._state_lock:
            items = [copy.deepcopy(r) for r in self._scope(request, key).values() if predicate(r)]
        items.sort(key=lambda r: r["id"])
        return items

    def _count(self, request, key):
        return {"count": len(self._filtered(request, key))}

    def _collection(self, request, key):
        if request.method == "POST":
            return self._create(request, key)
        items = apply_order_by(
            self._filtered(request, key), request.arg("orderBy", ignore_case=True)
        )
        try:
            size = int(request.arg("pageSize", DEFAULT_PAGE_SIZE, ignore_case=True))
            page = int(request.arg("page", 1, ignore_case=True))
            page_id = int(request.arg("pageId", 0, ignore_case=True))
        except ValueError:
            raise HttpError(400, {"code": "InvalidObject", "message": "Invalid paging values"})
        size = min(max(size, 1), MAX_PAGE_SIZE)
        page = max(page, 1)
        forward = (request.header("pagination-type") or "").lower() == "forward-only"
        links = []
        if forward:
            remaining = [r for r in sorted(items, key=lambda r: r["id"]) if r["id"] > page_id]
            chunk = remaining[:size]
            if len(remaining) > size:
                links.append((self._page_url(request, size, pageId=chunk[-1]["id"]), "next"))
        else:
            last = max(1, -(-len(items) // size))
            chunk = items[(page - 1) * size : page * size]
            if last > 1:
                if page > 1:
                    links.append((self._page_url(request, size, page=1), "first"))
                    links.append((self._page_url(request, size, page=min(page - 1, last)), "prev"))
                if page < last:
                    links.append((self._page_url(request, size, page=page + 1), "next"))
                links.append((self._page_url(request, size, page=last), "last"))
        chunk = self._select_fields(request, chunk)
        headers = {}
        if links:
            headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)
        return FakeResponse(200, chunk, headers)

    def _page_url(self, request, size, **paging):
        params = [
            (k, v)
            for k, values in request.query.items()
            if k.lower() not in ("page", "pagesize", "pageid")
            for v in values
        ]
        params.append(("pageSize", size))
        params.extend(paging.items())
        return f"{self.base_url}{request.path}?{urlencode(params)}"

    def _select_fields(self, request, items):
        fields = request.arg("fields", ignore_case=True)
        if not fields:
            return items
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        result = []
        for record in items:
            slim = {}
            for path in wanted:
                value = _resolve(record, path)
                if value is None:
                    continue
                target = slim
                parts = path.split("/")
                for part in parts[:-1]:
                    target = target.setdefault(part, {})
                target[parts[-1]] = value
            result.append(slim)
        return result

    def _item(self, request, key):
        record_id = int(request.params["id"])
        with self._state_lock:
            scope = self._scope(request, key)
            existing = scope.get(record_id)
            if existing is None:
                self._not_found_error(f"{ENTITIES[key]['resource']} with id {record_id}")
            if request.method == "GET":
                return copy.deepcopy(existing)
            if request.method == "DELETE":
                self._delete(key, existing)
                return FakeResponse(204)
            body = request.json
            if request.method == "PATCH":
                record = self._apply_patch(key, copy.deepcopy(existing), body)
            else:
                if not isinstance(body, dict):
                    self._invalid(key, [("InvalidObject", "A JSON object is required.", None)])
                if body.get("id") not in (None, record_id):
                    self._invalid(key, [("InvalidObject", "The id does not match the URL.", "id")])
                record = body
            agreement_id = existing.get("agreementId")
            built = self._build(
                key, record, existing=existing, agreement_id=agreement_id, replace=True
            )
            built["id"] = record_id
            self._data[key][record_id] = built
            return copy.deepcopy(built)

    def _delete(self, key, record):
        if key == "catalog":
            for addition in self._data["additions"].values():
                if (addition.get("product") or {}).get("id") == record["id"]:
                    raise HttpError(
                        409,
                        {
                            "code": "Conflict",
                            "message": "This catalog item is in use by an agreement addition.",
                        },
                    )
        if key == "agreements":
            for rid in [
                rid
                for rid, a in self._data["additions"].items()
                if a["agreementId"] == record["id"]
            ]:
                del self._data["additions"][rid]
        del self._data[key][record["id"]]

    def _apply_patch(self, key, record, operations):
        if not isinstance(operations, list):
            self._invalid(key, [("InvalidObject", "PATCH takes a JSON-Patch array.", None)])
        for operation in operations:
            if not isinstance(operation, dict):
                self._invalid(key, [("InvalidObject", "Invalid patch operation.", None)])
            op = str(get_ci(operation, "op", "")).lower()
            path = str(get_ci(operation, "path", "")).strip("/")
            if not path or op not in ("replace", "add", "remove"):
                self._invalid(key, [("InvalidObject", f"Invalid patch operation {op!r}.", path)])
            parts = path.split("/")
            if parts[0].lower() not in {f.lower() for f in ENTITIES[key]["fields"].split()}:
                self._invalid(key, [("InvalidField", f"Unknown field {path}.", path)])
            target = record
            for part in parts[:-1]:
                nxt = get_ci(target, part)
                if not isinstance(nxt, dict):
                    nxt = {}
                    target[part] = nxt
                target = nxt
            actual = next((k for k in target if k.lower() == parts[-1].lower()), parts[-1])
            if op == "remove":
                target.pop(actual, None)
            else:
                target[actual] = get_ci(operation, "value")
        return record

    def _create(self, request, key):
        body = request.json
        if not isinstance(body, dict):
            self._invalid(key, [("InvalidObject", "A JSON object is required.", None)])
        agreement_id = int(request.params["agreement"]) if key == "additions" else None
        with self._state_lock:
            if key == "additions":
                self._scope(request, key)
            record = self._build(key, body, existing=None, agreement_id=agreement_id)
            return FakeResponse(201, self._store(key, record, agreement_id))

    # -------------------------------------------------------------- validation
    def _expand_refs(self, key, record):
        if key == "agreements":
            company = record.get("company")
            target = self._data["companies"].get((company or {}).get("id"))
            if target is not None:
                record["company"] = {
                    "id": target["id"],
                    "identifier": target.get("identifier"),
                    "name": target.get("name"),
                    "_info": {"company_href": f"{self.api_url}/company/companies/{target['id']}"},
                }

    def _build(self, key, body, *, existing, agreement_id=None, replace=False):
        """Validate ``body`` for ``key`` and return the record to store (state lock held)."""
        spec = ENTITIES[key]
        known = {f.lower(): f for f in spec["fields"].split()}
        record = copy.deepcopy(spec["defaults"]) if existing is None or replace else {}
        errors = []
        for name, value in body.items():
            actual = known.get(name.lower())
            if actual is None or actual in ("id", "_info"):
                continue
            record[actual] = copy.deepcopy(value)
        for name, max_len in spec["required"].items():
            value = record.get(name)
            if value in (None, "") or (isinstance(value, dict) and not value):
                errors.append(("Required", f"The {name} field is required.", name))
            elif max_len and isinstance(value, str) and len(value) > max_len:
                errors.append(
                    (
                        "MaxLengthField",
                        f"The field {name} must be a string with a maximum length of {max_len}.",
                        name,
                    )
                )
        for (entity, name), allowed in ENUMS.items():
            if entity == key and record.get(name) is not None and record[name] not in allowed:
                errors.append(("InvalidValue", f"{record[name]} is not a valid {name}.", name))
        unique = spec["unique"]
        if unique and record.get(unique):
            for other in self._data[key].values():
                if (existing is None or other["id"] != existing["id"]) and str(
                    other.get(unique, "")
                ).casefold() == str(record[unique]).casefold():
                    errors.append(
                        (
                            "ObjectExists",
                            f"The {unique} {record[unique]} is already in use.",
                            unique,
                        )
                    )
        if key == "agreements":
            company = record.get("company")
            if (
                isinstance(company, dict)
                and company.get("id") is not None
                and company["id"] not in self._data["companies"]
            ):
                errors.append(("NotFound", "Company not found.", "company/id"))
            if record.get("type") is not None and not isinstance(record["type"], dict):
                errors.append(("InvalidObject", "type must be a reference.", "type"))
        if key == "additions":
            errors.extend(self._check_addition(record))
        if key == "catalog":
            # ASSUMED: a reference must exist (checked once the fake knows any).
            for name, target in (("subcategory", "subcategories"), ("type", "types")):
                ref = record.get(name)
                known = self._data[target]
                if known and isinstance(ref, dict) and ref.get("id") not in known:
                    errors.append(("NotFound", f"The {name} was not found.", f"{name}/id"))
        if errors:
            self._invalid(key, errors)
        if key == "additions":
            self._compute_addition(record, agreement_id)
        self._expand_refs(key, record)
        now = _iso_now()
        entered = (existing or {}).get("_info", {}).get("dateEntered", now)
        record["_info"] = {"lastUpdated": now, "updatedBy": "FakeApi", "dateEntered": entered}
        if key == "catalog":
            record.setdefault("dateEntered", entered)
        return record

    def _check_addition(self, record):
        product = record.get("product")
        if not isinstance(product, dict) or not (product.get("id") or product.get("identifier")):
            return (
                [] if product in (None, "") else [("Required", "product is required.", "product")]
            )
        item = None
        if product.get("id") is not None:
            item = self._data["catalog"].get(product["id"])
        else:
            item = next(
                (
                    c
                    for c in self._data["catalog"].values()
                    if str(c.get("identifier", "")).casefold()
                    == str(product["identifier"]).casefold()
                ),
                None,
            )
        if item is None:
            return [("NotFound", "Product not found.", "product/id")]
        record["product"] = {"id": item["id"], "identifier": item["identifier"]}
        for name in ("quantity", "lessIncluded", "unitPrice", "unitCost"):
            value = record.get(name)
            if value is not None and not isinstance(value, (int, float)):
                return [("InvalidValue", f"{name} must be a number.", name)]
        errors = []
        dates = {}
        for name in ("effectiveDate", "cancelledDate"):
            value = record.get(name)
            if value not in (None, "") and _parse_dt(value) is None:
                errors.append(("InvalidValue", f"{name} is not a valid date.", name))
            dates[name] = _parse_dt(value)
        # ASSUMED: an addition cannot stop billing before it starts.
        effective, cancelled = dates["effectiveDate"], dates["cancelledDate"]
        if effective and cancelled and cancelled < effective:
            errors.append(
                (
                    "InvalidValue",
                    "The cancelled date cannot be before the effective date.",
                    "cancelledDate",
                )
            )
        return errors

    def _compute_addition(self, record, agreement_id):
        item = self._data["catalog"][record["product"]["id"]]
        if record.get("unitPrice") is None:
            record["unitPrice"] = item.get("price") or 0.0
        if record.get("unitCost") is None:
            record["unitCost"] = item.get("cost") or 0.0
        if record.get("taxableFlag") is None:
            record["taxableFlag"] = bool(item.get("taxableFlag"))
        quantity = float(record.get("quantity") or 0)
        record["extPrice"] = round(quantity * float(record["unitPrice"]), 2)
        record["extCost"] = round(quantity * float(record["unitCost"]), 2)
        record["margin"] = round(record["extPrice"] - record["extCost"], 2)
        record["agreementId"] = agreement_id
        agreement = self._data["agreements"].get(agreement_id) or {}
        record["agreementStatus"] = agreement.get("agreementStatus")
        record.setdefault("billedQuantity", 0)


__all__ = ["ConditionParser", "FakeConnectWise", "apply_order_by"]
