from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

PATTERN_TOKENS = {"%year%": "%(year)s", "%mon%": "%(month)s", "%mday%": "%(day)s"}


class ResCompany(models.Model):
    """Invoice numbering: the prefix or pattern, its PostgreSQL sequence, the journal."""

    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    rebilling_invoice_prefix = fields.Char("Invoice Prefix", default="INV-")
    rebilling_invoice_start = fields.Integer("Invoice Number Start", default=1)
    rebilling_number_pattern = fields.Char(
        "Invoice Numbering Pattern",
        help="Optional. Letters, digits and symbols plus %year%, %mon%, %mday% and %num% "
        "(the incremental number), e.g. %num%/%year%. Overrides the prefix when set.",
    )
    rebilling_sequence_id = fields.Many2one("ir.sequence", copy=False, readonly=True)
    rebilling_journal_id = fields.Many2one(
        "account.journal",
        check_company=True,
        domain="[('type', '=', 'sale'), ('company_id', '=', id)]",
        help="Sales journal of the rebilling invoices; a journal of their own (code RBL) is "
        "created by the first run when empty. Customer invoices of this journal, manual ones "
        "included, take the rebilling numbers.",
    )

    @api.constrains("rebilling_journal_id")
    def _check_rebilling_journal_company(self):
        """The company's own journal (``res.company`` has no automatic company check)."""
        self._check_company(["rebilling_journal_id"])

    @api.constrains("rebilling_number_pattern", "rebilling_invoice_start")
    def _check_rebilling_numbering(self):
        for company in self:
            pattern = company.rebilling_number_pattern
            if pattern and pattern.count("%num%") != 1:
                raise ValidationError(
                    self.env._(
                        "The numbering pattern must contain %%num%% exactly once: %s", pattern
                    )
                )
            if company.rebilling_invoice_start < 1:
                raise ValidationError(self.env._("The invoice number start must be 1 or more."))

    # ------------------------------------------------------------ numbering
    def _rebilling_sequence_vals(self):
        self.ensure_one()
        pattern = self.rebilling_number_pattern or f"{self.rebilling_invoice_prefix or ''}%num%"
        prefix, suffix = pattern.split("%num%")
        for token, odoo_token in PATTERN_TOKENS.items():
            prefix = prefix.replace(token, odoo_token)
            suffix = suffix.replace(token, odoo_token)
        return {
            "prefix": prefix,
            "suffix": suffix,
            "padding": 0 if self.rebilling_number_pattern else 5,
            # A PostgreSQL sequence: taking numbers locks nothing (see _rebilling_next_numbers).
            "implementation": "standard",
        }

    def _rebilling_sync_sequence(self):
        for company in self:
            vals = company._rebilling_sequence_vals()
            seq = company.sudo().rebilling_sequence_id
            if not seq:
                seq = (
                    self.env["ir.sequence"]
                    .sudo()
                    .create(
                        {
                            **vals,
                            "name": f"Rebilling invoices ({company.name})",
                            "code": "rebilling.invoice",
                            "company_id": company.id,
                            "number_next": company.rebilling_invoice_start,
                        }
                    )
                )
                company.sudo().rebilling_sequence_id = seq
            else:
                seq.write(vals)
                # Moving the start forward is allowed; never backwards (no number reused).
                if company.rebilling_invoice_start > seq.number_next_actual:
                    seq.number_next = company.rebilling_invoice_start

    def _rebilling_next_numbers(self, count, date):
        """Take ``count`` invoice numbers of the company's prefix or pattern.

        Numbers are unique and increasing. They come from a PostgreSQL sequence,
        so taking them locks no row: billing chunks running at the same time
        never wait for each other. A number taken by a transaction that rolls
        back (a chunk retried after a transient error, a killed worker) is not
        handed out again: it leaves a gap.
        """
        self.ensure_one()
        if not self.rebilling_sequence_id:
            self.sudo()._rebilling_sync_sequence()
        seq = self.sudo().rebilling_sequence_id.with_context(
            ir_sequence_date=fields.Date.to_string(date)
        )
        if seq.implementation != "standard":
            return [seq._next() for _i in range(count)]
        rows = self.env.execute_query(
            SQL(
                "SELECT nextval(%s) FROM generate_series(1, %s)",
                f"ir_sequence_{seq.id:03d}",
                count,
            )
        )
        return [seq.get_next_char(number) for (number,) in rows]

    def _rebilling_journal(self):
        """The sales journal of the rebilling invoices; a journal of their own by default.

        Its customer invoices (manual ones included) take the rebilling numbers
        (``account.move._rebilling_numbered``), so Odoo's own numbering never
        hands out a number of the rebilling sequence.
        """
        self.ensure_one()
        if self.rebilling_journal_id:
            return self.rebilling_journal_id
        Journal = self.env["account.journal"].sudo().with_company(self)
        journals = Journal.search([("company_id", "=", self.id)])
        codes = set(journals.mapped("code"))
        code = next(c for c in ("RBL", *(f"RBL{i}" for i in range(2, 100))) if c not in codes)
        sales = journals.filtered(lambda j: j.type == "sale")[:1]
        journal = Journal.create(
            {
                "name": self.env._("Rebilling Invoices"),
                "code": code,
                "type": "sale",
                "company_id": self.id,
                "refund_sequence": True,
                "sequence": 50,
                # Lines without a product account take the income account of Odoo's sales.
                "default_account_id": sales.default_account_id.id,
            }
        )
        self.sudo().rebilling_journal_id = journal
        return journal

    def _rebilling_after_write(self, vals):
        if {
            "rebilling_number_pattern",
            "rebilling_invoice_prefix",
            "rebilling_invoice_start",
        } & set(vals):
            self._rebilling_sync_sequence()
        return super()._rebilling_after_write(vals)
