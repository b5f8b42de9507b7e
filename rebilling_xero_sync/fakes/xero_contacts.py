"""The fake Xero's organisation, tax rates, accounts and contacts endpoints."""

import copy
import uuid

from odoo.addons.rebilling_base.fakes.base import (
    HttpError,
)

from .xero_common import (
    ACCOUNT_CLASS,
    EMAIL_RE,
    TAX_RATES,
    _bool_arg,
    _now,
    ms_date,
)


class XeroContactsMixin:
    """Organisation, tax rates, accounts and contacts of :class:`.FakeXero`."""

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

    # -------------------------------------------------------------- inspection
    def contacts(self, tenant_id=None):
        with self._state_lock:
            return copy.deepcopy(list(self._tenant(tenant_id)["contacts"].values()))

    def accounts(self, tenant_id=None):
        with self._state_lock:
            return copy.deepcopy(list(self._tenant(tenant_id)["accounts"].values()))

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
