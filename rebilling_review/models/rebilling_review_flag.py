from odoo import api, fields, models


class RebillingReviewFlag(models.Model):
    """A reason to look closely at an invoice under review (shown as a badge).

    Flags are identified by their ``code``; ``account.move._rebilling_review_flags()``
    returns codes, and other modules (e.g. ``rebilling_voip``) add their own.
    """

    _name = "rebilling.review.flag"
    _description = "Rebilling Review Flag"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, help="Technical code returned by the flag computation.")
    sequence = fields.Integer(default=10)
    color = fields.Integer(default=2)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)

    _code_uniq = models.Constraint("UNIQUE (code)", "A review flag with this code already exists.")

    @api.model
    def _by_code(self, codes):
        """The active flags of ``codes`` as ``{code: flag}`` (unknown codes are ignored)."""
        flags = self.search([("code", "in", list(codes))])
        return {flag.code: flag for flag in flags}
