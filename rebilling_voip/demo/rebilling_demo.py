from datetime import date

from odoo import api, models
from odoo.exceptions import UserError


class RebillingDemo(models.AbstractModel):
    _inherit = "rebilling.demo"

    @api.model
    def _demo_after_run(self, run):
        """A reseller period invoice of this month's calls so far, for one customer."""
        lines = super()._demo_after_run(run)
        partner = run.invoice_ids.partner_id[:1]
        if not partner:
            return lines
        today = date.today()
        wizard = (
            self.env["rebilling.reseller.invoice.wizard"]
            .with_company(run.company_id)
            .create(
                {
                    "partner_id": partner.id,
                    "company_id": run.company_id.id,
                    "date_start": today.replace(day=1),
                    "date_end": today,
                }
            )
        )
        try:
            with self.env.cr.savepoint():
                wizard.action_calculate()
                wizard.action_save()
        except UserError as exc:
            lines.append(
                self.env._(
                    "reseller     : no period invoice for %(partner)s: %(reason)s",
                    partner=partner.name,
                    reason=exc.args[0],
                )
            )
            return lines
        lines.append(
            self.env._(
                "reseller     : period invoice %(inv)s for %(partner)s",
                inv=wizard.invoice_id.name,
                partner=partner.name,
            )
        )
        return lines
