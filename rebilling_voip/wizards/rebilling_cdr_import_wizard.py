import base64
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError


class RebillingCdrImportWizard(models.TransientModel):
    _name = "rebilling.cdr.import.wizard"
    _description = "Import a CDR File"

    format_id = fields.Many2one(
        "rebilling.cdr.format",
        "Supplier Format",
        required=True,
        domain="[('company_id', 'in', allowed_company_ids)]",
    )
    file = fields.Binary("CDR File", required=True)
    filename = fields.Char()
    partner_id = fields.Many2one(
        "res.partner",
        "Customer of Every Call",
        help="A file of one customer (their PBX): the trunk of the calls is the first "
        "identifier of the customer's voice service (instead of the format's).",
    )
    trunk = fields.Char(
        "Trunk of Every Call",
        help="The trunk (a service identifier) of the calls of this file that have none, "
        "e.g. the PBX of one customer; the format's when empty.",
    )
    rate = fields.Boolean(
        "Rate the Calls", default=True, help="Rate the new calls of the file's period right away."
    )

    @api.onchange("partner_id")
    def _onchange_partner_id(self):
        """The trunk of the customer's voice service: its first identifier."""
        if self.partner_id:
            self.trunk = self.partner_id._rebilling_voice_trunk(
                self.format_id.company_id or self.env.company
            )

    def action_import(self):
        """Import the file; the upload's customer or trunk overrides the format's."""
        self.ensure_one()
        if self.partner_id and not self.trunk:
            raise UserError(
                self.env._(
                    "%s has no voice service with an identifier to give the trunk of "
                    "every call: enter the trunk.",
                    self.partner_id.display_name,
                )
            )
        data = base64.b64decode(self.file)
        imp = self.env["rebilling.cdr.import"]._import_file(
            self.format_id, data, self.filename, rate=self.rate, trunk=self.trunk
        )
        # The file's calls are rated as they are inserted; this rates the other new
        # calls of its period, and the file's when billing held the rating then.
        if self.rate and imp.imported_count:
            self.env["rebilling.cdr"]._rate(
                imp.company_id, start=imp.date_first, end=imp.date_last + timedelta(seconds=1)
            )
        return {
            "type": "ir.actions.act_window",
            "res_model": "rebilling.cdr.import",
            "res_id": imp.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }
