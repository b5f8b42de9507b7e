"""Reconciliation with ConnectWise: the month's agreement additions read back, paged.

Additions are a child collection of their agreement
(``finance/agreements/{parentId}/additions``, ConnectWise PSA REST API reference,
developer.connectwise.com/Products/Manage/REST): one list per agreement the
month's invoice lines went to, filtered on the month's ``effectiveDate``
(``conditions`` with a date in brackets, ConnectWise Developer Guide), 1,000
records a page (``pageSize`` max 1000) followed by the ``Link: rel="next"`` header
(both: ConnectWise "PSA Pagination"), only the fields compared (``fields``,
Developer Guide). Calls: one per agreement and 1,000 of its additions of the month.
"""

from odoo import models

BILLABLE = "Billable"


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _connectwise_reconcile_fetch(self, run, moves):
        """The month's items of ``run`` (the spec's ``reconcile_fetch``)."""
        agreements = {
            self._psa_line_source(line).connectwise_agreement_id.external_id
            for line in self._psa_lines(moves)
        }
        first, last = run.period_start, run.period_end
        conditions = f"effectiveDate>=[{first}T00:00:00Z] and effectiveDate<=[{last}T23:59:59Z]"
        client = self._rebilling_client()
        items = []
        try:
            for agreement_id in sorted(agreements):
                items += self._connectwise_list(
                    self._connectwise_additions(agreement_id),
                    conditions,
                    client=client,
                    fields="id,description,quantity,unitPrice,billCustomer,invoiceDescription",
                )
        finally:
            client.close()
        markers = {}
        for item in items:
            text = item.get("description") or ""
            start = text.rfind("(")
            markers[item["id"]] = text[start + 1 : -1] if start >= 0 and text.endswith(")") else ""
        move_of = self._psa_reconcile_moves_of(markers.values())
        currency = run.company_id.currency_id
        docs = []
        for item in items:
            bill = item.get("billCustomer") or BILLABLE
            docs.append(
                {
                    "move_id": move_of.get(markers[item["id"]]) or False,
                    "reference": (item.get("description") or "")[:100],
                    "external_id": item["id"],
                    "total": currency.round(
                        (item.get("quantity") or 0.0) * (item.get("unitPrice") or 0.0)
                    ),
                    "status": "" if bill == BILLABLE else bill,
                }
            )
        return docs
