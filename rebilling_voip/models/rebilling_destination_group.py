from odoo import api, fields, models

CATEGORIES = [
    ("local", "Local"),
    ("national", "National"),
    ("mobile", "Mobile"),
    ("special", "13/1300"),
    ("freecall", "Freecall 1800"),
    ("premium", "Premium 19xx"),
    ("emergency", "Emergency"),
    ("international", "International"),
    ("other", "Other"),
]


class RebillingDestinationGroup(models.Model):
    """Where calls go, defined by E.164 prefixes; the longest matching prefix wins."""

    _name = "rebilling.destination.group"
    _description = "Call Destination Group"
    _inherit = ["rebilling.company.mixin"]
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    code = fields.Char(help="Short code, e.g. in supplier rate sheets.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    category = fields.Selection(CATEGORIES, required=True, default="other")
    free_call = fields.Boolean(
        help="Calls to this group cost the customer nothing unless the rate plan has a rate "
        "for it (freecall 1800 numbers, emergency 000): rated at zero, never an error.",
    )
    review_calls = fields.Boolean(
        "Calls to Review",
        help="Calls to this group are rated and billed, and also listed in Calls to Review "
        "(premium-rate numbers).",
    )
    company_id = fields.Many2one(
        "res.company",
        index=True,
        help="Empty: shared by all companies. A company's own group wins over a shared "
        "group with the same prefix.",
    )
    prefix_ids = fields.One2many("rebilling.destination.prefix", "group_id", "Prefixes")
    prefix_count = fields.Integer(compute="_compute_prefix_count")
    product_id = fields.Many2one(
        "product.product",
        "Usage Product",
        check_company=True,
        domain="[('rebilling_voice_usage', '=', True)]",
        help="Product of the invoice lines of this group; the company's voice usage "
        "product when empty.",
    )

    _code_uniq = models.UniqueIndex(
        "(COALESCE(company_id, 0), code) WHERE code IS NOT NULL",
        "The code of a destination group must be unique.",
    )

    @api.depends("prefix_ids")
    def _compute_prefix_count(self):
        for group in self:
            group.prefix_count = len(group.prefix_ids)

    @api.ondelete(at_uninstall=False)
    def _rebilling_cdr_detach(self):
        self.env["rebilling.cdr"]._detach("destination_group_id", self.ids)

    @api.model
    def _match(self, company, number, caller=None):
        """The group of ``number`` (E.164) called from ``caller``: longest prefix wins.

        The same rule as the rating SQL, for one number (forms, tests, tooling).
        """
        Prefix = self.env["rebilling.destination.prefix"]
        candidates = [number[:n] for n in range(2, len(number or "") + 1)]
        prefixes = Prefix.search(
            [
                ("prefix", "in", candidates),
                ("group_id.active", "=", True),
                ("company_id", "in", [company.id, False]),
            ]
        )
        usable = prefixes.filtered(lambda p: not p.same_area or (caller or "").startswith(p.prefix))
        if not usable:
            return self.browse()
        best = max(
            usable,
            key=lambda p: (
                len(p.prefix),
                p.same_area,
                bool(p.company_id),
                -p.group_id.sequence,
                -p.group_id.id,
            ),
        )
        return best.group_id
