"""The entities (paths, fields, required fields, references) and enums of the fake ConnectWise
and the date helpers its parts share (rules and sources: :mod:`.fake_connectwise`)."""

import re
from datetime import UTC, datetime

from odoo.addons.rebilling_base.fakes.base import get_ci

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
