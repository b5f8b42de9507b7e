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
from zeep.transports import Transport

DEFAULT_WSDL = "https://abr.business.gov.au/abrxmlsearch/ABRXMLSearch.asmx?WSDL"
TIMEOUT = 20
NO_END = datetime.date(1, 1, 1)


class AbrError(Exception):
    """The lookup could not be made (network, SOAP fault, unknown GUID)."""


@dataclass
class AbnResult:
    abn: str
    found: bool
    active: bool = False
    gst_registered: bool = False
    name: str = ""
    message: str = ""


def _current(periods, today):
    """Whether one of the ``effectiveFrom``/``effectiveTo`` periods covers ``today``."""
    for period in periods or []:
        start = period.effectiveFrom
        end = period.effectiveTo
        if (not start or start <= today) and (not end or end == NO_END or end >= today):
            return True
    return False


def client(wsdl_url=DEFAULT_WSDL, timeout=TIMEOUT):
    session = requests.Session()
    transport = Transport(session=session, timeout=timeout, operation_timeout=timeout)
    try:
        return zeep.Client(wsdl_url, transport=transport)
    except (requests.RequestException, zeep.exceptions.Error, OSError) as exc:
        raise AbrError(f"ABN Lookup is not reachable: {exc}") from exc


def lookup(soap_client, guid, abn, today=None):
    """Look ``abn`` up; an ABN the register does not know gives ``found=False``."""
    digits = re.sub(r"\D", "", abn or "")
    today = today or datetime.date.today()
    try:
        payload = soap_client.service.ABRSearchByABN(
            searchString=digits, includeHistoricalDetails="N", authenticationGuid=guid
        )
    except (requests.RequestException, zeep.exceptions.Error, OSError) as exc:
        raise AbrError(f"ABN Lookup failed: {exc}") from exc
    # zeep unwraps the one-child wrappers: the answer is the payload or its response.
    response = payload
    if response is not None and "response" in response:
        response = response["response"]
    if response is None:
        raise AbrError("ABN Lookup answered nothing")
    if response.exception is not None:
        description = response.exception.exceptionDescription or ""
        if "GUID" in description:
            raise AbrError(description)
        return AbnResult(digits, found=False, message=description)
    entity = response.businessEntity
    statuses = [s for s in entity.entityStatus or [] if s.entityStatusCode]
    current = [s for s in statuses if _current([s], today)] or statuses[:1]
    active = bool(current) and current[0].entityStatusCode == "Active"
    return AbnResult(
        digits,
        found=True,
        active=active,
        gst_registered=active and _current(entity.goodsAndServicesTax, today),
        name=(entity.mainName.organisationName if entity.mainName else "") or "",
    )
