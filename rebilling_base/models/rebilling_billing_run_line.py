from odoo import api, fields, models


class RebillingBillingRunLine(models.Model):
    """The log of one customer in a billing run."""

    _name = "rebilling.billing.run.line"
    _description = "Rebilling Billing Run Customer Log"
    _order = "run_id desc, state, partner_id"

    run_id = fields.Many2one("rebilling.billing.run", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    partner_id = fields.Many2one("res.partner", "Customer", required=True, index=True)
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("done", "Invoiced"),
            ("nothing", "Nothing to bill"),
            ("error", "Error"),
        ],
        default="pending",
        required=True,
        index=True,
    )
    invoice_id = fields.Many2one("account.move", index="btree_not_null")
    invoice_line_count = fields.Integer("Lines")
    amount_untaxed = fields.Monetary("Untaxed")
    amount_total = fields.Monetary("Total")
    error = fields.Text()
    date_processed = fields.Datetime("Processed")

    partner_key = fields.Integer(
        "Customer Key",
        compute="_compute_partner_key",
        store=True,
        readonly=True,
        precompute=True,
        help="The id of the customer the line was made for (no foreign key): after two "
        "customers of one run are merged, both their lines stay (Odoo's merge moves "
        "partner_id, and deletes the rows a unique constraint on it refuses).",
    )

    _run_partner_uniq = models.Constraint(
        "UNIQUE (run_id, partner_key)", "A customer appears once in a billing run."
    )

    @api.depends("partner_id")
    def _compute_partner_key(self):
        for line in self:
            line.partner_key = line.partner_id.id

    def _lock_pending(self, ids):
        """The pending lines among ``ids`` that no other transaction holds, locked."""
        if not ids:
            return self.browse()
        self.env.cr.execute(
            """SELECT id FROM rebilling_billing_run_line
                WHERE id = ANY(%s) AND state = 'pending'
                ORDER BY id FOR UPDATE SKIP LOCKED""",
            [list(ids)],
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    def _set_error(self, exc):
        message = getattr(exc, "args", None) and str(exc.args[0]) or repr(exc)
        self.write({"state": "error", "error": message, "date_processed": fields.Datetime.now()})

    def _set_nothing(self):
        self.write({"state": "nothing", "date_processed": fields.Datetime.now()})

    def action_retry(self):
        """Put failed customers back in the queue of their run."""
        failed = self.filtered(lambda line: line.state == "error")
        failed.write({"state": "pending", "error": False})
        for run in failed.run_id:
            if run.state == "done":
                run.state = "running"
            run._enqueue_chunks()
        return True
