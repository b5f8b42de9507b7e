"""The invoice push to Xero: contacts first, then invoices and credit notes in
batches (``summarizeErrors=false``: one refused document never stops the
others), each request with an idempotency key. An invoice number Xero already
has (an earlier answer lost) is linked when it is the same customer's for the
same total, else reported as a conflict.
"""

from odoo import fields, models
from odoo.addons.rebilling_connector.connector.http import ConnectorError, PermanentError
from odoo.addons.rebilling_connector.models.rebilling_backend import payload_hash
from odoo.exceptions import UserError

from ..tools import xero

XERO_ID_FIELDS = {"Invoices": "InvoiceID", "CreditNotes": "CreditNoteID", "Contacts": "ContactID"}


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _xero_idempotency_key(self, what, body):
        """Same request, same key: a retry after a timeout is answered from Xero's cache."""
        digest = payload_hash([self.id, self.xero_tenant_id.tenant_id, what, body])
        return f"rebilling-{digest}"

    def _xero_invoice_link(self, invoice_id):
        """The Xero deep link of an invoice."""
        return self._xero_app_link(f"/AccountsReceivable/View.aspx?InvoiceID={invoice_id}")

    def _xero_tax_type(self, line):
        """The TaxType code of ``line``: the export's tax-rate name, mapped with Xero's rates."""
        name = self.env["rebilling.export.wizard"]._xero_tax_type(line)
        tax_types = self.xero_tenant_id.tax_types or {}
        return tax_types.get(name) or xero.DEFAULT_TAX_TYPES.get(name) or name

    def _rebilling_push_before(self, records):
        if self.backend_type != "xero" or records._name != "account.move":
            return super()._rebilling_push_before(records)
        bound, errors, _stats = self._xero_ensure_contacts(records.partner_id)
        cache_bound, cache_errors = self._xero_contacts_cache()
        cache_bound.update(bound)
        cache_errors.update(errors)
        return True

    def _rebilling_push_prepare(self, record):
        if self.backend_type == "xero" and record._name == "res.partner":
            return self._xero_contact_payload(record)
        if self.backend_type != "xero" or record._name != "account.move":
            return super()._rebilling_push_prepare(record)
        move = record
        if move.move_type not in ("out_invoice", "out_refund") or move.state != "posted":
            raise UserError(
                self.env._("Only posted customer invoices and credit notes are pushed to Xero.")
            )
        bound, errors = self._xero_contacts_cache()
        contact_id = bound.get(move.partner_id.id)
        if not contact_id:
            raise UserError(
                self.env._(
                    "No Xero contact for %(partner)s: %(error)s",
                    partner=move.partner_id.display_name,
                    error=errors.get(move.partner_id.id) or self.env._("not found"),
                )
            )
        lines, inclusive = self._xero_line_items(move)
        payload = {
            "Contact": {"ContactID": contact_id},
            "Date": fields.Date.to_string(move.invoice_date),
            "CurrencyCode": move.currency_id.name,
            "Status": self.xero_invoice_status or "AUTHORISED",
            "LineAmountTypes": "Inclusive" if inclusive else "Exclusive",
            "LineItems": lines,
        }
        if move.move_type == "out_refund":
            return {
                "Type": "ACCRECCREDIT",
                "CreditNoteNumber": move.name,
                "Reference": move.ref or move.reversed_entry_id.name or "",
                **payload,
            }
        return {
            "Type": "ACCREC",
            "InvoiceNumber": move.name,
            "DueDate": fields.Date.to_string(move.invoice_date_due or move.invoice_date),
            "Reference": move.ref or move.invoice_origin or "",
            **payload,
        }

    def _xero_line_items(self, move):
        """``(LineItems, tax inclusive?)`` of ``move`` (amounts positive, also for credit notes)."""
        Wizard = self.env["rebilling.export.wizard"]
        lines = []
        inclusive = False
        line_taxes = move._rebilling_line_taxes()
        for line in move.invoice_line_ids.filtered(lambda ln: ln.display_type == "product"):
            code = Wizard._xero_account_code(line)
            if not code:
                raise UserError(
                    self.env._(
                        "No Xero account code for the line %s: choose the default account code "
                        "of the company.",
                        line.name,
                    )
                )
            inclusive = inclusive or any(line.tax_ids.mapped("price_include"))
            item = {
                "Description": line.name or line.product_id.display_name or "-",
                "Quantity": line.quantity,
                "UnitAmount": round(line.price_unit, 4),
                "AccountCode": code,
                "TaxType": self._xero_tax_type(line),
                # The line's GST as on the invoice: Xero keeps a given TaxAmount.
                "TaxAmount": line_taxes.get(line.id, 0.0),
            }
            if line.discount:
                item["DiscountRate"] = line.discount
            lines.append(item)
        if not lines:
            raise UserError(self.env._("The invoice has no line to push."))
        return lines, inclusive

    def _rebilling_push_send(self, res_model, items):
        if self.backend_type != "xero" or res_model not in ("account.move", "res.partner"):
            return super()._rebilling_push_send(res_model, items)
        results = [None] * len(items)
        groups = {}
        for i, (record, _payload, _binding) in enumerate(items):
            if res_model == "res.partner":
                collection = "Contacts"
            elif record.move_type == "out_refund":
                collection = "CreditNotes"
            else:
                collection = "Invoices"
            groups.setdefault(collection, []).append(i)
        # Invoices first: a credit note is then allocated to an invoice of the same batch.
        for collection in ("Contacts", "Invoices", "CreditNotes"):
            if collection in groups:
                self._xero_send_collection(collection, items, groups[collection], results)
        return results

    def _xero_send_collection(self, collection, items, indexes, results):
        id_field = XERO_ID_FIELDS[collection]
        creates = [(i, items[i][1]) for i in indexes if not items[i][2].external_id]
        updates = [
            (i, dict(items[i][1], **{id_field: items[i][2].external_id}))
            for i in indexes
            if items[i][2].external_id
        ]
        totals = {
            i: items[i][0].amount_total for i in indexes if items[i][0]._name == "account.move"
        }
        if collection == "CreditNotes" and creates:
            creates = self._xero_find_credit_notes(creates, results, totals)
        for method, group in (("PUT", creates), ("POST", updates)):
            if group:
                self._xero_send(collection, method, group, results, totals)
        if collection == "CreditNotes":
            invoice_ids = {
                items[i][0].id: results[i]["external_id"]
                for i in range(len(items))
                if results[i]
                and results[i].get("external_id")
                and items[i][0]._name == "account.move"
            }
            for i in indexes:
                if results[i] and not results[i].get("error"):
                    results[i] = self._xero_allocate(items[i][0], results[i], invoice_ids)

    def _xero_send(self, collection, method, group, results, totals=None):
        """Send one batch of ``collection`` items; fill ``results`` (per-item errors read)."""
        body = {collection: [payload for _i, payload in group]}
        params = {"summarizeErrors": "false"}
        if collection in ("Invoices", "CreditNotes"):
            params["unitdp"] = "4"
        try:
            answer = self._xero_call(
                method,
                collection,
                params=params,
                json=body,
                headers={
                    "Idempotency-Key": self._xero_idempotency_key(f"{method} {collection}", body)
                },
            )
            answers = (answer or {}).get(collection) or []
            if len(answers) != len(group):
                raise PermanentError(self.env._("Xero answered with an unexpected list."))
        except ConnectorError as exc:
            message = xero.error_text(exc.body) if exc.status == 400 else ""
            for i, _payload in group:
                results[i] = {
                    "error": message or str(exc),
                    "retry": exc.retryable,
                    "retry_after": exc.retry_after,
                }
            return
        duplicates = {}
        for (i, payload), item in zip(group, answers, strict=True):
            if xero.item_failed(item):
                messages = xero.validation_messages(item)
                text = "; ".join(messages) or self.env._("Xero refused the record.")
                if (
                    collection == "Invoices"
                    and method == "PUT"
                    and any("must be unique" in m for m in messages)
                ):
                    duplicates[payload["InvoiceNumber"]] = (i, text, payload, (totals or {}).get(i))
                results[i] = {"error": text}
            elif collection == "Invoices":
                results[i] = self._xero_invoice_result(item)
            elif collection == "CreditNotes":
                results[i] = self._xero_credit_note_result(item)
            else:
                results[i] = {
                    "external_id": item["ContactID"],
                    "message": self.env._("Saved in Xero."),
                }
        if duplicates:
            self._xero_adopt_invoices(duplicates, results)

    def _xero_invoice_result(self, item, message=None):
        return {
            "external_id": item["InvoiceID"],
            "url": self._xero_invoice_link(item["InvoiceID"]),
            "data": {"number": item.get("InvoiceNumber"), "status": item.get("Status")},
            "message": message,
        }

    def _xero_adopt_invoices(self, duplicates, results):
        """Invoices already in Xero under our number (an earlier push whose answer was lost).

        One is linked only when it is this customer's (same ContactID) for the same
        total; otherwise (``INV-`` is also Xero's own prefix) the push fails with a
        conflict naming both, and nothing is linked.
        """
        try:
            answer = self._xero_call(
                "GET", "Invoices", params={"InvoiceNumbers": ",".join(duplicates)}
            )
        except ConnectorError:
            return
        taken = self.env["rebilling.binding"]._rebilling_find(
            self, "account.move", {inv.get("InvoiceID") for inv in answer.get("Invoices") or []}
        )
        for item in (answer or {}).get("Invoices") or []:
            number = item.get("InvoiceNumber")
            if (
                number not in duplicates
                or item.get("Type") != "ACCREC"
                or item.get("Status") in ("DELETED", "VOIDED")
                or item.get("InvoiceID") in taken
            ):
                continue
            i, _text, payload, total = duplicates.pop(number)
            contact = (item.get("Contact") or {}).get("ContactID")
            if contact == payload["Contact"]["ContactID"] and (
                total is None or abs(float(item.get("Total") or 0.0) - total) < 0.005
            ):
                results[i] = self._xero_invoice_result(
                    item, self.env._("Already in Xero: linked to the existing invoice.")
                )
                continue
            results[i] = {
                "error": self.env._(
                    "Conflict: Xero already has an invoice %(number)s (%(contact)s, total "
                    "%(total)s) that is not this one (%(partner_total)s): it is not linked. "
                    "Renumber one of them, then push again.",
                    number=number,
                    contact=(item.get("Contact") or {}).get("Name") or contact,
                    total=item.get("Total"),
                    partner_total=total,
                ),
                "retry": False,
            }

    def _xero_online_invoice_url(self, invoice_id):
        answer = self._xero_call("GET", f"Invoices/{invoice_id}/OnlineInvoice")
        online = (answer or {}).get("OnlineInvoices") or []
        return online[0].get("OnlineInvoiceUrl") if online else None
