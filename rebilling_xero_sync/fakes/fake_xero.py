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

import base64
import copy
import hashlib
import json
import re
import secrets
import time
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode, urlsplit, urlunsplit

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    FakeServer,
    HttpError,
    SlidingWindow,
    get_ci,
)

API = "/api.xro/2.0"
DEFAULT_SCOPE = (
    "openid profile email offline_access accounting.transactions accounting.contacts "
    "accounting.settings"
)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TAX_RATES = [
    # (TaxType, Name, rate %)
    ("OUTPUT", "GST on Income", 10.0),
    ("INPUT", "GST on Expenses", 10.0),
    ("EXEMPTOUTPUT", "GST Free Income", 0.0),
    ("EXEMPTEXPENSES", "GST Free Expenses", 0.0),
    ("BASEXCLUDED", "BAS Excluded", 0.0),
    ("NONE", "No GST", 0.0),
]
DEFAULT_ACCOUNTS = [
    # (Code, Name, Type, TaxType)
    ("090", "Business Bank Account", "BANK", "BASEXCLUDED"),
    ("200", "Sales", "REVENUE", "OUTPUT"),
    ("260", "Other Revenue", "REVENUE", "OUTPUT"),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT"),
    ("400", "Advertising", "EXPENSE", "INPUT"),
    ("610", "Accounts Receivable", "CURRENT", "BASEXCLUDED"),
    ("800", "Accounts Payable", "CURRLIAB", "BASEXCLUDED"),
    ("820", "GST", "CURRLIAB", "BASEXCLUDED"),
]
ACCOUNT_CLASS = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY",
    "EQUITY": "EQUITY",
    "DEPRECIATN": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "OTHERINCOME": "REVENUE",
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
}
INVOICE_TYPES = {"ACCREC", "ACCPAY", "ACCRECCREDIT", "ACCPAYCREDIT"}
CREDIT_NOTE_TYPES = {"ACCRECCREDIT", "ACCPAYCREDIT"}
# Credit note field <-> the invoice field the shared rules use.
CREDIT_NOTE_FIELDS = {"CreditNoteID": "InvoiceID", "CreditNoteNumber": "InvoiceNumber"}
CREATE_STATUSES = {"DRAFT", "SUBMITTED", "AUTHORISED"}
STATUS_MOVES = {
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"SUBMITTED", "DRAFT", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"AUTHORISED", "VOIDED"},
}
# Scope needed per API collection: (read scopes, write scopes).
SCOPES = {
    "contacts": ({"accounting.contacts", "accounting.contacts.read"}, {"accounting.contacts"}),
    "accounts": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
    "taxrates": ({"accounting.settings", "accounting.settings.read"}, {"accounting.settings"}),
    "organisation": ({"accounting.settings", "accounting.settings.read"}, set()),
    "invoices": (
        {
            "accounting.transactions",
            "accounting.transactions.read",
            "accounting.invoices",
            "accounting.invoices.read",
        },
        {"accounting.transactions", "accounting.invoices"},
    ),
}


# ------------------------------------------------------------------ dates
def cents(value):
    """``value`` rounded to the cent, halves away from zero (assumed: Xero does not
    document its midpoint rule; all its amounts have two decimals)."""
    return float(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def ms_date(value):
    """``/Date(ms+0000)/`` for a date or an aware/naive-UTC datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
    else:
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({int(value.timestamp() * 1000)}+0000)/"


def parse_ms_date(text):
    """A datetime (UTC) from ``/Date(ms+zzzz)/``, or ``None``."""
    match = re.fullmatch(r"/Date\((-?\d+)([+-]\d{4})?\)/", str(text or ""))
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


def parse_request_date(value):
    """A date from ``YYYY-MM-DD``, an ISO datetime or MS-JSON; ``ValueError`` otherwise."""
    if isinstance(value, str):
        parsed = parse_ms_date(value)
        if parsed:
            return parsed.date()
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")[:19]).date()
    raise ValueError(value)


def _now():
    return datetime.now(UTC)


def _bool_arg(value, default):
    if value is None:
        return default
    return str(value).strip().lower() not in ("false", "0", "no", "")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _fake_jwt(claims):
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    return f"{header}.{payload}.{_b64url(secrets.token_bytes(16))}"


# ------------------------------------------------------------------ where / order
class WhereError(ValueError):
    pass


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|>=|<=|&&|\|\||[<>!().,=])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokenize(text):
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise WhereError(f"Unexpected character at {pos} in where clause")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        tokens.append((kind, value))
    return tokens


def _lookup(record, path):
    value = record
    for part in path:
        if isinstance(value, dict):
            value = get_ci(value, part)
        else:
            return None
    return value


def _coerce_pair(left, right):
    """Make two where operands comparable (dates, GUIDs, numbers)."""
    if isinstance(left, date) or isinstance(right, date):

        def as_dt(value):
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=UTC)
            if isinstance(value, date):
                return datetime(value.year, value.month, value.day, tzinfo=UTC)
            parsed = parse_ms_date(value)
            if parsed:
                return parsed
            try:
                return as_dt(datetime.fromisoformat(str(value)))
            except ValueError:
                return None

        return as_dt(left), as_dt(right)
    if isinstance(left, uuid.UUID) or isinstance(right, uuid.UUID):
        return str(left).lower(), str(right).lower()
    return left, right


def _compare(op, left, right):
    left, right = _coerce_pair(left, right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    except TypeError:
        return False


class WhereParser:
    """Parses Xero's C#-like ``where`` into a predicate ``f(record) -> bool``.

    Supports ``== != < <= > >=``, ``AND``/``&&``, ``OR``/``||``, ``NOT``/``!``,
    parentheses, strings, numbers, ``true``/``false``/``null``,
    ``DateTime(y, m, d[, h, mi, s])``, ``Guid("...")``, nested fields (``Contact.ContactID``)
    and the methods ``Contains``, ``StartsWith``, ``EndsWith``, ``ToLower``, ``ToUpper``.
    """

    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.pos = 0

    def parse(self):
        if not self.tokens:
            return lambda record: True
        node = self._or()
        if self.pos != len(self.tokens):
            raise WhereError("Unexpected token in where clause")
        return node

    # token helpers
    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def _accept(self, *values):
        kind, value = self._peek()
        if kind in ("op", "name") and isinstance(value, str) and value.upper() in values:
            self.pos += 1
            return True
        return False

    def _expect(self, value):
        if not self._accept(value):
            raise WhereError(f"Expected {value!r} in where clause")

    # grammar
    def _or(self):
        node = self._and()
        while self._accept("OR", "||"):
            left, right = node, self._and()
            node = lambda r, a=left, b=right: a(r) or b(r)  # noqa: E731
        return node

    def _and(self):
        node = self._not()
        while self._accept("AND", "&&"):
            left, right = node, self._not()
            node = lambda r, a=left, b=right: a(r) and b(r)  # noqa: E731
        return node

    def _not(self):
        if self._accept("NOT", "!"):
            inner = self._not()
            return lambda r: not inner(r)
        return self._comparison()

    def _comparison(self):
        if self._accept("("):
            node = self._or()
            self._expect(")")
            return node
        left = self._operand()
        kind, value = self._peek()
        if kind == "op" and value in ("==", "!=", "<", "<=", ">", ">=", "="):
            self.pos += 1
            op = "==" if value == "=" else value
            right = self._operand()
            return lambda r: _compare(op, left(r), right(r))
        return lambda r: bool(left(r))

    def _operand(self):
        kind, value = self._peek()
        if kind is None:
            raise WhereError("Unexpected end of where clause")
        self.pos += 1
        if kind in ("string", "number"):
            return lambda r: value
        if kind != "name":
            raise WhereError(f"Unexpected {value!r} in where clause")
        upper = value.upper()
        if upper in ("TRUE", "FALSE"):
            flag = upper == "TRUE"
            return lambda r: flag
        if upper == "NULL":
            return lambda r: None
        if upper == "DATETIME" and self._peek() == ("op", "("):
            args = self._args()
            try:
                literal = datetime(*[int(a) for a in args], tzinfo=UTC)
            except (TypeError, ValueError):
                raise WhereError("Invalid DateTime() in where clause")
            return lambda r: literal
        if upper == "GUID" and self._peek() == ("op", "("):
            args = self._args()
            try:
                literal = uuid.UUID(str(args[0]))
            except (IndexError, ValueError):
                raise WhereError("Invalid Guid() in where clause")
            return lambda r: literal
        path = [value]
        calls = []
        while self._accept("."):
            kind, name = self._peek()
            if kind != "name":
                raise WhereError("Expected a name after '.' in where clause")
            self.pos += 1
            if self._peek() == ("op", "("):
                calls.append((name.upper(), self._args()))
            elif calls:
                raise WhereError("Member access after a method call is not supported")
            else:
                path.append(name)

        def evaluate(record):
            current = _lookup(record, path)
            for method, args in calls:
                current = _call(method, current, args)
            return current

        return evaluate

    def _args(self):
        self._expect("(")
        args = []
        if self._accept(")"):
            return args
        while True:
            kind, value = self._peek()
            if kind not in ("string", "number"):
                raise WhereError("Only literal arguments are supported in where clause")
            self.pos += 1
            args.append(value)
            if self._accept(")"):
                return args
            self._expect(",")


def _call(method, value, args):
    if value is None:
        return None if method in ("TOLOWER", "TOUPPER") else False
    text = str(value)
    if method == "TOLOWER":
        return text.lower()
    if method == "TOUPPER":
        return text.upper()
    if method in ("CONTAINS", "STARTSWITH", "ENDSWITH", "EQUALS"):
        if len(args) != 1:
            raise WhereError(f"{method} takes one argument")
        arg = str(args[0])
        return {
            "CONTAINS": arg in text,
            "STARTSWITH": text.startswith(arg),
            "ENDSWITH": text.endswith(arg),
            "EQUALS": text == arg,
        }[method]
    raise WhereError(f"Method {method} is not supported in where clause")


def apply_order(items, order):
    """Sort by ``order`` like ``"Name DESC, UpdatedDateUTC"``."""
    if not order:
        return items
    keys = []
    for part in order.split(","):
        words = part.split()
        if not words:
            continue
        keys.append((words[0].split("."), len(words) > 1 and words[1].upper() == "DESC"))
    for path, descending in reversed(keys):

        def sort_key(record, path=path):
            value = _lookup(record, path)
            dt = parse_ms_date(value) if isinstance(value, str) else None
            value = dt if dt else value
            if isinstance(value, str):
                value = value.lower()
            return (value is None, value if value is not None else 0)

        try:
            items = sorted(items, key=sort_key, reverse=descending)
        except TypeError:
            items = sorted(items, key=lambda r, k=sort_key: str(k(r)), reverse=descending)
    return items


# ------------------------------------------------------------------ the fake
class FakeXero(FakeServer):
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

    # -------------------------------------------------------------- seeding
    def add_client(self, client_id, client_secret):
        self.clients[client_id] = client_secret

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

    def add_account(self, *, tenant_id=None, **fields):
        """Add an account (``Code``, ``Name``, ``Type`` ...); return it."""
        tenant = self._tenant(tenant_id)
        account = {
            "AccountID": str(uuid.uuid4()),
            "Code": "",
            "Name": "",
            "Type": "REVENUE",
            "Status": "ACTIVE",
            "TaxType": "NONE",
            "Description": "",
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": False,
            "BankAccountType": "",
            "ReportingCode": "",
            "HasAttachments": False,
            "UpdatedDateUTC": ms_date(_now()),
            "AddToWatchlist": False,
        }
        account.update(fields)
        account["Class"] = ACCOUNT_CLASS.get(account["Type"], "REVENUE")
        with self._state_lock:
            tenant["accounts"][account["AccountID"]] = account
        return copy.deepcopy(account)

    def add_contact(self, name=None, *, tenant_id=None, **fields):
        """Add a contact (``Name`` plus any Xero field); return it (no validation)."""
        tenant = self._tenant(tenant_id)
        if name is not None:
            fields["Name"] = name
        with self._state_lock:
            contact = self._new_contact(fields)
            tenant["contacts"][contact["ContactID"]] = contact
        return copy.deepcopy(contact)

    def add_invoice(self, *, tenant_id=None, **fields):
        """Create an invoice through the API rules; return it (raises ValueError if invalid)."""
        tenant = self._tenant(tenant_id)
        with self._state_lock:
            work = self._work_copy(tenant)
            result, errors = self._apply_invoice(work, copy.deepcopy(fields), upsert=True)
            if errors:
                raise ValueError("; ".join(errors))
            self._commit(tenant, work)
        return copy.deepcopy(result)

    def set_lock_dates(self, period=None, end_of_year=None, *, tenant_id=None):
        """The organisation's PeriodLockDate / EndOfYearLockDate (``date`` or ``None``)."""
        tenant = self._tenant(tenant_id)
        with self._state_lock:
            tenant["lock_dates"] = {"PeriodLockDate": period, "EndOfYearLockDate": end_of_year}

    def pay_invoice(self, invoice_id, amount=None, *, tenant_id=None):
        """Record a payment (the whole amount due by default); PAID when nothing is due."""
        tenant = self._tenant(tenant_id)
        with self._state_lock:
            invoice = self._find_invoice(tenant, invoice_id)
            if invoice is None:
                raise KeyError(invoice_id)
            amount = invoice["AmountDue"] if amount is None else amount
            invoice["AmountPaid"] = round(invoice["AmountPaid"] + amount, 2)
            invoice["AmountDue"] = round(invoice["Total"] - invoice["AmountPaid"], 2)
            if invoice["AmountDue"] <= 0:
                invoice["Status"] = "PAID"
                invoice["FullyPaidOnDate"] = ms_date(_now())
            invoice["UpdatedDateUTC"] = ms_date(_now())
            return copy.deepcopy(invoice)

    # -------------------------------------------------------------- tokens
    def _new_tokens(self, client_id, scope, auth_event_id, public=False):
        now = int(time.time())
        access = _fake_jwt(
            {
                "nbf": now,
                "exp": now + self.access_token_ttl,
                "iss": f"{self.base_url}/identity",
                "aud": f"{self.base_url}/identity/resources",
                "client_id": client_id,
                "sub": "fake-user",
                "auth_time": now,
                "xero_userid": "00000000-0000-0000-0000-000000000001",
                "global_session_id": uuid.uuid4().hex,
                "jti": uuid.uuid4().hex,
                "authentication_event_id": auth_event_id,
                "scope": scope.split(),
            }
        )
        refresh = secrets.token_hex(32)
        with self._state_lock:
            self._access_tokens[access] = {
                "expires": time.monotonic() + self.access_token_ttl,
                "client_id": client_id,
                "scope": set(scope.split()),
            }
            if "offline_access" in scope.split():
                self._refresh_tokens[refresh] = {
                    "client_id": client_id,
                    "scope": scope,
                    "used": False,
                    "public": public,
                    "auth_event_id": auth_event_id,
                }
            else:
                refresh = None
        body = {
            "id_token": _fake_jwt({"sub": "fake-user", "aud": client_id, "iat": now}),
            "access_token": access,
            "expires_in": self.access_token_ttl,
            "token_type": "Bearer",
            "scope": scope,
        }
        if refresh:
            body["refresh_token"] = refresh
        return body

    def issue_tokens(self, scope=DEFAULT_SCOPE, client_id=None):
        """Skip the OAuth dance: a token response as ``/identity/connect/token`` gives it."""
        return self._new_tokens(client_id or self.client_id, scope, self.auth_event_id)

    def expire_access_tokens(self):
        """Make every access token issued so far expired (the API then answers 401)."""
        with self._state_lock:
            for info in self._access_tokens.values():
                info["expires"] = 0

    def revoke_refresh_tokens(self):
        """Make every refresh token unusable (as after 60 days without use)."""
        with self._state_lock:
            for info in self._refresh_tokens.values():
                info["used"] = True

    def refresh_token_state(self, token):
        """``"active"``, ``"used"`` or ``"unknown"``."""
        info = self._refresh_tokens.get(token)
        if info is None:
            return "unknown"
        return "used" if info["used"] else "active"

    # -------------------------------------------------------------- inspection
    def contacts(self, tenant_id=None):
        with self._state_lock:
            return copy.deepcopy(list(self._tenant(tenant_id)["contacts"].values()))

    def accounts(self, tenant_id=None):
        with self._state_lock:
            return copy.deepcopy(list(self._tenant(tenant_id)["accounts"].values()))

    def invoices(self, tenant_id=None):
        with self._state_lock:
            return copy.deepcopy(list(self._tenant(tenant_id)["invoices"].values()))

    def get_invoice(self, invoice_id_or_number, tenant_id=None):
        with self._state_lock:
            found = self._find_invoice(self._tenant(tenant_id), invoice_id_or_number)
            return copy.deepcopy(found)

    def credit_notes(self, tenant_id=None):
        with self._state_lock:
            return copy.deepcopy(list(self._tenant(tenant_id)["credit_notes"].values()))

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

    def _authenticate(self, request):
        lowered = request.path.lower()
        if not (self._is_api(request) or lowered.startswith("/connections")):
            return None
        header = request.header("Authorization", "")
        scheme, _, token = header.partition(" ")
        info = self._access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if info is None:
            return FakeResponse(
                401,
                self._error_body(401, "AuthenticationUnsuccessful"),
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if info["expires"] <= time.monotonic():
            return FakeResponse(
                401,
                self._error_body(401, "TokenExpired: token expired"),
                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'},
            )
        request.context["client_id"] = info["client_id"]
        if not self._is_api(request):
            return None
        tenant_id = request.header("xero-tenant-id", "").strip()
        tenant = self.tenants.get(tenant_id)
        if tenant is None or not tenant["connected"]:
            return FakeResponse(403, self._error_body(403, "AuthenticationUnsuccessful"))
        request.context["tenant_id"] = tenant_id
        if self.check_scopes:
            collection = lowered[len(API) + 1 :].split("/")[0]
            read_scopes, write_scopes = SCOPES.get(collection, (set(), set()))
            needed = read_scopes if request.method == "GET" else write_scopes
            if needed and not needed & info["scope"]:
                return FakeResponse(
                    401,
                    self._error_body(401, "AuthorizationUnsuccessful: insufficient scope"),
                )
        return None

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

    # -------------------------------------------------------------- identity
    def _authorize(self, request):
        client_id = request.arg("client_id")
        redirect_uri = request.arg("redirect_uri")
        if client_id not in self.clients or not redirect_uri:
            return FakeResponse(400, {"error": "invalid_request"})
        state = request.arg("state")

        def redirect(**params):
            if state is not None:
                params["state"] = state
            parts = urlsplit(redirect_uri)
            query = "&".join(p for p in (parts.query, urlencode(params)) if p)
            location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
            return FakeResponse(302, None, {"Location": location})

        if request.arg("response_type") != "code":
            return redirect(error="unsupported_response_type")
        scope = request.arg("scope", "")
        if not scope.strip():
            return redirect(error="invalid_scope")
        method = request.arg("code_challenge_method")
        challenge = request.arg("code_challenge")
        if challenge and (method or "plain") not in ("S256", "plain"):
            return redirect(error="invalid_request")
        code = secrets.token_hex(16)
        with self._state_lock:
            self._codes[code] = {
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "challenge": challenge,
                "method": method or "plain",
                "expires": time.monotonic() + 300,
            }
        return redirect(code=code, scope=scope, session_state=secrets.token_hex(8))

    def _client_auth(self, request, form):
        """Return the authenticated client id (or ``(client_id, public)``); HttpError if bad."""
        header = request.header("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise HttpError(400, {"error": "invalid_client"})
            client_id, _, secret = decoded.partition(":")
            if self.clients.get(client_id) != secret:
                raise HttpError(400, {"error": "invalid_client"})
            return client_id, False
        client_id = form.get("client_id")
        if client_id not in self.clients:
            raise HttpError(400, {"error": "invalid_client"})
        secret = form.get("client_secret")
        if secret is not None:
            if self.clients[client_id] != secret:
                raise HttpError(400, {"error": "invalid_client"})
            return client_id, False
        return client_id, True

    def _token(self, request):
        form = request.form
        client_id, public = self._client_auth(request, form)
        grant = form.get("grant_type")
        invalid = HttpError(400, {"error": "invalid_grant"})
        with self._state_lock:
            if grant == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                if (
                    code is None
                    or code["client_id"] != client_id
                    or code["expires"] < time.monotonic()
                    or code["redirect_uri"] != form.get("redirect_uri")
                ):
                    raise invalid
                if code["challenge"]:
                    verifier = form.get("code_verifier") or ""
                    if code["method"] == "S256":
                        computed = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
                    else:
                        computed = verifier
                    if not verifier or computed != code["challenge"]:
                        raise invalid
                elif public:
                    raise HttpError(400, {"error": "invalid_client"})
                self.auth_event_id = str(uuid.uuid4())
                for tenant in self.tenants.values():
                    tenant["connected"] = True
                    tenant["connection"]["authEventId"] = self.auth_event_id
                return self._new_tokens(client_id, code["scope"], self.auth_event_id, public)
            if grant == "refresh_token":
                info = self._refresh_tokens.get(form.get("refresh_token", ""))
                if info is None or info["used"] or info["client_id"] != client_id:
                    raise invalid
                if public and not info["public"]:
                    raise HttpError(400, {"error": "invalid_client"})
                info["used"] = True
                return self._new_tokens(
                    client_id, info["scope"], info["auth_event_id"], info["public"]
                )
        return FakeResponse(400, {"error": "unsupported_grant_type"})

    def _revocation(self, request):
        form = request.form
        self._client_auth(request, form)
        token = form.get("token", "")
        with self._state_lock:
            if token in self._refresh_tokens:
                self._refresh_tokens[token]["used"] = True
            self._access_tokens.pop(token, None)
        return FakeResponse(200)

    def _connections(self, request):
        event = request.arg("authEventId")
        return [
            copy.deepcopy(t["connection"])
            for t in self.tenants.values()
            if t["connected"] and (not event or t["connection"]["authEventId"] == event)
        ]

    def _disconnect(self, request):
        for tenant in self.tenants.values():
            if tenant["connection"]["id"] == request.params["id"] and tenant["connected"]:
                tenant["connected"] = False
                return FakeResponse(204)
        return FakeResponse(404, self._error_body(404, "Connection not found"))

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

    # -------------------------------------------------------------- organisation, tax, accounts
    def _organisation(self, request):
        tenant = self._request_tenant(request)
        conn = tenant["connection"]
        return self._envelope(
            "Organisations",
            [
                {
                    "OrganisationID": conn["tenantId"],
                    "Name": conn["tenantName"],
                    "LegalName": conn["tenantName"],
                    "BaseCurrency": "AUD",
                    "CountryCode": "AU",
                    "OrganisationType": "COMPANY",
                    "OrganisationStatus": "ACTIVE",
                    "IsDemoCompany": False,
                    "Version": "AU",
                    "Timezone": "AUSEASTERNSTANDARDTIME",
                    "ShortCode": "!fake1",
                    "Edition": "BUSINESS",
                    **{
                        name: ms_date(value)
                        for name, value in tenant["lock_dates"].items()
                        if value
                    },
                }
            ],
        )

    def _tax_rates(self, request):
        rates = [
            {
                "Name": name,
                "TaxType": tax_type,
                "Status": "ACTIVE",
                "ReportTaxType": tax_type,
                "DisplayTaxRate": rate,
                "EffectiveRate": rate,
                "CanApplyToRevenue": True,
                "CanApplyToExpenses": True,
                "TaxComponents": [{"Name": "GST", "Rate": rate, "IsCompound": False}],
            }
            for tax_type, name, rate in TAX_RATES
        ]
        return self._envelope("TaxRates", self._filter(request, rates))

    def _list_accounts(self, request):
        tenant = self._request_tenant(request)
        with self._state_lock:
            items = copy.deepcopy(list(tenant["accounts"].values()))
        return self._envelope("Accounts", self._filter(request, items, id_field="AccountID"))

    def _get_account(self, request):
        tenant = self._request_tenant(request)
        account = tenant["accounts"].get(request.params["id"])
        if account is None:
            raise HttpError(404, self._error_body(404, "Account not found"))
        return self._envelope("Accounts", [copy.deepcopy(account)])

    # -------------------------------------------------------------- contacts
    def _new_contact(self, fields):
        contact = {
            "ContactID": str(uuid.uuid4()),
            "ContactStatus": "ACTIVE",
            "Name": "",
            "EmailAddress": "",
            "Addresses": [{"AddressType": "POBOX"}, {"AddressType": "STREET"}],
            "Phones": [{"PhoneType": t} for t in ("DEFAULT", "DDI", "FAX", "MOBILE")],
            "ContactGroups": [],
            "ContactPersons": [],
            "IsSupplier": False,
            "IsCustomer": False,
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
        contact.update({k: v for k, v in fields.items() if k not in ("UpdatedDateUTC",)})
        contact["UpdatedDateUTC"] = ms_date(_now())
        return contact

    def _list_contacts(self, request):
        tenant = self._request_tenant(request)
        with self._state_lock:
            items = copy.deepcopy(list(tenant["contacts"].values()))
        if not _bool_arg(request.arg("includeArchived", ignore_case=True), False):
            items = [c for c in items if c.get("ContactStatus") != "ARCHIVED"]
        term = request.arg("searchTerm", ignore_case=True)
        if term:
            term = term.lower()
            fields = ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
            items = [c for c in items if any(term in str(c.get(f) or "").lower() for f in fields)]
        items = self._filter(request, items, id_field="ContactID")
        if _bool_arg(request.arg("summaryOnly", ignore_case=True), False):
            for contact in items:
                for heavy in ("Addresses", "Phones", "ContactPersons", "ContactGroups"):
                    contact.pop(heavy, None)
        return self._page(request, items, "Contacts")

    def _get_contact(self, request):
        tenant = self._request_tenant(request)
        contact = tenant["contacts"].get(request.params["id"])
        if contact is None:
            for candidate in tenant["contacts"].values():
                if candidate.get("ContactNumber") == request.params["id"]:
                    contact = candidate
        if contact is None:
            raise HttpError(404, self._error_body(404, "Contact not found"))
        return self._envelope("Contacts", [copy.deepcopy(contact)])

    def _save_contacts(self, request):
        return self._save_batch(request, "Contacts", self._apply_contact)

    def _apply_contact(self, work, item, *, upsert, request=None):
        contacts = work["contacts"]
        errors = []
        existing = None
        contact_id = item.get("ContactID")
        if contact_id:
            existing = contacts.get(contact_id)
            if existing is None:
                return None, [f"Contact with ContactID {contact_id} could not be found."]
        elif upsert and item.get("ContactNumber"):
            existing = next(
                (c for c in contacts.values() if c.get("ContactNumber") == item["ContactNumber"]),
                None,
            )
        name = item.get("Name", existing["Name"] if existing else None)
        if not name or not str(name).strip():
            errors.append("The contact name must be specified.")
        elif len(name) > 255:
            errors.append("The contact name must be 255 characters or less.")
        status = item.get("ContactStatus", existing["ContactStatus"] if existing else "ACTIVE")
        if name and status == "ACTIVE":
            for other in contacts.values():
                if (
                    other is not existing
                    and other.get("ContactStatus") == "ACTIVE"
                    and str(other.get("Name", "")).strip().lower() == str(name).strip().lower()
                ):
                    errors.append(
                        f"The contact name {name} is already assigned to another contact. "
                        "The contact name must be unique across all active contacts."
                    )
                    break
        email = item.get("EmailAddress")
        if email and not EMAIL_RE.match(email):
            errors.append("Email address must be valid.")
        if errors:
            return None, errors
        for read_only in ("UpdatedDateUTC", "HasValidationErrors", "ValidationErrors"):
            item.pop(read_only, None)
        if existing is not None:
            existing.update(item)
            existing["UpdatedDateUTC"] = ms_date(_now())
            return copy.deepcopy(existing), []
        contact = self._new_contact(item)
        contacts[contact["ContactID"]] = contact
        return copy.deepcopy(contact), []

    # -------------------------------------------------------------- invoices
    def _find_invoice(self, tenant, key, invoices=None):
        invoices = tenant["invoices"] if invoices is None else invoices
        if key in invoices:
            return invoices[key]
        for invoice in invoices.values():
            if invoice.get("InvoiceNumber") == key:
                return invoice
        return None

    def _list_invoices(self, request):
        tenant = self._request_tenant(request)
        with self._state_lock:
            items = copy.deepcopy(list(tenant["invoices"].values()))

        def csv_arg(name):
            value = request.arg(name, ignore_case=True)
            return [v.strip() for v in value.split(",") if v.strip()] if value else None

        numbers = csv_arg("InvoiceNumbers")
        if numbers:
            items = [i for i in items if i.get("InvoiceNumber") in numbers]
        contact_ids = csv_arg("ContactIDs")
        if contact_ids:
            wanted = {c.lower() for c in contact_ids}
            items = [i for i in items if i["Contact"]["ContactID"].lower() in wanted]
        statuses = csv_arg("Statuses")
        if statuses:
            items = [i for i in items if i["Status"] in {s.upper() for s in statuses}]
        term = request.arg("searchTerm", ignore_case=True)
        if term:
            term = term.lower()
            items = [
                i
                for i in items
                if term in str(i.get("InvoiceNumber") or "").lower()
                or term in str(i.get("Reference") or "").lower()
            ]
        items = self._filter(request, items, id_field="InvoiceID")
        paged = request.arg("page", ignore_case=True) is not None
        if not paged or _bool_arg(request.arg("summaryOnly", ignore_case=True), False):
            for invoice in items:
                invoice.pop("LineItems", None)
        return self._page(request, items, "Invoices")

    def _get_invoice(self, request):
        tenant = self._request_tenant(request)
        invoice = self._find_invoice(tenant, request.params["id"])
        if invoice is None:
            raise HttpError(404, self._error_body(404, "Invoice not found"))
        return self._envelope("Invoices", [copy.deepcopy(invoice)])

    def _save_invoices(self, request):
        return self._save_batch(request, "Invoices", self._apply_invoice)

    def _online_invoice(self, request):
        tenant = self._request_tenant(request)
        invoice = self._find_invoice(tenant, request.params["id"])
        if invoice is None:
            raise HttpError(404, self._error_body(404, "Invoice not found"))
        if invoice["Status"] in ("DRAFT", "DELETED"):
            raise HttpError(
                400,
                {
                    "ErrorNumber": 10,
                    "Type": "ValidationException",
                    "Message": "A validation exception occurred",
                    "Elements": [
                        {
                            "InvoiceID": invoice["InvoiceID"],
                            "ValidationErrors": [
                                {"Message": "Online invoices are not available for this status."}
                            ],
                        }
                    ],
                },
            )
        url = f"{self.base_url}/online-invoice/{invoice['InvoiceID']}"
        return self._envelope("OnlineInvoices", [{"OnlineInvoiceUrl": url}])

    def _email_invoice(self, request):
        tenant = self._request_tenant(request)
        with self._state_lock:
            invoice = self._find_invoice(tenant, request.params["id"])
            if invoice is None:
                raise HttpError(404, self._error_body(404, "Invoice not found"))
            if invoice["Status"] not in ("SUBMITTED", "AUTHORISED", "PAID"):
                raise HttpError(400, self._error_body(400, "Only approved invoices can be emailed"))
            invoice["SentToContact"] = True
        return FakeResponse(204)

    def _resolve_contact(self, work, ref, errors):
        if not isinstance(ref, dict) or not (ref.get("ContactID") or ref.get("Name")):
            errors.append("A Contact must be specified for this type of transaction")
            return None
        contacts = work["contacts"]
        if ref.get("ContactID"):
            contact = contacts.get(ref["ContactID"])
            if contact is None:
                errors.append(f"The contact with ContactID {ref['ContactID']} could not be found.")
            return contact
        name = str(ref["Name"]).strip().lower()
        for contact in contacts.values():
            if str(contact.get("Name", "")).strip().lower() == name:
                return contact
        if self.auto_create_contacts:
            contact = self._new_contact(ref)
            contacts[contact["ContactID"]] = contact
            return contact
        errors.append(f"The contact named {ref['Name']} could not be found.")
        return None

    def _apply_invoice(self, work, item, *, upsert, request=None, credit=False):
        """Create or update one invoice (``credit``: one credit note, in the invoice's
        field names; see ``_apply_credit_note``)."""
        invoices = work["credit_notes" if credit else "invoices"]
        errors = []
        existing = None
        if item.get("InvoiceID"):
            existing = invoices.get(item["InvoiceID"])
            if existing is None:
                return None, [f"Invoice with InvoiceID {item['InvoiceID']} could not be found."]
        elif upsert and item.get("InvoiceNumber"):
            existing = next(
                (
                    i
                    for i in invoices.values()
                    if i.get("InvoiceNumber") == item["InvoiceNumber"]
                    and i["Status"] not in ("DELETED", "VOIDED")
                ),
                None,
            )
        unit_dp = 4 if request is not None and request.arg("unitdp", ignore_case=True) == "4" else 2
        merged = copy.deepcopy(existing) if existing else {}
        merged.update(item)
        if existing is not None:
            old = existing["Status"]
            new = merged.get("Status", old)
            if new not in STATUS_MOVES.get(old, set()):
                return None, [f"Invoice not of valid status for modification ({old} to {new})."]
            if old == "AUTHORISED" and new == "VOIDED" and existing.get("AmountPaid"):
                return None, ["A paid invoice cannot be voided."]
        inv_type = merged.get("Type")
        if credit and inv_type not in CREDIT_NOTE_TYPES:
            errors.append("Credit note Type must be ACCRECCREDIT or ACCPAYCREDIT.")
        elif inv_type not in INVOICE_TYPES:
            errors.append("Invoice Type must be specified (ACCREC, ACCPAY, ...).")
        status = merged.get("Status") or "DRAFT"
        if existing is None and status not in CREATE_STATUSES:
            errors.append(f"Invoice status {status} is not valid for a new invoice.")
        contact = self._resolve_contact(work, merged.get("Contact"), errors)
        if contact is not None and contact.get("ContactStatus") == "ARCHIVED":
            errors.append("The contact is archived and cannot be used.")
        number = merged.get("InvoiceNumber")
        # ASSUMED: Xero documents no uniqueness of credit note numbers; the fake
        # accepts a second credit note under a number already used.
        if number and not credit:
            if len(str(number)) > 255:
                errors.append("Invoice number must be 255 characters or less.")
            for other in invoices.values():
                if (
                    other is not existing
                    and (existing is None or other["InvoiceID"] != existing["InvoiceID"])
                    and other.get("InvoiceNumber") == number
                    and other.get("Type") == inv_type
                    and other["Status"] not in ("DELETED", "VOIDED")
                ):
                    errors.append("Invoice # must be unique.")
                    break
        dates = {"Date": _now().date()}
        for name in ("Date", "DueDate"):
            value = merged.get(name)
            if value in (None, ""):
                continue
            try:
                dates[name] = parse_request_date(value)
            except ValueError:
                errors.append(f"{name} is not a valid date.")
        if status in ("SUBMITTED", "AUTHORISED") and "DueDate" not in dates and not credit:
            errors.append("Due Date is required.")
        if status in ("SUBMITTED", "AUTHORISED"):
            errors += self._lock_date_errors(work, dates["Date"])
        line_types = merged.get("LineAmountTypes") or "Exclusive"
        if line_types not in ("Exclusive", "Inclusive", "NoTax"):
            errors.append("LineAmountTypes must be Exclusive, Inclusive or NoTax.")
        lines = merged.get("LineItems")
        if not isinstance(lines, list) or not lines:
            errors.append("Invoice must have at least one line item.")
            lines = []
        computed_lines = [
            self._compute_line(work, line, line_types, status, unit_dp, errors)
            for line in lines
            if isinstance(line, dict)
        ]
        if errors:
            return None, errors

        sub_total = round(sum(line["LineAmount"] for line in computed_lines), 2)
        total_tax = round(sum(line["TaxAmount"] for line in computed_lines), 2)
        if line_types == "Inclusive":
            sub_total = round(sub_total - total_tax, 2)
        total = round(sub_total + total_tax, 2)
        if existing is None:
            if not number and inv_type == "ACCRECCREDIT" and credit:
                work["credit_note_seq"] += 1
                number = f"CN-{work['credit_note_seq']:04d}"
            elif not number and inv_type == "ACCREC":
                work["invoice_seq"] += 1
                number = f"INV-{work['invoice_seq']:04d}"
            invoice_id = str(uuid.uuid4())
            amount_paid = 0.0
        else:
            invoice_id = existing.get("InvoiceID") or existing["CreditNoteID"]
            amount_paid = existing.get("AmountPaid", 0.0)
        if inv_type in ("ACCREC", "ACCRECCREDIT"):
            contact["IsCustomer"] = True
        elif inv_type == "ACCPAY":
            contact["IsSupplier"] = True
        invoice = {
            "Type": inv_type,
            "InvoiceID": invoice_id,
            "InvoiceNumber": number or "",
            "Reference": merged.get("Reference", ""),
            "Contact": {
                "ContactID": contact["ContactID"],
                "ContactStatus": contact.get("ContactStatus", "ACTIVE"),
                "Name": contact.get("Name", ""),
            },
            "Date": ms_date(dates["Date"]),
            "DateString": dates["Date"].strftime("%Y-%m-%dT00:00:00"),
            "Status": status,
            "LineAmountTypes": line_types,
            "LineItems": computed_lines,
            "SubTotal": sub_total,
            "TotalTax": total_tax,
            "Total": total,
            "TotalDiscount": 0.0,
            "AmountDue": round(total - amount_paid, 2),
            "AmountPaid": amount_paid,
            "AmountCredited": 0.0,
            "CurrencyCode": merged.get("CurrencyCode") or "AUD",
            "CurrencyRate": merged.get("CurrencyRate") or 1.0,
            "BrandingThemeID": merged.get("BrandingThemeID"),
            "Url": merged.get("Url"),
            "SentToContact": bool(merged.get("SentToContact", False)),
            "IsDiscounted": False,
            "HasAttachments": False,
            "HasErrors": False,
            "Payments": [],
            "CreditNotes": [],
            "UpdatedDateUTC": ms_date(_now()),
        }
        if "DueDate" in dates:
            invoice["DueDate"] = ms_date(dates["DueDate"])
            invoice["DueDateString"] = dates["DueDate"].strftime("%Y-%m-%dT00:00:00")
        invoice = {k: v for k, v in invoice.items() if v is not None}
        invoices[invoice_id] = invoice
        return copy.deepcopy(invoice), []

    def _lock_date_errors(self, work, day):
        """Xero help "Lock dates": nobody (period lock: everyone but advisers; the API
        connection is no adviser, ASSUMED) saves a transaction dated on or before the
        lock date. The message's wording is ASSUMED."""
        locks = [d for d in (work.get("lock_dates") or {}).values() if d]
        if locks and day <= max(locks):
            return [
                f"The document date cannot be on or before the lock date "
                f"({max(locks).strftime('%d %b %Y')})."
            ]
        return []

    # -------------------------------------------------------------- credit notes
    # "Credit Notes", https://developer.xero.com/documentation/api/accounting/creditnotes: PUT/POST
    # /CreditNotes (Type ACCRECCREDIT / ACCPAYCREDIT, CreditNoteNumber, Contact, Date,
    # LineAmountTypes, LineItems, Status), read-only RemainingCredit and Allocations;
    # "Allocating credit notes": PUT /CreditNotes/{id}/Allocations with
    # Invoice{InvoiceID}, Amount, Date.
    def _apply_credit_note(self, work, item, *, upsert, request=None):
        for note_field, invoice_field in CREDIT_NOTE_FIELDS.items():
            if note_field in item:
                item[invoice_field] = item.pop(note_field)
        previous = work["credit_notes"].get(item.get("InvoiceID") or "") or {}
        if previous.get("Allocations"):
            return None, ["A credit note with allocations cannot be modified."]
        result, errors = self._apply_invoice(
            work, item, upsert=upsert, request=request, credit=True
        )
        if errors:
            return None, errors
        note = work["credit_notes"][result["InvoiceID"]]
        for note_field, invoice_field in CREDIT_NOTE_FIELDS.items():
            note[note_field] = note.pop(invoice_field)
        for gone in ("AmountDue", "AmountPaid", "AmountCredited", "CreditNotes", "IsDiscounted"):
            note.pop(gone, None)
        note.setdefault("Allocations", [])
        allocated = sum(a["Amount"] for a in note["Allocations"])
        note["RemainingCredit"] = cents(note["Total"] - allocated)
        return copy.deepcopy(note), []

    def _list_credit_notes(self, request):
        """``where``/``order``/``IDs`` and paging as Invoices ("Credit Notes",
        https://developer.xero.com/documentation/api/accounting/creditnotes); ASSUMED: no
        ``summaryOnly`` (documented for Invoices and Contacts), line items left out only
        when not paged (as Invoices)."""
        tenant = self._request_tenant(request)
        with self._state_lock:
            items = copy.deepcopy(list(tenant["credit_notes"].values()))
        items = self._filter(request, items, id_field="CreditNoteID")
        if request.arg("page", ignore_case=True) is None:
            for note in items:
                note.pop("LineItems", None)
        return self._page(request, items, "CreditNotes")

    def _find_credit_note(self, tenant, key):
        notes = tenant["credit_notes"]
        if key in notes:
            return notes[key]
        return next((n for n in notes.values() if n.get("CreditNoteNumber") == key), None)

    def _get_credit_note(self, request):
        note = self._find_credit_note(self._request_tenant(request), request.params["id"])
        if note is None:
            raise HttpError(404, self._error_body(404, "Credit note not found"))
        return self._envelope("CreditNotes", [copy.deepcopy(note)])

    def _save_credit_notes(self, request):
        return self._save_batch(request, "CreditNotes", self._apply_credit_note)

    def _allocation_errors(self, work, note, invoice, amount, day):
        """Xero's rules for allocating a credit note (creditnotes page, "Allocating
        credit notes", and Xero help "Apply a credit note to an invoice"): both
        approved (AUTHORISED), a sales credit note on a sales invoice of the same
        contact and currency, an amount above zero and at most the credit left and the
        invoice's amount due. Wording of the messages ASSUMED."""
        errors = []
        if note["Status"] != "AUTHORISED":
            errors.append("The credit note must be approved (AUTHORISED) to be allocated.")
        if invoice is None:
            return errors + ["The invoice could not be found."]
        if invoice["Status"] != "AUTHORISED":
            errors.append(
                f"The invoice is {invoice['Status']}: only approved invoices take credit."
            )
        pairs = {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}
        if pairs.get(note["Type"]) != invoice["Type"]:
            errors.append("A sales credit note is allocated to a sales invoice.")
        if note["Contact"]["ContactID"] != invoice["Contact"]["ContactID"]:
            errors.append("The credit note and the invoice must be for the same contact.")
        if note.get("CurrencyCode") != invoice.get("CurrencyCode"):
            errors.append("The credit note and the invoice must be in the same currency.")
        if amount <= 0:
            errors.append("Amount must be greater than zero.")
        if amount > note["RemainingCredit"] + 0.001:
            errors.append("Amount must be less than or equal to the remaining credit.")
        if amount > invoice["AmountDue"] + 0.001:
            errors.append("Amount must be less than or equal to the invoice's amount due.")
        errors += self._lock_date_errors(work, day)
        return errors

    def _allocate(self, request):
        items = self._items(request, "Allocations")

        def produce():
            tenant = self._request_tenant(request)
            work = self._work_copy(tenant)
            note = self._find_credit_note(work, request.params["id"])
            if note is None:
                raise HttpError(404, self._error_body(404, "Credit note not found"))
            results, failed = [], []
            for item in items:
                invoice_id = (item.get("Invoice") or {}).get("InvoiceID")
                invoice = work["invoices"].get(invoice_id) if invoice_id else None
                try:
                    amount = cents(float(item.get("Amount")))
                    day = (
                        parse_request_date(item.get("Date")) if item.get("Date") else _now().date()
                    )
                except (TypeError, ValueError):
                    failed.append(
                        dict(item, ValidationErrors=[{"Message": "Amount and Date are required."}])
                    )
                    continue
                errors = self._allocation_errors(work, note, invoice, amount, day)
                if errors:
                    failed.append(dict(item, ValidationErrors=[{"Message": m} for m in errors]))
                    continue
                allocation = {
                    "AllocationID": str(uuid.uuid4()),
                    "Amount": amount,
                    "Date": ms_date(day),
                    "Invoice": {
                        "InvoiceID": invoice["InvoiceID"],
                        "InvoiceNumber": invoice["InvoiceNumber"],
                    },
                    "CreditNote": {"CreditNoteID": note["CreditNoteID"]},
                }
                note["Allocations"].append(allocation)
                note["RemainingCredit"] = cents(note["RemainingCredit"] - amount)
                if not note["RemainingCredit"]:
                    note["Status"] = "PAID"
                invoice["AmountCredited"] = cents(invoice["AmountCredited"] + amount)
                invoice["AmountDue"] = cents(invoice["AmountDue"] - amount)
                invoice["CreditNotes"].append(
                    {
                        "CreditNoteID": note["CreditNoteID"],
                        "CreditNoteNumber": note["CreditNoteNumber"],
                        "AppliedAmount": amount,
                        "Total": note["Total"],
                    }
                )
                if not invoice["AmountDue"]:
                    invoice["Status"] = "PAID"
                results.append(allocation)
            if failed:
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
            return FakeResponse(200, self._envelope("Allocations", results))

        return self._idempotent(request, produce)

    def _compute_line(self, work, line, line_types, status, unit_dp, errors):
        rates = {tax_type: rate for tax_type, _, rate in TAX_RATES}
        description = line.get("Description")
        if not description and not line.get("ItemCode"):
            errors.append("Description must be specified on every line item.")
        code = line.get("AccountCode")
        account = None
        if code:
            account = next(
                (
                    a
                    for a in work["accounts"].values()
                    if a["Code"] == str(code) and a["Status"] == "ACTIVE"
                ),
                None,
            )
            if account is None:
                errors.append(f"Account code '{code}' is not a valid code for this document.")
        elif status in ("SUBMITTED", "AUTHORISED"):
            errors.append("Account code must be specified on every line of an approved invoice.")
        tax_type = line.get("TaxType") or (account or {}).get("TaxType") or "NONE"
        if tax_type not in rates:
            errors.append(
                f"The TaxType code '{tax_type}' does not exist or cannot be used with this "
                "type of transaction."
            )
        try:
            quantity = float(line.get("Quantity", 1) if line.get("Quantity") is not None else 1)
            unit = line.get("UnitAmount")
            discount = float(line.get("DiscountRate") or 0)
            given = line.get("LineAmount")
            if unit is None and given is not None:
                unit = float(given) / quantity if quantity else 0.0
            unit = round(float(unit or 0), unit_dp)
        except (TypeError, ValueError, ZeroDivisionError):
            errors.append("Quantity, UnitAmount, DiscountRate and LineAmount must be numbers.")
            return {}
        amount = cents(quantity * unit * (100 - discount) / 100)
        if given is not None and abs(float(given) - amount) > 0.01:
            errors.append(
                f"The line total {float(given):.2f} does not match the expected line total "
                f"{amount:.2f}."
            )
        # Tax per line, rounded to the cent, summed on the document ("Rounding in
        # Xero": "Xero calculates tax on a per line basis, rounding to two decimal
        # places, and then sums the tax totals of each line"); a TaxAmount given on
        # the line is kept (spec, LineItem.TaxAmount: "This value can be overriden
        # if the calculated <TaxAmount> is not correct").
        rate = 0.0 if line_types == "NoTax" else rates.get(tax_type, 0.0)
        if line.get("TaxAmount") is not None:
            try:
                tax = cents(float(line["TaxAmount"]))
            except (TypeError, ValueError):
                errors.append("TaxAmount must be a number.")
                return {}
        elif line_types == "Inclusive":
            tax = cents(amount - amount / (1 + rate / 100))
        else:
            tax = cents(amount * rate / 100)
        result = {
            "LineItemID": line.get("LineItemID") or str(uuid.uuid4()),
            "Description": description or "",
            "Quantity": quantity,
            "UnitAmount": unit,
            "TaxType": tax_type,
            "TaxAmount": tax,
            "LineAmount": amount,
            "Tracking": line.get("Tracking") or [],
        }
        for optional in ("AccountCode", "ItemCode", "DiscountRate", "AccountID"):
            if line.get(optional) is not None:
                result[optional] = line[optional]
        if account is not None:
            result["AccountID"] = account["AccountID"]
        return result


def pkce_pair(verifier=None):
    """``(code_verifier, code_challenge)`` for S256 PKCE (test helper)."""
    verifier = verifier or _b64url(secrets.token_bytes(32))
    return verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


__all__ = ["DEFAULT_SCOPE", "FakeXero", "WhereParser", "ms_date", "parse_ms_date", "pkce_pair"]
