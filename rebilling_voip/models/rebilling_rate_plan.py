from odoo import api, fields, models


class RebillingRatePlan(models.Model):
    """Retail prices of calls per destination group, assigned to customers."""

    _name = "rebilling.rate.plan"
    _description = "Call Rate Plan"
    _inherit = ["mail.thread", "rebilling.company.mixin"]
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    rate_ids = fields.One2many("rebilling.rate", "plan_id", "Rates", copy=True)
    partner_count = fields.Integer("Number of Customers", compute="_compute_partner_count")
    note = fields.Text()

    def _compute_partner_count(self):
        """Customers on the plan (the customer's plan is per company: the plan's)."""
        Partner = self.env["res.partner"]
        for plan in self:
            plan.partner_count = (
                Partner.with_company(plan.company_id).search_count(
                    [("rebilling_rate_plan_id", "=", plan.id)]
                )
                if plan.id and plan.company_id
                else 0
            )

    @api.ondelete(at_uninstall=False)
    def _rebilling_cdr_detach(self):
        """The rates go with their plan by a database cascade, which runs no hook of theirs:
        the calls rated with them are detached here (see ``rebilling.cdr._detach``)."""
        rates = self.with_context(active_test=False).rate_ids
        self.env["rebilling.cdr"]._detach("rate_id", rates.ids)

    def action_view_partners(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Customers on %s", self.name),
            "res_model": "res.partner",
            "view_mode": "list,form",
            "domain": [("rebilling_rate_plan_id", "=", self.id)],
        }
