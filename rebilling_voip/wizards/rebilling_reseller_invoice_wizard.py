from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Command

STATES = [("draft", "Draft"), ("calculated", "Calculated"), ("saved", "Saved")]


def _last_month():
    first = fields.Date.today().replace(day=1) - relativedelta(months=1)
    return first, first + relativedelta(months=1) - timedelta(days=1)


class RebillingResellerInvoiceWizard(models.TransientModel):
    """A usage invoice of a chosen period: all rated calls, by destination group."""

    _name = "rebilling.reseller.invoice.wizard"
    _description = "Create a Usage Invoice for a Period"
    _inherit = ["rebilling.company.mixin"]

    partner_id = fields.Many2one("res.partner", "Customer", required=True, readonly=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date_start = fields.Date("Period Start", required=True, default=lambda self: _last_month()[0])
    date_end = fields.Date(
        "Period End",
        required=True,
        default=lambda self: _last_month()[1],
        help="Included: the whole day counts, to 23:59:59.",
    )
    state = fields.Selection(STATES, default="draft", required=True)
    line_ids = fields.One2many("rebilling.reseller.invoice.wizard.line", "wizard_id", "Summary")
    call_count = fields.Integer("Calls", readonly=True)
    amount_untaxed = fields.Monetary("Amount (untaxed)", readonly=True)
    unrated_count = fields.Integer(
        "Calls Not Rated",
        readonly=True,
        help="Calls of the company in the period that are new, unmatched or in error: they "
        "are not on the invoice until rated.",
    )
    invoice_id = fields.Many2one("account.move", readonly=True)

    @api.onchange("date_start", "date_end", "company_id")
    def _onchange_period(self):
        if self.state == "calculated":
            self.state = "draft"
            self.line_ids = [Command.clear()]
            self.call_count = 0
            self.amount_untaxed = 0.0

    def _bounds(self):
        self.ensure_one()
        if self.date_end < self.date_start:
            raise UserError(self.env._("The period ends before it starts."))
        return self.company_id._rebilling_days_utc(self.date_start, self.date_end)

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    def action_calculate(self):
        """Show what the invoice would bill; creates nothing."""
        self.ensure_one()
        start, end = self._bounds()
        Cdr = self.env["rebilling.cdr"]
        rows = Cdr._usage_summary(self.company_id, self.partner_id.ids, start, end)
        groups = self.env["rebilling.destination.group"].browse([row[1] for row in rows])
        lines = [Command.clear()]
        for _pid, group_id, calls, seconds, _billed, amount, _service in sorted(
            rows, key=lambda r: (groups.browse(r[1]).sequence, r[1])
        ):
            lines.append(
                Command.create(
                    {
                        "destination_group_id": group_id,
                        "call_count": calls,
                        "minutes": (seconds or 0) / 60.0,
                        "amount": self.currency_id.round(float(amount or 0.0)),
                    }
                )
            )
        unrated = Cdr.search_count(
            [
                ("company_id", "=", self.company_id.id),
                ("start_time", ">=", start),
                ("start_time", "<", end),
                "|",
                ("state", "=", "new"),
                "&",
                ("partner_id", "=", self.partner_id.id),
                ("state", "in", ("unmatched", "error")),
            ]
        )
        self.write(
            {
                "state": "calculated",
                "line_ids": lines,
                "call_count": sum(row[2] for row in rows),
                "amount_untaxed": sum(self.currency_id.round(float(r[5] or 0.0)) for r in rows),
                "unrated_count": unrated,
            }
        )
        return self._reopen()

    def action_save(self):
        """Create and post the invoice of the period's rated calls, numbered by the pattern."""
        self.ensure_one()
        if self.invoice_id:
            raise UserError(self.env._("The invoice of this period is already created."))
        company = self.company_id
        partner = self.partner_id
        start, end = self._bounds()
        # Labels in the customer's language, as the run writes them (en_AU: 01/10/2026).
        lang = partner.lang or company.partner_id.lang or self.env.lang
        Cdr = self.env["rebilling.cdr"].with_context(lang=lang)
        label = Cdr._period_label(self.date_start, self.date_end)
        line_vals = Cdr._usage_line_vals(company, partner.ids, start, end, label).get(partner.id)
        if not line_vals:
            raise UserError(
                self.env._(
                    "%(partner)s has no rated calls to invoice from %(period)s.",
                    partner=partner.display_name,
                    period=label,
                )
            )
        invoice_date = fields.Date.context_today(self)
        journal = company._rebilling_journal()
        number = company._rebilling_next_numbers(1, invoice_date)[0]
        move = (
            self.env["account.move"]
            .with_company(company)
            .create(
                {
                    "move_type": "out_invoice",
                    "name": number,
                    "company_id": company.id,
                    "journal_id": journal.id,
                    "partner_id": partner.id,
                    "invoice_date": invoice_date,
                    "date": invoice_date,
                    "invoice_date_due": invoice_date
                    + timedelta(days=company.rebilling_payment_term_days),
                    "invoice_payment_term_id": False,
                    "invoice_origin": self.env._("Usage %s", label),
                    "invoice_user_id": partner.user_id.id,
                    # A rebilling document of the month it is issued in: white label,
                    # sent, listed and exported with the month's invoices.
                    "rebilling_period": invoice_date.replace(day=1),
                    "rebilling_usage_from": self.date_start,
                    "rebilling_usage_to": self.date_end,
                    "invoice_line_ids": [Command.create(vals) for vals in line_vals],
                }
            )
        )
        move.action_post()
        Cdr._link_invoices(move, start, end)
        move._rebilling_attach_call_list()
        self.write({"state": "saved", "invoice_id": move.id})
        return self._reopen()

    def action_view(self):
        self.ensure_one()
        return self.invoice_id.action_rebilling_open()


class RebillingResellerInvoiceWizardLine(models.TransientModel):
    _name = "rebilling.reseller.invoice.wizard.line"
    _description = "Usage Invoice Summary Line"
    _order = "id"

    wizard_id = fields.Many2one(
        "rebilling.reseller.invoice.wizard", required=True, ondelete="cascade"
    )
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    destination_group_id = fields.Many2one("rebilling.destination.group", "Destination")
    call_count = fields.Integer("Calls")
    minutes = fields.Float(digits=(16, 1))
    amount = fields.Monetary()
