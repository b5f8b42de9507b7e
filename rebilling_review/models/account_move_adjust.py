"""Adjust an invoice under review: one manual credit or charge, then under review again."""

from markupsafe import Markup

from odoo import models
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tools import formatLang


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------ adjust
    def action_rebilling_review_adjust(self):
        self._rebilling_review_check_approver()
        if len(self) != 1:
            raise UserError(self.env._("Adjust one invoice at a time."))
        self._rebilling_review_check_state("adjust")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Adjust invoice %s", self.name),
            "res_model": "rebilling.review.adjust.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }

    def _rebilling_review_adjust(self, kind, name, amount, taxes):
        """Add one manual credit (``kind='credit'``) or charge to the invoice under review.

        On a credit note (a month whose credits outweigh its charges) a credit adds to
        what is credited and a charge takes from it. Refused when the document would
        change sign: an invoice stays an invoice, a credit note a credit note.
        """
        self.ensure_one()
        self._rebilling_review_check_approver()
        self._rebilling_review_check_state("adjust")
        old_total = self.amount_total
        refund = self.move_type == "out_refund"
        price = -amount if kind == "credit" else amount
        delta = (
            taxes.compute_all(price, currency=self.currency_id, partner=self.partner_id)[
                "total_included"
            ]
            if taxes
            else price
        )
        # The change of the document's own total: a credit enlarges a credit note.
        delta = -delta if refund else delta
        if self.currency_id.compare_amounts(old_total + delta, 0.0) < 0:
            if refund:
                message = self.env._(
                    "This charge makes %(name)s charge the customer (%(total)s): "
                    "charge at most the credit note total.",
                    name=self.name,
                    total=formatLang(self.env, old_total + delta, currency_obj=self.currency_id),
                )
            else:
                message = self.env._(
                    "This credit makes the total of %(name)s negative (%(total)s): "
                    "credit at most the invoice total.",
                    name=self.name,
                    total=formatLang(self.env, old_total + delta, currency_obj=self.currency_id),
                )
            raise UserError(message)
        # In a credit note a positive line credits the customer.
        line_price = -price if refund else price
        self.button_draft()
        self.write(
            {
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": name,
                            "quantity": 1.0,
                            "price_unit": line_price,
                            "tax_ids": [Command.set(taxes.ids)],
                            "rebilling_line_kind": "manual",
                        }
                    )
                ]
            }
        )
        self.action_post()
        self._rebilling_review_restart_hold()
        label = self.env._("Manual credit") if kind == "credit" else self.env._("Manual charge")
        body = Markup("<p>%s</p><ul><li>%s</li><li>%s</li><li>%s</li></ul><p>%s</p>") % (
            self.env._("%s added; the invoice is under review again.", label),
            self.env._("Description: %s", name),
            self.env._(
                "Amount: %(amount)s excluding tax (%(taxes)s)",
                amount=formatLang(self.env, price, currency_obj=self.currency_id),
                taxes=", ".join(taxes.mapped("name")) or self.env._("no tax"),
            ),
            self.env._(
                "Total: %(old)s → %(new)s",
                old=formatLang(self.env, old_total, currency_obj=self.currency_id),
                new=formatLang(self.env, self.amount_total, currency_obj=self.currency_id),
            ),
            self.env._("The regenerated invoice is attached."),
        )
        self._rebilling_review_changed({self.id: body})
