from odoo.addons.account.controllers.portal import PortalAccount
from odoo.fields import Domain


class RebillingPortalAccount(PortalAccount):
    def _get_invoices_domain(self, m_type=None):
        """Rebilling invoices appear on the portal once sent (and the record rule agrees)."""
        return super()._get_invoices_domain(m_type) & (
            Domain("rebilling_period", "=", False) | Domain("rebilling_send_state", "=", "sent")
        )
