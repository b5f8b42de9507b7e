from odoo.addons.account.controllers.portal import PortalAccount
from odoo.fields import Domain


class RebillingPortalAccount(PortalAccount):
    def _get_invoices_domain(self, m_type=None):
        """Rebilling invoices appear on the portal once issued to the customer (emailed
        or handed to the mail queue), whatever happens to the email afterwards; the
        record rule agrees."""
        return super()._get_invoices_domain(m_type) & (
            Domain("rebilling_period", "=", False) | Domain("is_move_sent", "=", True)
        )
