from odoo import api, fields, models
from odoo.exceptions import ValidationError

SEND_POLICIES = [
    ("immediately", "Immediately"),
    ("review", "After review and approval"),
]


class RebillingCustomerClass(models.Model):
    _inherit = "rebilling.customer.class"

    send_policy = fields.Selection(
        SEND_POLICIES,
        "Send the invoice via email",
        required=True,
        default="immediately",
        help="Immediately: the invoices of the billing run follow the company's Auto Invoice "
        "setting. After review and approval: the invoices wait under review until an approver "
        "approves them (or the hold period ends), then they are emailed.",
    )
    review_hold_days = fields.Integer(
        "Hold for review",
        default=3,
        help="Days an invoice waits for approval. When nobody approves it within this period, "
        "it is approved and sent automatically. The due date is extended by these days.",
    )
    payment_term_days = fields.Integer(
        "Payment terms",
        default=lambda self: self.env.company.rebilling_payment_term_days,
        help="Days the customers of this class have to pay, counted from the day they receive "
        "the invoice (Net N days).",
    )
    effective_payment_term_days = fields.Integer(
        "Effective payment terms",
        compute="_compute_effective_payment_terms",
        help="Days from the invoice date to the due date: the payment terms plus the hold for "
        "review when invoices are reviewed.",
    )
    payment_term_display = fields.Char(
        "Effective terms", compute="_compute_effective_payment_terms"
    )

    _payment_term_days_positive = models.Constraint(
        "CHECK (payment_term_days >= 0)", "Payment terms cannot be negative."
    )
    _review_hold_days_positive = models.Constraint(
        "CHECK (review_hold_days >= 0)", "The hold for review cannot be negative."
    )

    @api.depends("send_policy", "review_hold_days", "payment_term_days")
    def _compute_effective_payment_terms(self):
        for cls in self:
            hold = cls._rebilling_review_hold_days()
            cls.effective_payment_term_days = cls.payment_term_days + hold
            if hold:
                cls.payment_term_display = self.env._(
                    "Net %(terms)s + %(hold)s = %(total)s days after the invoice date",
                    terms=cls.payment_term_days,
                    hold=hold,
                    total=cls.effective_payment_term_days,
                )
            else:
                cls.payment_term_display = self.env._(
                    "Net %(terms)s days after the invoice date", terms=cls.payment_term_days
                )

    @api.constrains("send_policy", "review_hold_days")
    def _check_review_hold_days(self):
        for cls in self:
            if cls.send_policy == "review" and cls.review_hold_days < 1:
                raise ValidationError(
                    self.env._(
                        "%s reviews its invoices: hold them for review for 1 day or more.",
                        cls.name,
                    )
                )

    def _rebilling_review_enabled(self):
        """Whether the invoices of this class wait for approval before they are sent."""
        self.ensure_one()
        return self.send_policy == "review"

    def _rebilling_review_hold_days(self):
        """Days added to the payment terms while invoices wait for approval."""
        self.ensure_one()
        return self.review_hold_days if self._rebilling_review_enabled() else 0

    @api.model
    def _rebilling_review_demo(self):
        """Demo: the "Pilot" customers of the demo reseller are reviewed for 5 days."""
        pilot = self.search([("name", "=", "Pilot")])
        pilot.write({"send_policy": "review", "review_hold_days": 5, "payment_term_days": 14})
        return pilot
