import base64
from datetime import timedelta

from odoo import api, fields, models


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
        "identifier of the customer's voice service.",
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
        if not self.partner_id:
            return
        services = self.env["rebilling.service"].search(
            [
                ("partner_id", "child_of", self.partner_id.commercial_partner_id.id),
                ("service_type", "=", "voice"),
                ("identifiers", "!=", False),
                ("company_id", "=", self.format_id.company_id.id or self.env.company.id),
            ],
            order="date_start desc, id desc",
        )
        identifiers = services[:1]._identifier_list()
        self.trunk = identifiers[0] if identifiers else False

    def action_import(self):
        self.ensure_one()
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
