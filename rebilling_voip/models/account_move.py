from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import format_date


class AccountMove(models.Model):
    _inherit = "account.move"

    rebilling_usage_from = fields.Date(
        "Usage From", copy=False, readonly=True, help="First day of the billed calls."
    )
    rebilling_usage_to = fields.Date(
        "Usage To", copy=False, readonly=True, help="Last day of the billed calls."
    )
    rebilling_call_count = fields.Integer("Calls", compute="_compute_rebilling_call_count")
    rebilling_call_list_id = fields.Many2one(
        "ir.attachment", "Call List", copy=False, readonly=True, index="btree_not_null"
    )

    def _compute_rebilling_call_count(self):
        groups = dict(
            self.env["rebilling.cdr"]._read_group(
                [("invoice_id", "in", self.ids)], ["invoice_id"], ["__count"]
            )
        )
        for move in self:
            move.rebilling_call_count = groups.get(move, 0)

    def _sequence_matches_date(self):
        # Reseller usage invoices are numbered by the company's rebilling pattern too.
        if self.rebilling_usage_from:
            return True
        return super()._sequence_matches_date()

    def _rebilling_white_label(self):
        """Usage invoices of a reseller period print in the white-label layout too."""
        return super()._rebilling_white_label() or bool(self.rebilling_usage_from)

    def _rebilling_period_label(self):
        """A usage invoice of a chosen period (reseller, no run): its usage period."""
        if not self.rebilling_run_id and self.rebilling_usage_from:
            return self.env._(
                "Usage %(start)s - %(end)s",
                start=format_date(self.env, self.rebilling_usage_from),
                end=format_date(self.env, self.rebilling_usage_to),
            )
        return super()._rebilling_period_label()

    def _rebilling_usage_groups(self):
        """[(destination group, calls, minutes, amount)] of the usage lines (invoice report)."""
        self.ensure_one()
        totals = defaultdict(lambda: [0, 0, 0.0])
        groups = self.env["rebilling.destination.group"]
        for line in self.invoice_line_ids:
            group = line.rebilling_destination_group_id
            if line.rebilling_line_kind != "usage" or not group:
                continue
            groups |= group
            totals[group][0] += line.rebilling_call_count
            totals[group][1] += line.rebilling_call_seconds
            totals[group][2] += line.price_subtotal
        return [
            (group.name, totals[group][0], totals[group][1] / 60.0, totals[group][2])
            for group in groups.sorted(lambda g: (g.sequence, g.id))
        ]

    # ------------------------------------------------------------ call list
    def _rebilling_call_list_xlsx(self):
        """The itemized call list of the invoice as XLSX bytes."""
        self.ensure_one()
        report = self.env["report.rebilling_voip.report_call_list"].with_context(
            active_model="account.move"
        )
        content, _ext = report.create_xlsx_report(self.ids, {})
        return content

    def _rebilling_call_price_label(self):
        """The price heading of the call list: whether its prices include GST, as the
        usage lines of the invoice are taxed."""
        self.ensure_one()
        usage = self.invoice_line_ids.filtered(lambda line: line.rebilling_line_kind == "usage")
        taxes = usage.tax_ids or self.company_id._rebilling_voice_product().taxes_id.filtered(
            lambda tax: tax.company_id == self.company_id
        )
        if not taxes:
            return self.env._("Price (no GST)")
        if any(taxes.mapped("price_include")):
            return self.env._("Price (incl. GST)")
        return self.env._("Price (excl. GST)")

    def _rebilling_call_list_name(self):
        self.ensure_one()
        return self.env._("Calls %s.xlsx", (self.name or "").replace("/", "-"))

    def _rebilling_attach_call_list(self):
        """Attach the call list (XLSX) to each invoice that bills calls."""
        Attachment = self.env["ir.attachment"].sudo()
        self.invalidate_recordset(["rebilling_call_count"])
        for move in self:
            if not move.rebilling_call_count:
                continue
            vals = {
                "name": move._rebilling_call_list_name(),
                "raw": move._rebilling_call_list_xlsx(),
                "res_model": "account.move",
                "res_id": move.id,
                "mimetype": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            }
            if move.rebilling_call_list_id:
                move.rebilling_call_list_id.sudo().write(vals)
            else:
                move.rebilling_call_list_id = Attachment.create(vals)

    def action_rebilling_view_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_voip.action_rebilling_cdr"
        )
        action["domain"] = [("invoice_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_rebilling_open(self):
        """Open the invoice (from the customer's Invoices tab)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }

    def _rebilling_portal_call_list_url(self):
        self.ensure_one()
        return self.get_portal_url(suffix="/calls")

    # ------------------------------------------------------------ reissue
    def _rebilling_reissue_prepare(self, run):
        """Rate the calls of the run's usage period that came in since (one rating)."""
        res = super()._rebilling_reissue_prepare(run)
        start, end = run._voip_usage_bounds()
        self.env["rebilling.cdr"]._rate(run.company_id, start=start, end=end)
        return res

    def _rebilling_reissue_done(self, run):
        """Link the calls billed now (theirs and the late ones), regenerate the call lists.

        The calls the invoices billed before are freed first, then those their new
        usage lines sum are linked: the same condition as the lines, in two UPDATEs.
        """
        res = super()._rebilling_reissue_done(run)
        if self:
            Cdr = self.env["rebilling.cdr"]
            start, end = run._voip_usage_bounds()
            Cdr._unlink_invoices(self)
            Cdr._link_invoices(self, start, end)
            self._rebilling_attach_call_list()
        return res

    # ------------------------------------------------------------ freeing calls
    def button_cancel(self):
        res = super().button_cancel()
        self.env["rebilling.cdr"]._unlink_invoices(self.filtered(lambda m: m.state == "cancel"))
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_rebilling_calls(self):
        self.env["rebilling.cdr"]._detach("invoice_id", self.ids)

    # ------------------------------------------------------------ review flags
    def _rebilling_review_flags(self):
        """Usage flags for the review (``rebilling_review``), from the calls of the run.

        ``zero_usage``: a voice usage or SIP trunk service of the customer had no
        call in the usage month (a VoIP bundle may include no usage at all);
        ``negative_margin``: its usage was billed below wholesale cost;
        ``unmatched_cdr``: calls of the customer in the month matched no
        destination or rate. One grouped query per run.
        """
        result = super()._rebilling_review_flags()
        for run, moves in self.filtered("rebilling_run_id").grouped("rebilling_run_id").items():
            start, end = run.company_id._rebilling_days_utc(run.usage_start, run.usage_end)
            partners = moves.partner_id
            self.env.cr.execute(
                """SELECT partner_id, service_id,
                          count(*) FILTER (WHERE state IN ('rated', 'invoiced')),
                          count(*) FILTER (WHERE state IN ('unmatched', 'error')),
                          coalesce(sum(price) FILTER (WHERE state IN ('rated', 'invoiced')), 0),
                          coalesce(sum(cost) FILTER (WHERE state IN ('rated', 'invoiced')), 0)
                     FROM rebilling_cdr
                    WHERE company_id = %s AND partner_id = ANY(%s)
                      AND start_time >= %s AND start_time < %s
                 GROUP BY partner_id, service_id""",
                [run.company_id.id, partners.ids, start, end],
            )
            used, unmatched, price, cost = set(), set(), {}, {}
            for partner_id, service_id, rated, bad, amount, wholesale in self.env.cr.fetchall():
                if rated:
                    used.add(service_id)
                if bad:
                    unmatched.add(partner_id)
                price[partner_id] = price.get(partner_id, 0.0) + amount
                cost[partner_id] = cost.get(partner_id, 0.0) + wholesale
            services = self.env["rebilling.service"].search(
                [
                    ("service_type", "in", ("voice", "sip_trunk")),
                    *self.env["rebilling.service"]._billable_domain(
                        partners, run.usage_start, run.usage_end
                    ),
                ]
            )
            idle = {s.partner_id.id for s in services if s.id not in used}
            for move in moves:
                codes = result.setdefault(move.id, set())
                pid = move.partner_id.id
                if pid in idle:
                    codes.add("zero_usage")
                if pid in unmatched:
                    codes.add("unmatched_cdr")
                if price.get(pid, 0.0) < cost.get(pid, 0.0):
                    codes.add("negative_margin")
        return result
