from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Fields whose change prices calls differently: the unbilled calls are rated again.
PRICING_FIELDS = {
    "plan_id",
    "destination_group_id",
    "date_from",
    "method",
    "rate_per_minute",
    "flagfall",
    "first_block",
    "next_block",
    "minimum_charge",
    "markup_percent",
}

METHODS = [
    ("per_minute", "Per minute"),
    ("cost_plus", "Cost plus markup"),
]


class RebillingRate(models.Model):
    """The price of calls to one destination group, in force from a date.

    Per minute: ``flagfall + billed seconds / 60 * rate``, where the duration is
    rounded up to the first block, then to whole next blocks (60/60: per started
    minute; 30/1: 30 seconds minimum then per second). Cost plus: ``flagfall +
    wholesale cost * (1 + markup %)``. Either way at least the minimum charge.
    Calls of zero seconds are free.
    """

    _name = "rebilling.rate"
    _description = "Call Rate"
    _inherit = ["rebilling.company.mixin"]
    _order = "plan_id, destination_group_id, date_from desc, id"
    _check_company_auto = True

    plan_id = fields.Many2one(
        "rebilling.rate.plan", "Rate Plan", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="plan_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="plan_id.currency_id")
    destination_group_id = fields.Many2one(
        "rebilling.destination.group",
        required=True,
        ondelete="restrict",
        check_company=True,
    )
    date_from = fields.Date(
        "Effective From",
        required=True,
        default=lambda self: fields.Date.to_date("2000-01-01"),
        help="The rate applies to calls from this day (company time zone) until the next "
        "rate of the same plan and group.",
    )
    method = fields.Selection(METHODS, required=True, default="per_minute")
    rate_per_minute = fields.Float("Per Minute", digits=(16, 4))
    flagfall = fields.Float(digits=(16, 4), help="Charged once per connected call.")
    first_block = fields.Integer(
        "First Block (s)", default=60, help="Every connected call is billed at least this long."
    )
    next_block = fields.Integer(
        "Next Block (s)", default=60, help="After the first block, time is billed in these steps."
    )
    minimum_charge = fields.Float(digits=(16, 4))
    markup_percent = fields.Float("Markup (%)", digits=(16, 2))

    _start_uniq = models.UniqueIndex(
        "(plan_id, destination_group_id, date_from)",
        "A rate plan has one rate per destination group and effective date.",
    )
    _blocks_positive = models.Constraint(
        "CHECK (first_block >= 0 AND next_block > 0)",
        "The billing blocks must be positive (the first block may be 0).",
    )

    @api.model_create_multi
    def create(self, vals_list):
        rates = super().create(vals_list)
        rates._rebilling_rate_calls_again()
        return rates

    def write(self, vals):
        if not PRICING_FIELDS & set(vals):
            return super().write(vals)
        before = [(r.company_id, r.destination_group_id.id, r.date_from) for r in self]
        result = super().write(vals)
        self._rebilling_rate_calls_again(before)
        return result

    def _rebilling_rate_calls_again(self, before=()):
        """A rate entered or corrected applies to the calls rated before it (not billed
        yet): rate again the calls of its destination groups from its date (and from
        the date it had, ``before``: ``[(company, group id, date)]``)."""
        changes = defaultdict(lambda: [set(), None])
        for company, group_id, date_from in [
            *((r.company_id, r.destination_group_id.id, r.date_from) for r in self),
            *before,
        ]:
            change = changes[company]
            change[0].add(group_id)
            change[1] = min(change[1] or date_from, date_from)
        Cdr = self.env["rebilling.cdr"]
        for company, (group_ids, date_from) in changes.items():
            Cdr._rate_again_after_rate_change(company, group_ids, date_from)

    @api.depends("destination_group_id", "date_from", "method")
    def _compute_display_name(self):
        for rate in self:
            rate.display_name = f"{rate.destination_group_id.name or ''} ({rate.date_from or ''})"

    @api.constrains("rate_per_minute", "flagfall", "minimum_charge", "markup_percent")
    def _check_amounts(self):
        for rate in self:
            if min(rate.rate_per_minute, rate.flagfall, rate.minimum_charge) < 0:
                raise ValidationError(
                    self.env._("Rates, flagfalls and minimums cannot be negative.")
                )
            if rate.markup_percent < -100:
                raise ValidationError(self.env._("A markup below -100 % gives negative prices."))

    @api.ondelete(at_uninstall=False)
    def _rebilling_cdr_detach(self):
        self.env["rebilling.cdr"]._detach("rate_id", self.ids)

    def _price(self, duration, cost=0.0):
        """The price of one call, as the rating SQL computes it (reference for tests)."""
        self.ensure_one()
        if duration <= 0:
            return 0.0, 0
        if duration <= self.first_block:
            billed = self.first_block
        else:
            extra = duration - self.first_block
            billed = self.first_block + -(-extra // self.next_block) * self.next_block
        if self.method == "cost_plus":
            price = self.flagfall + cost * (1 + self.markup_percent / 100.0)
        else:
            price = self.flagfall + billed * self.rate_per_minute / 60.0
        return round(max(price, self.minimum_charge), 4), billed
