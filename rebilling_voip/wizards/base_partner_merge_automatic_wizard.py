from odoo import models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _update_foreign_keys(self, src_partners, dst_partner):
        """Extend for the customer of the calls: a column without database foreign key.

        Odoo's merge moves the columns it finds by their foreign keys only; the
        calls of the merged contacts go to the one kept, before those are deleted.
        """
        self.env["rebilling.cdr"]._repoint("partner_id", src_partners.ids, dst_partner.id)
        return super()._update_foreign_keys(src_partners, dst_partner)
