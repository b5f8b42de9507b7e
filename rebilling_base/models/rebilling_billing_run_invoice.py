"""What the billing run bills: each customer's invoice values.

Services and recurring charges in advance for the invoiced month (prorated),
once-off charges on the first run on or after their date, usage of the month
before, then the catch-up and credit lines (``rebilling.adjustment``).

Override points for other modules (all take and return plain data):

- ``_rebilling_usage_lines(partners)``: usage invoice lines per partner id;
- ``_rebilling_usage_partner_ids()``: customers that have usage to bill;
- ``_rebilling_prepare_invoice_vals(partner, line_vals)``: the invoice values;
- ``_rebilling_due_days(partner)``: days from invoice date to due date;
- ``_rebilling_after_invoices(invoices)``: called once per chunk on new invoices.
"""

from collections import defaultdict
from datetime import timedelta

from odoo import models
from odoo.fields import Command
from odoo.tools import format_date

from .account_move import REISSUE_CONTEXT


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------ invoice values
    def _billable_partners(self):
        """Enabled customers of the company with anything to bill in this run."""
        self.ensure_one()
        company = self.company_id
        partner_domain = [
            ("rebilling_enabled", "=", True),
            ("company_id", "in", [company.id, False]),
        ]
        partners = self.env["res.partner"].search(partner_domain)
        service_domain = [
            ("company_id", "=", company.id),
            *self.env["rebilling.service"]._billable_domain(
                partners, self.period_start, self.period_end
            ),
        ]
        ids = set(
            self.env["rebilling.service"]
            .search_fetch(service_domain, ["partner_id"])
            .mapped("partner_id")
            .ids
        )
        charge_domain = [
            ("company_id", "=", company.id),
            *self.env["rebilling.charge"]._billable_domain(
                partners, self.period_start, self.period_end
            ),
        ]
        ids |= set(
            self.env["rebilling.charge"]
            .search_fetch(charge_domain, ["partner_id"])
            .mapped("partner_id")
            .ids
        )
        ids |= set(self._rebilling_usage_partner_ids()) & set(partners.ids)
        ids |= set(self.env["rebilling.adjustment"]._lines(self, partners))
        return self.env["res.partner"].browse(sorted(ids))

    def _prepare_invoices(self, partners):
        """Invoice values per partner id: ``{pid: vals}``; none when nothing to bill."""
        self.ensure_one()
        company = self.company_id
        Service = self.env["rebilling.service"].with_company(company)
        Charge = self.env["rebilling.charge"].with_company(company)
        services = Service.search(
            [("company_id", "=", company.id)]
            + Service._billable_domain(partners, self.period_start, self.period_end)
        )
        charges = Charge.search(
            [("company_id", "=", company.id)]
            + Charge._billable_domain(partners, self.period_start, self.period_end)
        )
        reissued = self.env.context.get(REISSUE_CONTEXT)
        if reissued:
            # A reissue bills again the once-off charges the invoices billed.
            charges |= Charge.search(
                [
                    ("charge_type", "=", "once"),
                    ("partner_id", "in", partners.ids),
                    ("invoice_line_id.move_id", "in", reissued),
                    ("date_start", "<=", self.period_start),
                ]
            )
            # Days of the month a later run billed meanwhile (a catch-up) stay there.
            services, charges = self.env["rebilling.adjustment"]._not_billed_elsewhere(
                self, services, charges
            )
        usage = self._rebilling_usage_lines(partners)
        lines = defaultdict(list)
        in_lang = self._rebilling_partner_lang_runs()
        for service in services:
            lines[service.partner_id.id].append(in_lang(service.partner_id)._service_line(service))
        for charge in charges:
            lines[charge.partner_id.id].append(in_lang(charge.partner_id)._charge_line(charge))
        for pid, usage_lines in usage.items():
            lines[pid].extend(usage_lines)
        for pid, extra in self.env["rebilling.adjustment"]._lines(self, partners).items():
            lines[pid].extend(extra)
        skipped = self.env["rebilling.adjustment"]._catch_up_skipped(self, partners)
        result = {}
        for partner in partners:
            line_vals = [vals for vals in lines.get(partner.id, []) if vals]
            if not line_vals:
                continue
            vals = self._rebilling_prepare_invoice_vals(partner, line_vals)
            vals["rebilling_catch_up_skipped"] = self.company_id.currency_id.round(
                skipped.get(partner.id, 0.0)
            )
            result[partner.id] = self.env["rebilling.adjustment"]._credit_note_if_negative(vals)
        return result

    def _rebilling_partner_lang_runs(self):
        """A function giving ``self`` in a customer's language, so that the dates and
        amounts of line labels follow the customer (en_AU: 01/11/2026), not the user
        of the cron. Extend for another language choice."""
        runs = {}
        default = self.company_id.partner_id.lang or self.env.lang

        def in_lang(partner):
            lang = partner.lang or default
            if lang not in runs:
                runs[lang] = self.with_context(lang=lang)
            return runs[lang]

        return in_lang

    def _prorate(self, date_start, date_end):
        """(factor, first day, last day) of [date_start, date_end] within the invoiced month."""
        first = max(self.period_start, date_start or self.period_start)
        last = min(self.period_end, date_end or self.period_end)
        days = (self.period_end - self.period_start).days + 1
        return ((last - first).days + 1) / days, first, last

    def _period_label(self, first, last, factor):
        label = f"{format_date(self.env, first)} - {format_date(self.env, last)}"
        if factor < 1:
            days = (self.period_end - self.period_start).days + 1
            label += self.env._(", prorated %(n)s/%(d)s days", n=(last - first).days + 1, d=days)
        return label

    def _days_line(self, source, first, last, factor):
        """Name, quantity and unit price of ``source`` billed for [first, last] of the
        invoiced month (the shared amount rule: ``rebilling.adjustment._amount_vals``)."""
        days = (self.period_end - self.period_start).days + 1
        amounts, note = self.env["rebilling.adjustment"]._amount_vals(
            source.price_unit,
            source.quantity,
            (last - first).days + 1,
            days,
            self.company_id.currency_id,
        )
        label = self._period_label(first, last, factor)
        if note:
            label = f"{note}, {label}"
        return dict(amounts, name=f"{source.name} ({label})")

    def _days_of(self, source):
        """The line of a service or recurring charge (``rebilling.billable.mixin``) for its
        days of the invoiced month; none without any."""
        factor, first, last = self._prorate(source.date_start, source._rebilling_date_end())
        if factor <= 0:
            return None
        return {
            "product_id": source.product_id.id,
            **self._days_line(source, first, last, factor),
            **source._rebilling_line_links(),
            "rebilling_date_from": first,
            "rebilling_date_to": last,
        }

    def _service_line(self, service):
        if service.service_type == "voice" and not service.price_unit:
            return None  # a usage-only service: its calls are billed by the usage hook
        return self._days_of(service)

    def _charge_line(self, charge):
        if charge.charge_type == "once":
            return {
                "product_id": charge.product_id.id,
                "name": self.env._(
                    "%(name)s (once-off, %(date)s)",
                    name=charge.name,
                    date=format_date(self.env, charge.date_start),
                ),
                "quantity": charge.quantity,
                "price_unit": charge.price_unit,
                **charge._rebilling_line_links(),
            }
        return self._days_of(charge)

    # ------------------------------------------------------------ hooks
    def _rebilling_usage_lines(self, partners):
        """Hook: usage invoice line values per partner id (``rebilling_voip``)."""
        return {}

    def _rebilling_usage_partner_ids(self):
        """Hook: ids of customers with usage to bill in this run."""
        return []

    def _rebilling_due_days(self, partner):
        """Hook: days between the invoice date and the due date."""
        return self.company_id.rebilling_payment_term_days

    def _rebilling_prepare_invoice_vals(self, partner, line_vals):
        """Hook: the values of the invoice of ``partner``."""
        company = self.company_id
        journal = company._rebilling_journal()
        return {
            "move_type": "out_invoice",
            "company_id": company.id,
            "journal_id": journal.id,
            "partner_id": partner.id,
            "invoice_date": self.period_start,
            "date": self.period_start,
            "invoice_date_due": self.period_start
            + timedelta(days=self._rebilling_due_days(partner)),
            "invoice_payment_term_id": False,
            "invoice_origin": self.name,
            # The customer's salesperson, never the user or bot that runs the job.
            "invoice_user_id": partner.user_id.id,
            "rebilling_period": self.period_start,
            "rebilling_run_id": self.id,
            "invoice_line_ids": [Command.create(vals) for vals in line_vals],
        }

    def _rebilling_after_invoices(self, invoices):
        """Hook: new posted invoices of a chunk; queues them for email under Auto Invoice."""
        if self.company_id.rebilling_auto_invoice:
            invoices._rebilling_queue_send()
