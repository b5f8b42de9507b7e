from datetime import datetime, time, timedelta

import pytz

from odoo import api, fields, models
from odoo.exceptions import UserError


class ResCompany(models.Model):
    _inherit = "res.company"

    rebilling_rate_plan_id = fields.Many2one(
        "rebilling.rate.plan",
        "Default Rate Plan",
        check_company=True,
        domain="[('company_id', 'in', [id, False])]",
        help="Rates the calls of customers that have no rate plan of their own.",
    )
    rebilling_voice_product_id = fields.Many2one(
        "product.product",
        "Voice Usage Product",
        check_company=True,
        domain="[('rebilling_voice_usage', '=', True), ('company_id', 'in', [id, False])]",
        help="Product of the usage invoice lines when the destination group has none.",
    )

    @api.constrains("rebilling_rate_plan_id", "rebilling_voice_product_id")
    def _check_rebilling_voip_company(self):
        """The default plan and voice product are the company's own or shared (``res.company``
        has no automatic company check)."""
        self._check_company(["rebilling_rate_plan_id", "rebilling_voice_product_id"])

    @api.ondelete(at_uninstall=False)
    def _unlink_except_rebilling_cdrs(self):
        if self.env["rebilling.cdr"].sudo().search_count([("company_id", "in", self.ids)], limit=1):
            raise UserError(self.env._("A company with call records cannot be deleted."))

    def _rebilling_region(self):
        """Region in which national phone numbers are read (the company's country)."""
        self.ensure_one()
        return self.country_id.code or self.account_fiscal_country_id.code or None

    def _rebilling_voice_product(self):
        self.ensure_one()
        return self.rebilling_voice_product_id or self.env.ref(
            "rebilling_voip.product_voice_usage", raise_if_not_found=False
        )

    def _rebilling_day_start_utc(self, day):
        """UTC (naive, as stored) of midnight at the start of ``day`` in the company's zone."""
        self.ensure_one()
        local = self._rebilling_tz().localize(datetime.combine(day, time.min))
        return local.astimezone(pytz.utc).replace(tzinfo=None)

    def _rebilling_days_utc(self, date_from, date_to):
        """[start, end) in UTC covering the whole local days ``date_from`` .. ``date_to``.

        The end is exclusive: midnight after ``date_to``, so the last day counts to 23:59:59.
        Either bound may be ``None`` (open interval).
        """
        self.ensure_one()
        start = self._rebilling_day_start_utc(date_from) if date_from else None
        end = self._rebilling_day_start_utc(date_to + timedelta(days=1)) if date_to else None
        return start, end
