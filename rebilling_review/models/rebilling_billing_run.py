from datetime import timedelta

from markupsafe import Markup

from odoo import Command, fields, models

APPROVER_GROUP = "rebilling_review.group_rebilling_approver"


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"

    review_count = fields.Integer("Under review", compute="_compute_review_count")
    review_flag_ids = fields.Many2many(
        "rebilling.review.flag",
        string="To check",
        compute="_compute_review_flag_ids",
        help="Review flags of the month as a whole, for the company's review: e.g. "
        "Unmatched CDRs when calls came from numbers that no customer's service has "
        "(their count on the form opens the calls).",
    )

    def _compute_review_count(self):
        counts = dict(
            self.env["account.move"]._read_group(
                [
                    ("rebilling_run_id", "in", self.ids),
                    ("rebilling_review_state", "=", "under_review"),
                ],
                ["rebilling_run_id"],
                ["__count"],
            )
        )
        for run in self:
            run.review_count = counts.get(run, 0)

    def _compute_review_flag_ids(self):
        codes = self._rebilling_review_run_flags()
        flags = self.env["rebilling.review.flag"].sudo()._by_code(set().union(*codes.values()))
        for run in self:
            run.review_flag_ids = [
                Command.set([flags[code].id for code in codes.get(run.id, ()) if code in flags])
            ]

    # ------------------------------------------------------------ hooks of rebilling_base
    def _rebilling_due_days(self, partner):
        """The customer class decides the terms; the hold for review is added to them."""
        cls = partner.rebilling_class_id
        if cls:
            return cls.effective_payment_term_days
        return super()._rebilling_due_days(partner)

    def _rebilling_prepare_invoice_vals(self, partner, line_vals):
        vals = super()._rebilling_prepare_invoice_vals(partner, line_vals)
        cls = partner.rebilling_class_id
        if cls and cls._rebilling_review_enabled():
            vals.update(
                rebilling_review_state="under_review",
                rebilling_review_deadline=fields.Datetime.now()
                + timedelta(days=cls.review_hold_days),
            )
        return vals

    def _rebilling_after_invoices(self, invoices):
        invoices.filtered(
            lambda m: m.rebilling_review_state == "under_review"
        )._rebilling_review_start()
        return super()._rebilling_after_invoices(invoices)

    def _rebilling_on_done(self):
        res = super()._rebilling_on_done()
        self._rebilling_review_notify()
        return res

    # ------------------------------------------------------------ review
    def _rebilling_review_approvers(self):
        """Users notified of new invoices under review: the approvers of the run's company."""
        self.ensure_one()
        group = self.env.ref(APPROVER_GROUP)
        return group.sudo().all_user_ids.filtered(
            lambda u: u.active and not u.share and self.company_id in u.company_ids
        )

    def _rebilling_review_url(self):
        self.ensure_one()
        return f"/odoo/{self._name}/{self.id}/action-rebilling_review.action_rebilling_review_run"

    def _rebilling_review_notify(self):
        """One message to the approvers: how many invoices of the run wait, and where."""
        self.ensure_one()
        count = self.env["account.move"].search_count(
            [("rebilling_run_id", "=", self.id), ("rebilling_review_state", "=", "under_review")]
        )
        flags = self.review_flag_ids
        approvers = self._rebilling_review_approvers()
        if not (count or flags) or not approvers:
            return self.env["mail.message"]
        body = Markup()
        if count:
            body += Markup('%s <a href="%s">%s</a>') % (
                self.env._(
                    "%(run)s: %(count)s invoice(s) are waiting for your review.",
                    run=self.name,
                    count=count,
                ),
                self._rebilling_review_url(),
                self.env._("Open the invoices under review"),
            )
        if flags:
            body += Markup("<p>%s</p>") % self.env._(
                "%(run)s: to check for the month: %(flags)s.",
                run=self.name,
                flags=", ".join(flags.mapped("name")),
            )
        return self.message_post(
            body=body,
            partner_ids=approvers.partner_id.ids,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )

    def action_view_review_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_review.action_rebilling_review_run"
        )
        action["context"] = {
            "search_default_under_review": 1,
            "search_default_rebilling_run_id": self.id,
        }
        return action
