"""The fake Xero's invoices endpoints (create/update, online invoice, email, lock dates,
payments)."""

import copy
import uuid

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    HttpError,
)

from .xero_common import (
    CREATE_STATUSES,
    CREDIT_NOTE_TYPES,
    INVOICE_TYPES,
    STATUS_MOVES,
    TAX_RATES,
    _bool_arg,
    _now,
    cents,
    ms_date,
    parse_request_date,
)


class XeroInvoicesMixin:
    """Invoices of :class:`.FakeXero`."""

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

    def invoices(self, tenant_id=None):
        with self._state_lock:
            return copy.deepcopy(list(self._tenant(tenant_id)["invoices"].values()))

    def get_invoice(self, invoice_id_or_number, tenant_id=None):
        with self._state_lock:
            found = self._find_invoice(self._tenant(tenant_id), invoice_id_or_number)
            return copy.deepcopy(found)

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
