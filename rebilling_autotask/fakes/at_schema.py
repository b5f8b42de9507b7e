"""The entities (fields, required fields, picklists, references) of the fake Autotask and the
constants and date helpers its parts share (rules and sources: :mod:`.fake_autotask`)."""

import re
from datetime import UTC, datetime

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
