from odoo import api, models


class RebillingService(models.Model):
    _inherit = "rebilling.service"

    @api.ondelete(at_uninstall=False)
    def _rebilling_cdr_detach(self):
        self.env["rebilling.cdr"]._detach("service_id", self.ids)
