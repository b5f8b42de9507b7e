"""Reconciliation with Xero: the month's invoices and credit notes read back, paged.

``GET /Invoices`` and ``GET /CreditNotes`` with a ``where`` on the type and the
month's dates, ``page`` and ``pageSize`` (Xero pages lists of Invoices,
CreditNotes, Contacts... with ``page``; ``pageSize`` takes up to 1000 records a
page: Xero's "Requests and responses", Paging,
https://developer.xero.com/documentation/api/requests-and-responses), and
``summaryOnly=true`` on Invoices (a lightweight answer without line items: the
``summaryOnly`` parameter of Xero's OpenAPI file xero_accounting.yaml). 2,000
documents of a month take 2 calls of invoices and 1 of credit notes.
"""

from odoo import models

XERO_PAGE_SIZE = 1000


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _rebilling_reconcile_supported(self):
        return self.backend_type == "xero" or super()._rebilling_reconcile_supported()

    def _rebilling_reconcile_bad_statuses(self):
        if self.backend_type != "xero":
            return super()._rebilling_reconcile_bad_statuses()
        return {"VOIDED", "DELETED"}

    def _xero_list_pages(self, collection, params):
        """Every record of ``collection`` matching ``params``, page after page."""
        items = []
        page = 1
        while True:
            answer = self._xero_call(
                "GET", collection, params=dict(params, page=page, pageSize=XERO_PAGE_SIZE)
            )
            chunk = (answer or {}).get(collection) or []
            items += chunk
            pages = ((answer or {}).get("pagination") or {}).get("pageCount")
            if len(chunk) < XERO_PAGE_SIZE or (pages is not None and page >= pages):
                return items
            page += 1

    def _rebilling_reconcile_fetch(self, run, moves):
        if self.backend_type != "xero":
            return super()._rebilling_reconcile_fetch(run, moves)
        first, last = run.period_start, run.period_end
        dates = (
            f"Date>=DateTime({first.year},{first.month:02d},{first.day:02d}) AND "
            f"Date<=DateTime({last.year},{last.month:02d},{last.day:02d})"
        )
        invoices = self._xero_list_pages(
            "Invoices", {"where": f'Type=="ACCREC" AND {dates}', "summaryOnly": "true"}
        )
        notes = self._xero_list_pages("CreditNotes", {"where": f'Type=="ACCRECCREDIT" AND {dates}'})
        by_name = {}
        for move in moves:
            by_name[(move.move_type == "out_refund", move.name)] = move.id
        docs = []
        for refund, items, number, id_field in (
            (False, invoices, "InvoiceNumber", "InvoiceID"),
            (True, notes, "CreditNoteNumber", "CreditNoteID"),
        ):
            for item in items:
                docs.append(
                    {
                        "move_id": by_name.get((refund, item.get(number))) or False,
                        "reference": item.get(number),
                        "external_id": item.get(id_field),
                        "total": float(item.get("Total") or 0.0),
                        "status": item.get("Status") or "",
                    }
                )
        return docs
