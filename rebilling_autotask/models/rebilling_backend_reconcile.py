"""Reconciliation with Autotask: the month's contract charges read back, paged.

One query of ``ContractCharges`` (root query: Autotask's "ContractCharges" entity
page) filtered on ``datePurchased`` within the month and on this database's marker in
``notes``, 500 records a page (``MaxRecords``) followed by ``pageDetails.nextPageUrl``,
only the fields compared (``IncludeFields``; all three: Autotask's "Advanced query
features of the REST API"; both pages under
autotask.net/help/DeveloperHelp/Content/APIs/REST/): 2,000 one-line invoices take
4 calls.
"""

from odoo import models

from .rebilling_backend import NOT_BILLABLE


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _autotask_reconcile_fetch(self, run, moves):
        """The month's items of ``run`` (the spec's ``reconcile_fetch``)."""
        prefix = self._psa_marker(self.env["account.move.line"]).rsplit(":", 1)[0] + ":"
        first, last = run.period_start, run.period_end
        items = self._autotask_query(
            "ContractCharges",
            [
                {"op": "gte", "field": "datePurchased", "value": f"{first}T00:00:00Z"},
                {"op": "lte", "field": "datePurchased", "value": f"{last}T23:59:59Z"},
                {"op": "beginsWith", "field": "notes", "value": prefix},
            ],
            include_fields=[
                "notes",
                "unitQuantity",
                "unitPrice",
                "isBillableToCompany",
                "purchaseOrderNumber",
            ],
        )
        move_of = self._psa_reconcile_moves_of([item.get("notes") for item in items])
        currency = run.company_id.currency_id
        return [
            {
                "move_id": move_of.get(item.get("notes")) or False,
                "reference": item.get("purchaseOrderNumber") or item.get("notes"),
                "external_id": item["id"],
                "total": currency.round(
                    (item.get("unitQuantity") or 0.0) * (item.get("unitPrice") or 0.0)
                ),
                "status": "" if item.get("isBillableToCompany") else NOT_BILLABLE,
            }
            for item in items
        ]
