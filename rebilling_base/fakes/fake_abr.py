"""A fake ABR ABN Lookup web service (SOAP 1.1) on 127.0.0.1.

It serves a WSDL of the one operation we call, ``ABRSearchByABN``, and answers it
from an in-memory register, in the structure of the real service.

Documented (ABN Lookup web services, https://abr.business.gov.au/Documentation/WebServiceMethods
and the ABRXMLSearch WSDL at https://abr.business.gov.au/abrxmlsearch/ABRXMLSearch.asmx?WSDL;
the types below are copied from that WSDL's schema, as generated into client code
such as the JAXB classes of au.gov.business.abr.abrxmlsearch):

- namespace ``http://abr.business.gov.au/ABRXMLSearch/``, SOAP action
  ``http://abr.business.gov.au/ABRXMLSearch/ABRSearchByABN``;
- parameters ``searchString`` (the ABN), ``includeHistoricalDetails`` (Y/N) and
  ``authenticationGuid`` (the GUID issued on registration);
- ``ABRPayloadSearchResults`` (``Payload``: ``request``, ``response``); ``Response``:
  ``usageStatement``, ``dateRegisterLastUpdated``, ``dateTimeRetrieved`` then a
  choice of ``businessEntity`` (``ResponseBusinessEntity``), ``exception``
  (``exceptionDescription``, ``exceptionCode``) and other result kinds;
- ``ResponseBusinessEntity``: ``recordLastUpdatedDate``, ``ABN`` (``identifierValue``,
  ``isCurrentIndicator``, ``replacedFrom``), ``entityStatus`` (``entityStatusCode``
  "Active"/"Cancelled", ``effectiveFrom``, ``effectiveTo``), ``ASICNumber``,
  ``entityType`` (``entityTypeCode`` e.g. "PRV"/"IND", ``entityDescription``),
  ``goodsAndServicesTax`` (``effectiveFrom``, ``effectiveTo``), ``dgrEndorsement``,
  then a repeated CHOICE of ``legalName`` (``IndividualName``: ``fullName``,
  ``givenName``, ``otherGivenName``, ``familyName``, dates: sole traders) and
  ``mainName`` (``OrganisationName``: ``organisationName``, ``effectiveFrom``, a
  choice of ``effectiveToBlank`` / ``effectiveTo``), then ``mainTradingName``,
  ``otherTradingName``, ``mainBusinessPhysicalAddress``; "0001-01-01" means no end;
- an ABN of the wrong shape answers "Search text is not a valid ABN or ACN".

Assumed (not checked against the live service):

- the exact text of the unknown-GUID exception ("The GUID entered is not
  recognised as a Registered Party") and of an unknown ABN ("No records found");
- the WSDL here keeps only the result kinds and elements around what we read
  (other ``Response`` choices, ``dgrFund``, address details are left out).
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
          <s:element minOccurs="1" maxOccurs="1" name="ABRPayloadSearchResults"
                     type="tns:Payload"/>
        </s:sequence></s:complexType>
      </s:element>
      <s:complexType name="Payload">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="request" type="tns:ExternalRequest"/>
          <s:element minOccurs="0" maxOccurs="1" name="response" type="tns:Response"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="ExternalRequest">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="identifierSearchRequest"
                     type="tns:ExternalRequestIdentifierSearch"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="ExternalRequestIdentifierSearch">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="authenticationGUID" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="identifierType" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="identifierValue" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="history" type="s:string"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Response">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="usageStatement" type="s:string"/>
          <s:element minOccurs="1" maxOccurs="1" name="dateRegisterLastUpdated" type="s:date"/>
          <s:element minOccurs="1" maxOccurs="1" name="dateTimeRetrieved" type="s:dateTime"/>
          <s:choice minOccurs="1" maxOccurs="1">
            <s:element minOccurs="0" maxOccurs="1" name="exception"
                       type="tns:ResponseException"/>
            <s:element minOccurs="0" maxOccurs="1" name="businessEntity"
                       type="tns:ResponseBusinessEntity"/>
          </s:choice>
        </s:sequence>
      </s:complexType>
      <s:complexType name="ResponseBody" abstract="true"/>
      <s:complexType name="ResponseException">
        <s:complexContent><s:extension base="tns:ResponseBody"><s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="exceptionDescription" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="exceptionCode" type="s:string"/>
        </s:sequence></s:extension></s:complexContent>
      </s:complexType>
      <s:complexType name="ResponseBusinessEntity">
        <s:complexContent><s:extension base="tns:ResponseBody"><s:sequence>
          <s:element minOccurs="1" maxOccurs="1" name="recordLastUpdatedDate" type="s:date"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="ABN" type="tns:Identifier"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="entityStatus"
                     type="tns:EntityStatus"/>
          <s:element minOccurs="0" maxOccurs="1" name="ASICNumber" type="s:string"/>
          <s:element minOccurs="1" maxOccurs="1" name="entityType" nillable="true"
                     type="tns:EntityType"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="goodsAndServicesTax"
                     nillable="true" type="tns:GoodsAndServicesTax"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="dgrEndorsement"
                     nillable="true" type="tns:DGREndorsement"/>
          <s:choice minOccurs="0" maxOccurs="unbounded">
            <s:element minOccurs="0" maxOccurs="1" name="legalName" type="tns:IndividualName"/>
            <s:element minOccurs="0" maxOccurs="1" name="mainName"
                       type="tns:OrganisationName"/>
          </s:choice>
          <s:element minOccurs="0" maxOccurs="unbounded" name="mainTradingName"
                     nillable="true" type="tns:OrganisationName"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="otherTradingName"
                     nillable="true" type="tns:OrganisationName"/>
          <s:element minOccurs="0" maxOccurs="unbounded" name="mainBusinessPhysicalAddress"
                     nillable="true" type="tns:AddressDetails"/>
        </s:sequence></s:extension></s:complexContent>
      </s:complexType>
      <s:complexType name="Identifier">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="identifierValue" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="isCurrentIndicator" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="replacedIdentifierValue"
                     type="s:string"/>
          <s:element minOccurs="1" maxOccurs="1" name="replacedFrom" type="s:date"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="EntityStatus">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="entityStatusCode" type="s:string"/>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveFrom" type="s:date"/>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveTo" type="s:date"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="EntityType">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="entityTypeCode" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="entityDescription" type="s:string"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="GoodsAndServicesTax">
        <s:sequence>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveFrom" type="s:date"/>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveTo" type="s:date"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="DGREndorsement">
        <s:sequence>
          <s:element minOccurs="1" maxOccurs="1" name="endorsedFrom" type="s:date"/>
          <s:element minOccurs="1" maxOccurs="1" name="endorsedTo" type="s:date"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="Individual">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="fullName" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="givenName" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="otherGivenName" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="familyName" type="s:string"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="IndividualName">
        <s:complexContent><s:extension base="tns:Individual"><s:sequence>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveFrom" type="s:date"/>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveTo" type="s:date"/>
        </s:sequence></s:extension></s:complexContent>
      </s:complexType>
      <s:complexType name="Organisation">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="organisationName" type="s:string"/>
        </s:sequence>
      </s:complexType>
      <s:complexType name="OrganisationName">
        <s:complexContent><s:extension base="tns:Organisation"><s:sequence>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveFrom" type="s:date"/>
          <s:choice minOccurs="1" maxOccurs="1">
            <s:element minOccurs="0" maxOccurs="1" name="effectiveToBlank" type="s:anyType"/>
            <s:element minOccurs="1" maxOccurs="1" name="effectiveTo" type="s:date"/>
          </s:choice>
        </s:sequence></s:extension></s:complexContent>
      </s:complexType>
      <s:complexType name="AddressDetails">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="stateCode" type="s:string"/>
          <s:element minOccurs="0" maxOccurs="1" name="postcode" type="s:string"/>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveFrom" type="s:date"/>
          <s:element minOccurs="1" maxOccurs="1" name="effectiveTo" type="s:date"/>
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
      <ABRPayloadSearchResults>
        <request><identifierSearchRequest>
          <authenticationGUID>{guid}</authenticationGUID>
          <identifierType>ABN</identifierType>
          <identifierValue>{abn}</identifierValue>
          <history>N</history>
        </identifierSearchRequest></request>
        <response>
          <usageStatement>The Registrar of the ABR monitors the quality of the information \
available on this website and strives to make it as accurate as possible.</usageStatement>
          <dateRegisterLastUpdated>2026-11-28</dateRegisterLastUpdated>
          <dateTimeRetrieved>2026-11-28T10:15:01.5+11:00</dateTimeRetrieved>
          {content}
        </response>
      </ABRPayloadSearchResults>
    </ABRSearchByABNResponse>
  </soap:Body>
</soap:Envelope>
"""

NO_END = "0001-01-01"
ENTITY_TYPES = {
    "PRV": "Australian Private Company",
    "IND": "Individual/Sole Trader",
    "PUB": "Australian Public Company",
    "DIT": "Discretionary Investment Trust",
}


def _field(xml, name):
    match = re.search(rf"<(?:\w+:)?{name}>([^<]*)</(?:\w+:)?{name}>", xml)
    return escape(match.group(1).strip()) if match else ""


def _text(value):
    return escape(str(value or ""))


class FakeABR(FakeServer):
    """``register``: ``{abn digits: record}``; a record holds

    * ``name`` (an organisation's ``mainName``) or ``given_name`` / ``other_given_name``
      / ``family_name`` (a sole trader's ``legalName``), ``trading_name``;
    * ``entity_type`` (code, default "PRV", or "IND" for a sole trader);
    * ``status`` ("Active" / "Cancelled");
    * ``gst``: ``True`` (registered since 2010), ``False`` (never), or a
      ``(from, to)`` pair of ISO dates (``to`` "0001-01-01": still registered);
    * ``answer``: raw text sent instead of the SOAP envelope (a garbage answer), or
      ``body``: the ``response`` content instead of the business entity.
    """

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
        guid = _field(body, "authenticationGuid")
        self.searches.append(abn)
        record = self.register.get(abn) or {}
        if guid != self.guid:
            content = self._exception(
                "The GUID entered is not recognised as a Registered Party", "WEBSERVICES"
            )
        elif not re.fullmatch(r"\d{11}", abn):
            content = self._exception("Search text is not a valid ABN or ACN", "WEBSERVICES")
        elif abn not in self.register:
            content = self._exception("No records found", "NOTFOUND")
        elif "answer" in record:
            return FakeResponse(200, record["answer"], content_type="text/xml; charset=utf-8")
        elif "body" in record:
            content = record["body"]
        else:
            content = self._entity(abn, record)
        return FakeResponse(
            200,
            ENVELOPE.format(ns=NS, content=content, abn=abn, guid=guid),
            content_type="text/xml; charset=utf-8",
        )

    @staticmethod
    def _exception(description, code):
        return (
            f"<exception><exceptionDescription>{escape(description)}</exceptionDescription>"
            f"<exceptionCode>{code}</exceptionCode></exception>"
        )

    @staticmethod
    def _entity(abn, record):
        gst = record.get("gst")
        if gst is True:
            gst = ("2010-07-01", NO_END)
        gst_xml = (
            f"<goodsAndServicesTax><effectiveFrom>{gst[0]}</effectiveFrom>"
            f"<effectiveTo>{gst[1]}</effectiveTo></goodsAndServicesTax>"
            if gst
            else ""
        )
        code = record.get("entity_type") or ("IND" if record.get("family_name") else "PRV")
        if record.get("family_name"):
            names = (
                "<legalName>"
                f"<givenName>{_text(record.get('given_name'))}</givenName>"
                f"<otherGivenName>{_text(record.get('other_given_name'))}</otherGivenName>"
                f"<familyName>{_text(record['family_name'])}</familyName>"
                f"<effectiveFrom>2012-03-01</effectiveFrom><effectiveTo>{NO_END}</effectiveTo>"
                "</legalName>"
            )
        else:
            names = (
                f"<mainName><organisationName>{_text(record.get('name'))}</organisationName>"
                "<effectiveFrom>2005-01-01</effectiveFrom></mainName>"
            )
        if record.get("trading_name"):
            names += (
                "<mainTradingName>"
                f"<organisationName>{_text(record['trading_name'])}</organisationName>"
                "<effectiveFrom>2012-03-01</effectiveFrom></mainTradingName>"
            )
        return (
            "<businessEntity><recordLastUpdatedDate>2026-01-15</recordLastUpdatedDate>"
            f"<ABN><identifierValue>{abn}</identifierValue>"
            "<isCurrentIndicator>Y</isCurrentIndicator>"
            "<replacedFrom>0001-01-01</replacedFrom></ABN>"
            f"<entityStatus><entityStatusCode>{record.get('status', 'Active')}</entityStatusCode>"
            f"<effectiveFrom>2005-01-01</effectiveFrom><effectiveTo>{NO_END}</effectiveTo>"
            "</entityStatus>"
            f"<entityType><entityTypeCode>{code}</entityTypeCode>"
            f"<entityDescription>{_text(ENTITY_TYPES.get(code, code))}</entityDescription>"
            f"</entityType>{gst_xml}{names}</businessEntity>"
        )
