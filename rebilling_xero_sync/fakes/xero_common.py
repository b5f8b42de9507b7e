"""Constants and date/number helpers shared by the parts of the fake Xero
(rules and sources: :mod:`.fake_xero`)."""

import base64
import json
import re
import secrets
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

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
