"""The agreement billing cycles of the fake ConnectWise (what the server does after it
accepted the additions)."""

import copy
from datetime import timedelta

from .cw_schema import (
    _parse_dt,
)


class ConnectWiseBillingMixin:
    """Agreement billing cycles of :class:`.FakeConnectWise`."""

    # -------------------------------------------------------------- agreement billing
    @staticmethod
    def billing_period(day):
        """``(first, last)`` day of the billing cycle holding ``day``.

        ASSUMED: monthly agreements whose cycle starts on the 1st (the
        ``billingCycle`` "Monthly" with a billing start on a 1st).
        """
        first = day.replace(day=1)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first, following - timedelta(days=1)

    def run_billing_cycle(self, day, agreement_id=None):
        """Run the agreement invoicing of the cycle holding ``day``; return the invoices.

        What ConnectWise does after it accepted additions:

        * an agreement's cycle is invoiced once: DOCUMENTED [betterinvoice.io
          "The Agreement Tab": Create Invoice "generates the invoice for the first
          or next billing cycle. Grayed out if the current cycle invoice already
          exists"] (ValueError here);
        * the cycle bills every addition effective on or before its last day and
          not cancelled before its first day: DOCUMENTED [betterinvoice.io
          "Agreement Additions Tab": Effective "date the addition became active for
          billing", Cancelled "date the addition stopped billing"; "charge a
          one-time setup fee by setting the Effective Date and Cancelled Date
          within the same billing period"; the ``effectiveDate`` and
          ``cancelledDate`` of ``Addition`` in ConnectWise's REST API reference];
          only ``billCustomer`` "Billable" ones (ASSUMED:
          DoNotBill and NoCharge bill nothing);
        * at the full price: ASSUMED, the agreement's prorate option is off
          [support.ceojuice.com "Syncing Prorated Agreements from ConnectWise":
          without it an addition added mid-month bills the full amount];
        * a line is ``(quantity - lessIncluded) x unitPrice`` rounded to the cent
          [betterinvoice.io: "Ext Price: Total Quantity x Unit Price"; the
          rounding and lessIncluded: ASSUMED]; a negative price is a credit
          (ASSUMED).

        Only active agreements are invoiced (ASSUMED).
        """
        first, last = self.billing_period(day)
        invoices = []
        with self._state_lock:
            agreements = [
                a
                for a in self._data["agreements"].values()
                if (agreement_id is None or a["id"] == agreement_id)
                and a.get("agreementStatus", "Active") == "Active"
            ]
            for agreement in agreements:
                if any(
                    i["agreementId"] == agreement["id"] and i["periodStart"] == first
                    for i in self._agreement_invoices
                ):
                    raise ValueError(
                        f"The invoice of agreement {agreement['id']} for the cycle "
                        f"{first} - {last} already exists."
                    )
                lines = []
                for addition in self._data["additions"].values():
                    if addition["agreementId"] != agreement["id"]:
                        continue
                    if addition.get("billCustomer") != "Billable":
                        continue
                    effective = _parse_dt(addition.get("effectiveDate"))
                    cancelled = _parse_dt(addition.get("cancelledDate"))
                    if effective is not None and effective.date() > last:
                        continue
                    if cancelled is not None and cancelled.date() < first:
                        continue
                    quantity = float(addition.get("quantity") or 0) - float(
                        addition.get("lessIncluded") or 0
                    )
                    amount = round(quantity * float(addition.get("unitPrice") or 0), 2)
                    lines.append({"additionId": addition["id"], "amount": amount})
                invoice = {
                    "agreementId": agreement["id"],
                    "periodStart": first,
                    "periodEnd": last,
                    "lines": lines,
                    "total": round(sum(line["amount"] for line in lines), 2),
                }
                self._agreement_invoices.append(invoice)
                invoices.append(copy.deepcopy(invoice))
        return invoices

    def agreement_invoices(self, agreement_id=None):
        """The agreement invoices of the cycles run so far."""
        with self._state_lock:
            return [
                copy.deepcopy(i)
                for i in self._agreement_invoices
                if agreement_id is None or i["agreementId"] == agreement_id
            ]

    def billed_total(self, day=None):
        """What the cycles run billed (the one holding ``day`` only, if given)."""
        first = self.billing_period(day)[0] if day else None
        return round(
            sum(
                i["total"]
                for i in self.agreement_invoices()
                if first is None or i["periodStart"] == first
            ),
            2,
        )
