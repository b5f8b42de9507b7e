"""What a reconciliation found: one line per document that disagrees with a system."""

from odoo import fields, models


class RebillingReconcileLine(models.Model):
    _name = "rebilling.reconcile.line"
    _description = "Rebilling Reconciliation Line"
    _inherit = ["rebilling.company.mixin"]
    _order = "run_id desc, backend_id, kind, reference, id"

    run_id = fields.Many2one(
        "rebilling.billing.run", "Billing Run", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="run_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="run_id.currency_id")
    backend_id = fields.Many2one(
        "rebilling.backend", "Connector", required=True, index=True, ondelete="cascade"
    )
    system = fields.Selection(related="backend_id.backend_type", store=True)
    move_id = fields.Many2one("account.move", "Document", index=True, ondelete="set null")
    partner_id = fields.Many2one(related="move_id.partner_id", string="Customer")
    kind = fields.Selection(
        [
            ("missing", "Missing"),
            ("extra", "Extra"),
            ("total", "Total differs"),
            ("status", "Status"),
        ],
        required=True,
        help="Missing: in Odoo, not in the system. Extra: in the system, not in Odoo's month. "
        "Total differs: both hold it with another total. Status: the system voided or "
        "deleted it (or will not bill it).",
    )
    reference = fields.Char(help="The document's number in Odoo or in the system.")
    external_id = fields.Char("External ID")
    odoo_total = fields.Monetary("Total in Odoo")
    remote_total = fields.Monetary("Total in the System")
    remote_status = fields.Char("Status in the System")
    message = fields.Char()

    def action_open_move(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": self.move_id.id,
            "view_mode": "form",
        }

    def action_view_sync_log(self):
        """The sync log of the document (and of its lines, pushed one by one to a PSA)."""
        self.ensure_one()
        move = self.move_id
        domain = [("backend_id", "=", self.backend_id.id)]
        if move:
            domain += [
                "|",
                "&",
                ("res_model", "=", "account.move"),
                ("res_id", "=", move.id),
                "&",
                ("res_model", "=", "account.move.line"),
                ("res_id", "in", move.line_ids.ids),
            ]
        elif self.external_id:
            domain.append(("external_id", "=", self.external_id))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Sync Log"),
            "res_model": "rebilling.sync.log",
            "view_mode": "list,form",
            "domain": domain,
        }
