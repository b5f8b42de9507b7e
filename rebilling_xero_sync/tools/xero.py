"""Xero constants and small pure helpers (no Odoo import)."""

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime

AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
TOKEN_URL = "https://identity.xero.com/connect/token"
REVOCATION_URL = "https://identity.xero.com/connect/revocation"
CONNECTIONS_URL = "https://api.xero.com/connections"
API_URL = "https://api.xero.com/api.xro/2.0"
APP_URL = "https://go.xero.com"
# Granular scopes: apps created since 2026-03-02 cannot ask for accounting.transactions.
DEFAULT_SCOPES = (
    "openid profile email offline_access accounting.invoices accounting.contacts "
    "accounting.settings.read"
)
CALLBACK_PATH = "/rebilling/xero/callback"
# Xero's documented limits per tenant: 60 calls a minute, 5 at a time; ~50 items a request.
MINUTE_LIMIT = 60
CONCURRENT_LIMIT = 5
BATCH_SIZE = 50
# Tax-rate display names of the CSV export (wizard._xero_tax_type) → API TaxType codes,
# used until the organisation's own tax rates are pulled (Australian defaults).
DEFAULT_TAX_TYPES = {
    "GST on Income": "OUTPUT",
    "GST Free Income": "EXEMPTOUTPUT",
    "BAS Excluded": "BASEXCLUDED",
    "GST on Expenses": "INPUT",
    "GST Free Expenses": "EXEMPTEXPENSES",
    "No GST": "NONE",
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_pair():
    """``(code_verifier, code_challenge)`` for S256 PKCE."""
    verifier = secrets.token_urlsafe(64)
    return verifier, b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def parse_ms_date(text):
    """A UTC datetime from Xero's ``/Date(1539993600000+0000)/``, else ``None``."""
    match = re.fullmatch(r"/Date\((-?\d+)([+-]\d{4})?\)/", str(text or ""))
    if not match:
        return None
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


def normalize(text):
    """Name / email key for matching: trimmed, single spaces, case-folded."""
    return " ".join(str(text or "").split()).casefold()


def validation_messages(item):
    """The validation messages of one item of a ``summarizeErrors=false`` answer."""
    return [
        str(error.get("Message") or "").strip()
        for error in item.get("ValidationErrors") or []
        if isinstance(error, dict)
    ]


def item_failed(item):
    return bool(
        item.get("HasErrors")
        or item.get("HasValidationErrors")
        or item.get("StatusAttributeString") == "ERROR"
        or validation_messages(item)
    )


def error_text(body):
    """A short readable text of a Xero error body (ValidationException, problem JSON)."""
    if not isinstance(body, dict):
        return str(body or "")[:500]
    messages = []
    for element in body.get("Elements") or []:
        if isinstance(element, dict):
            messages += validation_messages(element)
    if messages:
        return "; ".join(messages)
    for key in ("Message", "Detail", "error_description", "error", "Title"):
        if body.get(key):
            return str(body[key])
    return ""
