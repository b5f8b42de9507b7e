from dateutil.relativedelta import relativedelta

from odoo import fields, models
from odoo.addons.rebilling_base.models.account_move import REISSUE_CONTEXT

# Calls of earlier months that arrive late are billed on the next invoice, up to
# this many months back (it bounds the period scans of the billing queries).
LATE_CALL_MONTHS = 3


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"

    unmatched_call_count = fields.Integer(
        "Calls without service",
        compute="_compute_unmatched_call_count",
        help="Calls of the usage month whose caller or trunk is no service of any customer "
        "(unprovisioned numbers): billed to nobody until a service has them.",
    )

    def _unmatched_call_domain(self):
        """Calls of the run's usage month that matched no service at all."""
        self.ensure_one()
        start, end = self.company_id._rebilling_days_utc(self.usage_start, self.usage_end)
        return [
            ("company_id", "=", self.company_id.id),
            ("state", "=", "unmatched"),
            ("service_id", "=", False),
            ("start_time", ">=", start),
            ("start_time", "<", end),
        ]

    def _compute_unmatched_call_count(self):
        Cdr = self.env["rebilling.cdr"]
        for run in self:
            run.unmatched_call_count = (
                Cdr.search_count(run._unmatched_call_domain()) if run.usage_start else 0
            )

    def _rebilling_review_run_flags(self):
        """``unmatched_cdr`` on the run: calls of the month from numbers no service has."""
        result = super()._rebilling_review_run_flags()
        for run in self:
            if run.unmatched_call_count:
                result[run.id].add("unmatched_cdr")
        return result

    def action_view_unmatched_calls(self):
        """The calls counted by ``unmatched_call_count``."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_voip.action_rebilling_cdr"
        )
        action["domain"] = self._unmatched_call_domain()
        action["context"] = {}
        action["name"] = self.env._("Calls without service")
        return action

    late_call_count = fields.Integer(
        "Calls too late",
        compute="_compute_late_call_count",
        help="Calls older than the earliest month this run still bills (late calls are "
        "billed up to three months after their month), neither billed nor unmatched: "
        "never billed unless you bill them by hand (e.g. a reseller period invoice).",
    )

    def _voip_late_limit(self):
        """The 1st of the earliest usage month whose calls this run still bills."""
        self.ensure_one()
        return self.usage_start - relativedelta(months=LATE_CALL_MONTHS)

    def _late_call_domain(self):
        """Unbilled calls, new or rated (of a service enabled for invoicing), too old for
        this run: imported after the last run that could bill them."""
        self.ensure_one()
        start, _end = self.company_id._rebilling_days_utc(self._voip_late_limit(), None)
        return [
            ("company_id", "=", self.company_id.id),
            ("state", "in", ("new", "rated")),
            ("invoice_id", "=", False),
            "|",
            ("service_id", "=", False),
            ("service_id.invoice_enabled", "=", True),
            ("start_time", "<", start),
        ]

    def _compute_late_call_count(self):
        Cdr = self.env["rebilling.cdr"]
        for run in self:
            run.late_call_count = (
                Cdr.search_count(run._late_call_domain())
                if run.usage_start and not run.dry_run
                else 0
            )

    def action_view_late_calls(self):
        """The calls counted by ``late_call_count``."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_voip.action_rebilling_cdr"
        )
        action["domain"] = self._late_call_domain()
        action["context"] = {}
        action["name"] = self.env._("Calls too late to bill")
        return action

    def _voip_usage_month_label(self, partners):
        """A function ``(partner id, first day, last day)`` giving the period text of a
        usage line in that customer's language (en_AU: 01/10/2026 - 31/10/2026)."""
        in_lang = self._rebilling_partner_lang_runs()
        by_id = {partner.id: partner for partner in partners}

        def label(partner_id, first, last):
            run = in_lang(by_id[partner_id])
            return run.env["rebilling.cdr"]._period_label(first, last)

        return label

    def _voip_usage_bounds(self):
        """[start, end) in UTC of the calls this run bills: the usage month and late calls."""
        self.ensure_one()
        first = self.usage_start - relativedelta(months=LATE_CALL_MONTHS)
        return self.company_id._rebilling_days_utc(first, self.usage_end)

    def _voip_usage_label(self, partners=None):
        """The usage period as printed in line labels; with ``partners``, a function of a
        partner id giving it in that customer's language (en_AU: 01/10/2026)."""
        if partners is None:
            return self.env["rebilling.cdr"]._period_label(self.usage_start, self.usage_end)
        in_lang = self._rebilling_partner_lang_runs()
        by_id = {partner.id: partner for partner in partners}

        def label(partner_id):
            run = in_lang(by_id[partner_id])
            return run.env["rebilling.cdr"]._period_label(self.usage_start, self.usage_end)

        return label

    def _rebilling_usage_partner_ids(self):
        ids = super()._rebilling_usage_partner_ids()
        Cdr = self.env["rebilling.cdr"]
        start, end = self._voip_usage_bounds()
        # Calls that came in since the last rating are rated first (set-based).
        Cdr._rate(self.company_id, start=start, end=end)
        return list(set(ids) | set(Cdr._usage_partner_ids(self.company_id, start, end)))

    def _rebilling_usage_lines(self, partners):
        result = dict(super()._rebilling_usage_lines(partners))
        start, end = self._voip_usage_bounds()
        usage = self.env["rebilling.cdr"]._usage_line_vals(
            self.company_id,
            partners.ids,
            start,
            end,
            self._voip_usage_label(partners),
            invoice_ids=self.env.context.get(REISSUE_CONTEXT),
            month_label=self._voip_usage_month_label(partners),
        )
        for partner_id, lines in usage.items():
            result[partner_id] = list(result.get(partner_id, [])) + lines
        return result

    def _rebilling_prepare_invoice_vals(self, partner, line_vals):
        vals = super()._rebilling_prepare_invoice_vals(partner, line_vals)
        if any(line.get("rebilling_line_kind") == "usage" for line in line_vals):
            vals.update(rebilling_usage_from=self.usage_start, rebilling_usage_to=self.usage_end)
        return vals

    def _rebilling_after_invoices(self, invoices):
        """Link the billed calls to their invoice (one UPDATE) and attach the call lists."""
        start, end = self._voip_usage_bounds()
        self.env["rebilling.cdr"]._link_invoices(invoices, start, end)
        invoices._rebilling_attach_call_list()
        return super()._rebilling_after_invoices(invoices)
