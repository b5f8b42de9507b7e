"""The fake Xero's credit notes endpoints and their allocations to invoices."""

import copy
import uuid

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    HttpError,
)

from .xero_common import (
    CREDIT_NOTE_FIELDS,
    _now,
    cents,
    ms_date,
    parse_request_date,
)


class XeroCreditNotesMixin:
    """Credit notes and allocations of :class:`.FakeXero`."""

    def credit_notes(self, tenant_id=None):
        with self._state_lock:
            return copy.deepcopy(list(self._tenant(tenant_id)["credit_notes"].values()))

    # -------------------------------------------------------------- credit notes
    # "Credit Notes", https://developer.xero.com/documentation/api/accounting/creditnotes: PUT/POST
    # /CreditNotes (Type ACCRECCREDIT / ACCPAYCREDIT, CreditNoteNumber, Contact, Date,
    # LineAmountTypes, LineItems, Status), read-only RemainingCredit and Allocations;
    # "Allocating credit notes": PUT /CreditNotes/{id}/Allocations with
    # Invoice{InvoiceID}, Amount, Date.
    def _apply_credit_note(self, work, item, *, upsert, request=None):
        for note_field, invoice_field in CREDIT_NOTE_FIELDS.items():
            if note_field in item:
                item[invoice_field] = item.pop(note_field)
        previous = work["credit_notes"].get(item.get("InvoiceID") or "") or {}
        if previous.get("Allocations"):
            return None, ["A credit note with allocations cannot be modified."]
        result, errors = self._apply_invoice(
            work, item, upsert=upsert, request=request, credit=True
        )
        if errors:
            return None, errors
        note = work["credit_notes"][result["InvoiceID"]]
        for note_field, invoice_field in CREDIT_NOTE_FIELDS.items():
            note[note_field] = note.pop(invoice_field)
        for gone in ("AmountDue", "AmountPaid", "AmountCredited", "CreditNotes", "IsDiscounted"):
            note.pop(gone, None)
        note.setdefault("Allocations", [])
        allocated = sum(a["Amount"] for a in note["Allocations"])
        note["RemainingCredit"] = cents(note["Total"] - allocated)
        return copy.deepcopy(note), []

    def _list_credit_notes(self, request):
        """``where``/``order``/``IDs`` and paging as Invoices ("Credit Notes",
        https://developer.xero.com/documentation/api/accounting/creditnotes); ASSUMED: no
        ``summaryOnly`` (documented for Invoices and Contacts), line items left out only
        when not paged (as Invoices)."""
        tenant = self._request_tenant(request)
        with self._state_lock:
            items = copy.deepcopy(list(tenant["credit_notes"].values()))
        items = self._filter(request, items, id_field="CreditNoteID")
        if request.arg("page", ignore_case=True) is None:
            for note in items:
                note.pop("LineItems", None)
        return self._page(request, items, "CreditNotes")

    def _find_credit_note(self, tenant, key):
        notes = tenant["credit_notes"]
        if key in notes:
            return notes[key]
        return next((n for n in notes.values() if n.get("CreditNoteNumber") == key), None)

    def _get_credit_note(self, request):
        note = self._find_credit_note(self._request_tenant(request), request.params["id"])
        if note is None:
            raise HttpError(404, self._error_body(404, "Credit note not found"))
        return self._envelope("CreditNotes", [copy.deepcopy(note)])

    def _save_credit_notes(self, request):
        return self._save_batch(request, "CreditNotes", self._apply_credit_note)

    def _allocation_errors(self, work, note, invoice, amount, day):
        """Xero's rules for allocating a credit note (creditnotes page, "Allocating
        credit notes", and Xero help "Apply a credit note to an invoice"): both
        approved (AUTHORISED), a sales credit note on a sales invoice of the same
        contact and currency, an amount above zero and at most the credit left and the
        invoice's amount due. Wording of the messages ASSUMED."""
        errors = []
        if note["Status"] != "AUTHORISED":
            errors.append("The credit note must be approved (AUTHORISED) to be allocated.")
        if invoice is None:
            return errors + ["The invoice could not be found."]
        if invoice["Status"] != "AUTHORISED":
            errors.append(
                f"The invoice is {invoice['Status']}: only approved invoices take credit."
            )
        pairs = {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}
        if pairs.get(note["Type"]) != invoice["Type"]:
            errors.append("A sales credit note is allocated to a sales invoice.")
        if note["Contact"]["ContactID"] != invoice["Contact"]["ContactID"]:
            errors.append("The credit note and the invoice must be for the same contact.")
        if note.get("CurrencyCode") != invoice.get("CurrencyCode"):
            errors.append("The credit note and the invoice must be in the same currency.")
        if amount <= 0:
            errors.append("Amount must be greater than zero.")
        if amount > note["RemainingCredit"] + 0.001:
            errors.append("Amount must be less than or equal to the remaining credit.")
        if amount > invoice["AmountDue"] + 0.001:
            errors.append("Amount must be less than or equal to the invoice's amount due.")
        errors += self._lock_date_errors(work, day)
        return errors

    def _allocate(self, request):
        items = self._items(request, "Allocations")

        def produce():
            tenant = self._request_tenant(request)
            work = self._work_copy(tenant)
            note = self._find_credit_note(work, request.params["id"])
            if note is None:
                raise HttpError(404, self._error_body(404, "Credit note not found"))
            results, failed = [], []
            for item in items:
                invoice_id = (item.get("Invoice") or {}).get("InvoiceID")
                invoice = work["invoices"].get(invoice_id) if invoice_id else None
                try:
                    amount = cents(float(item.get("Amount")))
                    day = (
                        parse_request_date(item.get("Date")) if item.get("Date") else _now().date()
                    )
                except (TypeError, ValueError):
                    failed.append(
                        dict(item, ValidationErrors=[{"Message": "Amount and Date are required."}])
                    )
                    continue
                errors = self._allocation_errors(work, note, invoice, amount, day)
                if errors:
                    failed.append(dict(item, ValidationErrors=[{"Message": m} for m in errors]))
                    continue
                allocation = {
                    "AllocationID": str(uuid.uuid4()),
                    "Amount": amount,
                    "Date": ms_date(day),
                    "Invoice": {
                        "InvoiceID": invoice["InvoiceID"],
                        "InvoiceNumber": invoice["InvoiceNumber"],
                    },
                    "CreditNote": {"CreditNoteID": note["CreditNoteID"]},
                }
                note["Allocations"].append(allocation)
                note["RemainingCredit"] = cents(note["RemainingCredit"] - amount)
                if not note["RemainingCredit"]:
                    note["Status"] = "PAID"
                invoice["AmountCredited"] = cents(invoice["AmountCredited"] + amount)
                invoice["AmountDue"] = cents(invoice["AmountDue"] - amount)
                invoice["CreditNotes"].append(
                    {
                        "CreditNoteID": note["CreditNoteID"],
                        "CreditNoteNumber": note["CreditNoteNumber"],
                        "AppliedAmount": amount,
                        "Total": note["Total"],
                    }
                )
                if not invoice["AmountDue"]:
                    invoice["Status"] = "PAID"
                results.append(allocation)
            if failed:
                return FakeResponse(
                    400,
                    {
                        "ErrorNumber": 10,
                        "Type": "ValidationException",
                        "Message": "A validation exception occurred",
                        "Elements": failed,
                    },
                )
            self._commit(tenant, work)
            return FakeResponse(200, self._envelope("Allocations", results))

        return self._idempotent(request, produce)
