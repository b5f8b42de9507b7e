"""A fake ABR ABN Lookup web service (SOAP 1.1) on 127.0.0.1.

It serves a minimal WSDL of the one operation we call, ``ABRSearchByABN``, and
answers it from an in-memory register.

Documented (ABN Lookup web services, https://abr.business.gov.au/Documentation/WebServiceMethods
and the ABRXMLSearch WSDL at https://abr.business.gov.au/abrxmlsearch/ABRXMLSearch.asmx?WSDL):

- namespace ``http://abr.business.gov.au/ABRXMLSearch/``, SOAP action
  ``http://abr.business.gov.au/ABRXMLSearch/ABRSearchByABN``;
- parameters ``searchString`` (the ABN), ``includeHistoricalDetails`` (Y/N) and
  ``authenticationGuid`` (the GUID issued on registration);
- the answer ``ABRPayloadSearchResults/response`` holds either a
  ``businessEntity`` (``ABN/identifierValue``, ``entityStatus/entityStatusCode``
  "Active" or "Cancelled", ``goodsAndServicesTax`` with ``effectiveFrom`` and
  ``effectiveTo``, "0001-01-01" meaning no end) or an ``exception``
  (``exceptionDescription``, ``exceptionCode``);
- an ABN of the wrong shape answers "Search text is not a valid ABN or ACN".

Assumed (not checked against the live service):

- the exact text of the unknown-GUID exception ("The GUID entered is not
  recognised as a Registered Party") and of an unknown ABN ("No records found");
- the WSDL here is reduced to the elements we read; the real one has more.
"""

import re
from xml.sax.saxutils import escape

from .base import FakeResponse, FakeServer

NS = "http://abr.business.gov.au/ABRXMLSearch/"

WSDL = """<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:s="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="{ns}" targetNamespace="{ns}"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="{ns}">
      <s:element name="ABRSearchByABN">
        <s:complexType><s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="searchString" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="includeHistoricalDetails" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="authenticationGuid" type="s:string"/>
        </s:sequence></s:complexType>
      </s:element>
      <s:element name="ABRSearchByABNResponse">
        <s:complexType><s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="ABRPayloadSearchResults"
                     type="tns:Payload"/>
        </s:sequence></s:complexType>
      </s:element>
      <s:complexType name="Payload">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="response" type="tns:Response"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Response">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="dateRegisterLastUpdated" type="s:date"/>
          <s:element minOccurs="0" maxOccurs="1" name="exception" type="tns:Exception"/>
          <s:element minOccurs="0" maxOccurs="1" name="businessEntity" type="tns:Entity"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Exception">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="exceptionDescription" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="exceptionCode" type="s:string"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Entity">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="ABN" type="tns:Identifier"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="entityStatus" type="tns:Status"/>
          <s:element minOccurs="0" maxOccurs="1" name="mainName" type="tns:Name"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="goodsAndServicesTax"
                     type="tns:Period"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Identifier">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="identifierValue" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="isCurrentIndicator" type="s:string"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Status">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="entityStatusCode" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="effectiveFrom" type="s:date"/>
          <s:element minOccurs="0" maxOccurs="1" name="effectiveTo" type="s:date"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Name">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="organisationName" type="s:string"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Period">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="effectiveFrom" type="s:date"/>
          <s:element minOccurs="0" maxOccurs="1" name="effectiveTo" type="s:date"/>
        </s:sequence>
      </s:complexType>
    </s:schema>
  </wsdl:types>
  <wsdl:message name="ABRSearchByABNSoapIn">
    <wsdl:part name="parameters" element="tns:ABRSearchByABN"/>
  </wsdl:message>
  <wsdl:message name="ABRSearchByABNSoapOut">
    <wsdl:part name="parameters" element="tns:ABRSearchByABNResponse"/>
  </wsdl:message>
  <wsdl:portType name="ABRXMLSearchSoap">
    <wsdl:operation name="ABRSearchByABN">
      <wsdl:input message="tns:ABRSearchByABNSoapIn"/>
      <wsdl:output message="tns:ABRSearchByABNSoapOut"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="ABRXMLSearchSoap" type="tns:ABRXMLSearchSoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="ABRSearchByABN">
      <soap:operation soapAction="{ns}ABRSearchByABN" style="document"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="ABRXMLSearch">
    <wsdl:port name="ABRXMLSearchSoap" binding="tns:ABRXMLSearchSoap">
      <soap:address location="{base}/abrxmlsearch/ABRXMLSearch.asmx"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""

ENVELOPE = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <ABRSearchByABNResponse xmlns="{ns}">
      <ABRPayloadSearchResults><response>
        <dateRegisterLastUpdated>2026-11-28</dateRegisterLastUpdated>
        {content}
      </response></ABRPayloadSearchResults>
    </ABRSearchByABNResponse>
  </soap:Body>
</soap:Envelope>
"""

NO_END = "0001-01-01"


def _field(xml, name):
    match = re.search(rf"<(?:\w+:)?{name}>([^<]*)</(?:\w+:)?{name}>", xml)
    return escape(match.group(1).strip()) if match else ""


class FakeABR(FakeServer):
    """``register``: ``{abn digits: {"name", "status" ("Active"/"Cancelled"), "gst" (bool)}}``."""

    name = "fake-abr"
    case_insensitive_paths = True

    def __init__(self, register=None, guid="test-guid", **kwargs):
        super().__init__(**kwargs)
        self.register = dict(register or {})
        self.guid = guid
        self.searches = []
        self.route("GET", r"/abrxmlsearch/ABRXMLSearch\.asmx", self._wsdl)
        self.route("POST", r"/abrxmlsearch/ABRXMLSearch\.asmx", self._soap)

    @property
    def wsdl_url(self):
        return f"{self.base_url}/abrxmlsearch/ABRXMLSearch.asmx?WSDL"

    def _wsdl(self, request):
        return FakeResponse(
            200, WSDL.format(ns=NS, base=self.base_url), content_type="text/xml; charset=utf-8"
        )

    def _soap(self, request):
        body = request.body.decode("utf-8", "replace")
        if "ABRSearchByABN" not in request.header("SOAPAction", ""):
            return FakeResponse(500, "unknown SOAPAction", content_type="text/plain")
        abn = re.sub(r"\s", "", _field(body, "searchString"))
        self.searches.append(abn)
        if _field(body, "authenticationGuid") != self.guid:
            content = self._exception(
                "The GUID entered is not recognised as a Registered Party", "WEBSERVICES"
            )
        elif not re.fullmatch(r"\d{11}", abn):
            content = self._exception("Search text is not a valid ABN or ACN", "WEBSERVICES")
        elif abn not in self.register:
            content = self._exception("No records found", "NOTFOUND")
        else:
            content = self._entity(abn, self.register[abn])
        return FakeResponse(
            200, ENVELOPE.format(ns=NS, content=content), content_type="text/xml; charset=utf-8"
        )

    @staticmethod
    def _exception(description, code):
        return (
            f"<exception><exceptionDescription>{escape(description)}</exceptionDescription>"
            f"<exceptionCode>{code}</exceptionCode></exception>"
        )

    @staticmethod
    def _entity(abn, record):
        gst = (
            f"<goodsAndServicesTax><effectiveFrom>2010-07-01</effectiveFrom>"
            f"<effectiveTo>{NO_END}</effectiveTo></goodsAndServicesTax>"
            if record.get("gst")
            else ""
        )
        return (
            f"<businessEntity><ABN><identifierValue>{abn}</identifierValue>"
            f"<isCurrentIndicator>Y</isCurrentIndicator></ABN>"
            f"<entityStatus><entityStatusCode>{record.get('status', 'Active')}</entityStatusCode>"
            f"<effectiveFrom>2005-01-01</effectiveFrom><effectiveTo>{NO_END}</effectiveTo>"
            f"</entityStatus>"
            f"<mainName><organisationName>{escape(record.get('name', ''))}</organisationName>"
            f"</mainName>{gst}</businessEntity>"
        )
