from odoo import api, fields, models


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "rebilling.backend.mixin"]

    rebilling_xero_contact_id = fields.Char(
        "Xero ContactID", compute="_compute_rebilling_xero_contact_id"
    )

    @api.depends("rebilling_binding_ids.external_id")
    def _compute_rebilling_xero_contact_id(self):
        bindings = self.env["rebilling.binding"].search(
            [
                ("backend_type", "=", "xero"),
                ("res_model", "=", "res.partner"),
                ("res_id", "in", self.ids),
                ("external_id", "!=", False),
            ]
        )
        contact = {b.res_id: b.external_id for b in bindings}
        for partner in self:
            partner.rebilling_xero_contact_id = contact.get(partner.id, False)

    def _rebilling_sync_failed(self, backend, message):
        # No chatter note per customer: the error is on the binding and in the sync log.
        return True
