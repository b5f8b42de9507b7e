import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import abr

_logger = logging.getLogger(__name__)


class ResCompany(models.Model):
    """The ABR's ABN Lookup: the company's ABN and its customers', checked every night."""

    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    rebilling_abr_guid = fields.Char(
        "ABN Lookup GUID",
        groups="rebilling_base.group_rebilling_manager",
        help="The authentication GUID the ABR issues for its ABN Lookup web services; "
        "used to check the ABNs of the company and its customers every night.",
    )
    rebilling_abn_status = fields.Selection(related="partner_id.rebilling_abn_status")
    rebilling_abn_gst = fields.Boolean(related="partner_id.rebilling_abn_gst")
    rebilling_abn_checked = fields.Datetime(related="partner_id.rebilling_abn_checked")
    rebilling_abn_message = fields.Char(related="partner_id.rebilling_abn_message")

    # ------------------------------------------------------------ ABR ABN Lookup
    def action_rebilling_check_abn(self):
        """Button: check the company's ABN; GST registration follows the register."""
        self.ensure_one()
        self._rebilling_check_configure()
        if not self.rebilling_abn:
            raise UserError(self.env._("Enter the ABN first."))
        results = self._rebilling_check_abns()
        read = not isinstance(results.get(self.partner_id), abr.AbrAnswerError)
        return self._rebilling_notify(
            self.partner_id._rebilling_abn_summary(),
            "success" if read and self.rebilling_abn_status == "active" else "warning",
        )

    def _rebilling_check_abns(self, customers=None):
        """Check the company's ABN (and ``customers``'); keep GST registration in step."""
        self.ensure_one()
        partners = self.partner_id.filtered("vat") | (customers or self.env["res.partner"])
        results = partners._rebilling_check_abns(self)
        if self.partner_id.rebilling_abn_status:
            gst = self.partner_id.rebilling_abn_gst
            if self.l10n_au_is_gst_registered != gst:
                self.sudo().l10n_au_is_gst_registered = gst
        return results

    @api.model
    def _cron_rebilling_check_abns(self):
        """Nightly: the ABNs of each company with a GUID and of its enabled customers."""
        companies = self.sudo().search([("rebilling_abr_guid", "!=", False)])
        for company in companies:
            customers = self.env["res.partner"].search(
                [
                    ("rebilling_enabled", "=", True),
                    ("vat", "!=", False),
                    ("company_id", "in", [company.id, False]),
                ]
            )
            try:
                company._rebilling_check_abns(customers)
            except UserError as exc:
                _logger.warning("company %s: ABN Lookup failed: %s", company.id, exc)
