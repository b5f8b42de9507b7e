"""Credit notes in Xero: found again by number before any creation (Xero has
no unique credit note number), then allocated once to the invoice they credit
where Xero allows it.
"""

from odoo import fields, models
from odoo.addons.rebilling_connector.connector.http import ConnectorError

from ..tools import xero


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _xero_credit_note_link(self, credit_note_id):
        """The Xero deep link of a credit note."""
        return self._xero_app_link(
            f"/AccountsReceivable/ViewCreditNote.aspx?creditNoteID={credit_note_id}"
        )

    def _xero_credit_note_result(self, item, message=None):
        return {
            "external_id": item["CreditNoteID"],
            "url": self._xero_credit_note_link(item["CreditNoteID"]),
            "data": {
                "number": item.get("CreditNoteNumber"),
                "status": item.get("Status"),
                "credit_note": True,
            },
            "message": message or self.env._("Saved in Xero as a credit note."),
            "xero_item": item,
        }

    def _xero_find_credit_notes(self, creates, results, totals):
        """Credit notes already in Xero under our numbers (an earlier push whose answer
        was lost): linked when of the same contact and total, else a conflict. Xero
        documents no unique credit note number, so they are looked for before any
        creation. Returns the creates still to send."""
        numbers = [payload["CreditNoteNumber"] for _i, payload in creates]
        where = " OR ".join(
            'CreditNoteNumber=="{}"'.format(n.replace("\\", "\\\\").replace('"', '\\"'))
            for n in numbers
        )
        try:
            answer = self._xero_call("GET", "CreditNotes", params={"where": where, "page": 1})
        except ConnectorError as exc:
            for i, _payload in creates:
                results[i] = {
                    "error": str(exc),
                    "retry": exc.retryable,
                    "retry_after": exc.retry_after,
                }
            return []
        found = [
            note
            for note in (answer or {}).get("CreditNotes") or []
            if note.get("Type") == "ACCRECCREDIT"
            and note.get("Status") not in ("DELETED", "VOIDED")
        ]
        taken = self.env["rebilling.binding"]._rebilling_find(
            self, "account.move", {note.get("CreditNoteID") for note in found}
        )
        by_number = {}
        for note in found:
            if note.get("CreditNoteID") not in taken:
                by_number.setdefault(note.get("CreditNoteNumber"), []).append(note)
        remaining = []
        for i, payload in creates:
            namesakes = by_number.get(payload["CreditNoteNumber"]) or []
            if not namesakes:
                remaining.append((i, payload))
                continue
            total = totals.get(i)
            same = [
                note
                for note in namesakes
                if (note.get("Contact") or {}).get("ContactID") == payload["Contact"]["ContactID"]
                and (total is None or abs(float(note.get("Total") or 0.0) - total) < 0.005)
            ]
            if same:
                results[i] = self._xero_credit_note_result(
                    same[0], self.env._("Already in Xero: linked to the existing credit note.")
                )
                by_number[payload["CreditNoteNumber"]].remove(same[0])
                continue
            note = namesakes[0]
            results[i] = {
                "error": self.env._(
                    "Conflict: Xero already has a credit note %(number)s (%(contact)s, total "
                    "%(total)s) that is not this one (%(partner_total)s): it is not linked. "
                    "Renumber one of them, then push again.",
                    number=payload["CreditNoteNumber"],
                    contact=(note.get("Contact") or {}).get("Name"),
                    total=note.get("Total"),
                    partner_total=total,
                ),
                "retry": False,
            }
        return remaining

    def _xero_allocate(self, move, result, invoice_ids):
        """Allocate the credit note ``result`` to the invoice ``move`` credits, once.

        Where Xero allows it (both approved, something due on the invoice); else the
        credit stays on the contact in Xero and the log says why. An allocation
        already on the credit note (a lost answer) is not made again.
        """
        item = result.pop("xero_item", None) or {}
        invoice = move.reversed_entry_id
        if not invoice:
            return result
        invoice_id = invoice_ids.get(invoice.id)
        if not invoice_id:
            binding = self.env["rebilling.binding"]._rebilling_map(self, invoice).get(invoice.id)
            invoice_id = binding.external_id if binding else False
        if not invoice_id:
            result["message"] = self.env._(
                "Saved in Xero as a credit note, not allocated: %s is not in Xero.", invoice.name
            )
            return result
        for allocation in item.get("Allocations") or []:
            if (allocation.get("Invoice") or {}).get("InvoiceID") == invoice_id:
                result["data"]["allocated"] = allocation.get("Amount")
                result["message"] = self.env._(
                    "Saved in Xero as a credit note, allocated to %s.", invoice.name
                )
                return result
        remaining = float(item.get("RemainingCredit", item.get("Total")) or 0.0)
        if item.get("Status") != "AUTHORISED" or remaining <= 0:
            result["message"] = self.env._(
                "Saved in Xero as a credit note (%s), not allocated.", item.get("Status")
            )
            return result
        try:
            answer = self._xero_call("GET", f"Invoices/{invoice_id}")
            target = ((answer or {}).get("Invoices") or [{}])[0]
            due = float(target.get("AmountDue") or 0.0)
            if target.get("Status") != "AUTHORISED" or due <= 0:
                result["message"] = self.env._(
                    "Saved in Xero as a credit note, not allocated: nothing is due on %s in "
                    "Xero; the credit stays on the contact.",
                    invoice.name,
                )
                return result
            amount = round(min(remaining, due), 2)
            day = max(move.invoice_date, invoice.invoice_date or move.invoice_date)
            body = {
                "Allocations": [
                    {
                        "Invoice": {"InvoiceID": invoice_id},
                        "Amount": amount,
                        "Date": fields.Date.to_string(day),
                    }
                ]
            }
            path = f"CreditNotes/{result['external_id']}/Allocations"
            self._xero_call(
                "PUT",
                path,
                json=body,
                headers={"Idempotency-Key": self._xero_idempotency_key(f"PUT {path}", body)},
            )
        except ConnectorError as exc:
            if exc.retryable:
                # Not linked: the next push finds the credit note by number and allocates.
                return {"error": str(exc), "retry": True, "retry_after": exc.retry_after}
            result["message"] = self.env._(
                "Saved in Xero as a credit note, not allocated to %(invoice)s: %(error)s",
                invoice=invoice.name,
                error=(xero.error_text(exc.body) if exc.status == 400 else "") or str(exc),
            )
            return result
        result["data"]["allocated"] = amount
        result["message"] = self.env._(
            "Saved in Xero as a credit note, %(amount)s allocated to %(invoice)s.",
            amount=amount,
            invoice=invoice.name,
        )
        return result
