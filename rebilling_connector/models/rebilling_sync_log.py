"""The sync log: one line per record pushed or per pull, with its result.

Written by :meth:`rebilling.backend._rebilling_log` and the push machinery.
"Retry" pushes the records of failed push lines again (now when they fit in
one batch, else as queue jobs) and runs failed pulls again.
"""

from odoo import api, fields, models
from odoo.exceptions import UserError


class RebillingSyncLog(models.Model):
    _name = "rebilling.sync.log"
    _description = "Rebilling Sync Log"
    _inherit = ["rebilling.company.mixin"]
    _order = "id desc"

    backend_id = fields.Many2one("rebilling.backend", required=True, index=True, ondelete="cascade")
    backend_type = fields.Selection(related="backend_id.backend_type", store=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    direction = fields.Selection([("push", "Push"), ("pull", "Pull")], required=True)
    operation = fields.Char(help="What was synchronised: a model or a pull (contacts, accounts).")
    res_model = fields.Char("Model", index=True)
    res_id = fields.Many2oneReference("Record ID", model_field="res_model", index=True)
    record_ref = fields.Reference(
        selection="_selection_record_ref", string="Record", compute="_compute_record_ref"
    )
    external_id = fields.Char("External ID")
    state = fields.Selection(
        [("done", "Success"), ("error", "Error")], "Result", required=True, index=True
    )
    message = fields.Text()
    duration = fields.Float("Duration (s)", digits=(16, 3))
    retried = fields.Boolean(readonly=True, help="Retried since.")

    @api.model
    def _selection_record_ref(self):
        return self.env["rebilling.binding"]._selection_record_ref()

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for log in self:
            if log.res_model in self.env and log.res_id:
                log.record_ref = f"{log.res_model},{log.res_id}"
            else:
                log.record_ref = False

    @api.depends("direction", "operation", "res_model", "res_id")
    def _compute_display_name(self):
        for log in self:
            what = log.record_ref.display_name if log.record_ref else log.operation
            log.display_name = f"{log.direction or ''} {what or ''}".strip()

    def action_retry(self):
        """Push the records of failed push lines again; run failed pulls again."""
        failed = self.filtered(lambda log: log.state == "error" and not log.retried)
        if not failed:
            raise UserError(self.env._("Only failed lines not retried yet can be retried."))
        action = True
        for backend, logs in failed.grouped("backend_id").items():
            pushes = logs.filtered(lambda log: log.direction == "push" and log.res_id)
            for res_model, group in pushes.grouped("res_model").items():
                records = self.env[res_model].browse(set(group.mapped("res_id"))).exists()
                action = backend._rebilling_push_now_or_later(records)
            for what in set((logs - pushes).mapped("operation")):
                backend._rebilling_pull(what)
                action = backend._rebilling_notify(self.env._("%s pulled again.", what), "success")
        failed.retried = True
        return action

    def action_open_record(self):
        self.ensure_one()
        if not self.record_ref:
            raise UserError(self.env._("This line is not about one record."))
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    @api.autovacuum
    def _gc_old_lines(self):
        """Keep successful lines 90 days and failed ones a year."""
        now = fields.Datetime.now()
        self.search(
            [
                "|",
                "&",
                ("state", "=", "done"),
                ("date", "<", fields.Datetime.subtract(now, days=90)),
                ("date", "<", fields.Datetime.subtract(now, days=365)),
            ]
        ).unlink()
