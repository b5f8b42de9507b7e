from datetime import datetime, time, timedelta

import pytz

from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    rebilling_review_shock_percent = fields.Float(
        "Bill shock threshold (%)",
        default=30.0,
        help="Invoices under review are flagged when their total differs from the customer's "
        "average of the last 3 invoices by more than this percentage.",
    )
    rebilling_reissue_hour = fields.Integer(
        "Off-peak hour",
        default=2,
        help="Hour of the day (0 to 23, company time zone) when invoices marked for reissue "
        "are recalculated.",
    )

    _rebilling_reissue_hour_range = models.Constraint(
        "CHECK (rebilling_reissue_hour BETWEEN 0 AND 23)",
        "The off-peak hour is an hour of the day, from 0 to 23.",
    )
    _rebilling_review_shock_percent_positive = models.Constraint(
        "CHECK (rebilling_review_shock_percent >= 0)",
        "The bill shock threshold cannot be negative.",
    )

    def _rebilling_next_off_peak(self, now=None):
        """The next off-peak hour of the company after ``now``, as a naive UTC datetime."""
        self.ensure_one()
        tz = self._rebilling_tz()
        local_now = self._rebilling_local_now(now)
        hour = time(hour=self.rebilling_reissue_hour)
        candidate = tz.localize(datetime.combine(local_now.date(), hour))
        if candidate <= local_now:
            candidate = tz.localize(datetime.combine(local_now.date() + timedelta(days=1), hour))
        return candidate.astimezone(pytz.utc).replace(tzinfo=None)
