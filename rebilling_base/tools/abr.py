"""ABR ABN Lookup (SOAP) with zeep: is an ABN active, is it registered for GST.

Documented: https://abr.business.gov.au/Documentation/WebServiceMethods (method
``ABRSearchByABN``: ``searchString``, ``includeHistoricalDetails``,
``authenticationGuid``); an ``effectiveTo`` of 0001-01-01 means "no end date".
"""

import datetime
import re
from dataclasses import dataclass

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.helpers import serialize_object
from zeep.transports import Transport

DEFAULT_WSDL = "https://abr.business.gov.au/abrxmlsearch/ABRXMLSearch.asmx?WSDL"
TIMEOUT = 20
NO_END = datetime.date(1, 1, 1)


class AbrError(Exception):
    """The lookup could not be made (network, SOAP fault, unknown GUID)."""


class AbrAnswerError(AbrError):
    """The service answered about one ABN with something this client cannot read."""


@dataclass
class AbnResult:
    abn: str
    found: bool
    active: bool = False
    gst_registered: bool = False
    name: str = ""
    entity_type: str = ""
    entity_type_code: str = ""
    gst_from: datetime.date | None = None
    gst_to: datetime.date | None = None
    message: str = ""


def _is_current(period, today, start="effectiveFrom", end="effectiveTo"):
    start_day, end_day = period.get(start), period.get(end)
    return (not start_day or start_day <= today) and (
        not end_day or end_day == NO_END or end_day >= today
    )


def _current(periods, today):
    """Whether one of the ``effectiveFrom``/``effectiveTo`` periods covers ``today``."""
    return any(_is_current(period, today) for period in periods or [] if period)


def client(wsdl_url=DEFAULT_WSDL, timeout=TIMEOUT):
    session = requests.Session()
    transport = Transport(session=session, timeout=timeout, operation_timeout=timeout)
    try:
        return zeep.Client(wsdl_url, transport=transport)
    except (requests.RequestException, zeep.exceptions.Error, OSError) as exc:
        raise AbrError(f"ABN Lookup is not reachable: {exc}") from exc


def lookup(soap_client, guid, abn, today=None):
    """Look ``abn`` up; an ABN the register does not know gives ``found=False``.

    Raises :class:`AbrError` when the service cannot be used at all (unreachable,
    unknown GUID), :class:`AbrAnswerError` when its answer about this ABN cannot be
    read (not XML, not the documented structure).
    """
    digits = re.sub(r"\D", "", abn or "")
    today = today or datetime.date.today()
    try:
        payload = soap_client.service.ABRSearchByABN(
            searchString=digits, includeHistoricalDetails="N", authenticationGuid=guid
        )
    except (requests.RequestException, OSError) as exc:
        raise AbrError(f"ABN Lookup failed: {exc}") from exc
    except zeep.exceptions.TransportError as exc:
        if exc.status_code == 200:
            raise AbrAnswerError(f"ABN Lookup answered something unreadable: {exc}") from exc
        raise AbrError(f"ABN Lookup failed: {exc}") from exc
    except (zeep.exceptions.Error, etree.Error, ValueError, TypeError) as exc:
        raise AbrAnswerError(f"ABN Lookup answered something unreadable: {exc}") from exc
    try:
        return read_answer(digits, serialize_object(payload, dict), today)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise AbrAnswerError(
            f"ABN Lookup answered something unreadable ({type(exc).__name__}: {exc})"
        ) from exc


def read_answer(digits, payload, today):
    """An :class:`AbnResult` from the answer (plain dicts, as zeep's ``serialize_object``).

    The WSDL's ``ResponseBusinessEntity`` holds the names in a repeated choice of
    ``mainName`` (organisations) and ``legalName`` (individuals: ``givenName``,
    ``otherGivenName``, ``familyName``), which zeep keeps as a list of one-key
    dicts under ``_value_1``; trading names follow in ``mainTradingName``.
    """
    if not isinstance(payload, dict):
        raise AbrAnswerError("ABN Lookup answered without a result.")
    response = payload.get("response") if "response" in payload else payload
    if not isinstance(response, dict):
        raise AbrAnswerError("ABN Lookup answered without a response.")
    exception = response.get("exception")
    if exception:
        description = exception.get("exceptionDescription") or ""
        if "GUID" in description:
            raise AbrError(description)
        return AbnResult(digits, found=False, message=description)
    entity = response.get("businessEntity") or next(
        (v for k, v in response.items() if k.startswith("businessEntity") and v), None
    )
    if not isinstance(entity, dict):
        raise AbrAnswerError("ABN Lookup answered neither a business nor an exception.")
    statuses = [s for s in entity.get("entityStatus") or [] if s and s.get("entityStatusCode")]
    if not statuses:
        raise AbrAnswerError("ABN Lookup answered a business without a status.")
    current = [s for s in statuses if _is_current(s, today)] or statuses[:1]
    active = current[0]["entityStatusCode"] == "Active"
    entity_type = entity.get("entityType") or {}
    gst = [g for g in entity.get("goodsAndServicesTax") or [] if g]
    latest = max(gst, key=lambda g: g.get("effectiveFrom") or NO_END) if gst else {}
    gst_to = latest.get("effectiveTo")
    return AbnResult(
        digits,
        found=True,
        active=active,
        gst_registered=active and _current(gst, today),
        name=entity_name(entity, today),
        entity_type=entity_type.get("entityDescription") or "",
        entity_type_code=entity_type.get("entityTypeCode") or "",
        gst_from=latest.get("effectiveFrom"),
        gst_to=None if gst_to == NO_END else gst_to,
    )


def _choice_names(entity):
    """``[(kind, name dict)]`` of the name choice, whether zeep listed it or not."""
    names = []
    for item in entity.get("_value_1") or []:
        if isinstance(item, dict):
            names += [(kind, value) for kind, value in item.items() if isinstance(value, dict)]
    for kind in ("mainName", "legalName"):
        value = entity.get(kind)
        for one in value if isinstance(value, list) else [value]:
            if isinstance(one, dict):
                names.append((kind, one))
    return names


def _individual(name):
    full = name.get("fullName")
    parts = [name.get("givenName"), name.get("otherGivenName"), name.get("familyName")]
    return (full or " ".join(p.strip() for p in parts if p and p.strip())).strip()


def entity_name(entity, today):
    """The entity's name: its current main name, a sole trader's legal name, else
    its main trading name."""
    names = _choice_names(entity)
    current = [(k, n) for k, n in names if _is_current(n, today)] or names
    for kind, name in current:
        if kind == "mainName" and (name.get("organisationName") or "").strip():
            return name["organisationName"].strip()
    for kind, name in current:
        if kind == "legalName" and _individual(name):
            return _individual(name)
    for name in entity.get("mainTradingName") or []:
        if name and (name.get("organisationName") or "").strip():
            return name["organisationName"].strip()
    return ""
