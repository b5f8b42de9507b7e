from odoo import api, fields, models
from odoo.exceptions import UserError

XERO_STATES = [("todo", "Not uploaded"), ("done", "Uploaded"), ("error", "Upload failed")]


class AccountMove(models.Model):
    _name = "account.move"
    _inherit = ["account.move", "rebilling.backend.mixin"]

    rebilling_xero_state = fields.Selection(
        XERO_STATES,
        "Xero",
        compute="_compute_rebilling_xero",
        search="_search_rebilling_xero_state",
    )
    rebilling_xero_error = fields.Text("Xero Error", compute="_compute_rebilling_xero")
    rebilling_xero_invoice_id = fields.Char("Xero InvoiceID", compute="_compute_rebilling_xero")
    rebilling_xero_url = fields.Char("Xero Link", compute="_compute_rebilling_xero")
    rebilling_xero_can_upload = fields.Boolean(compute="_compute_rebilling_xero")

    def _rebilling_xero_bindings(self):
        bindings = self.env["rebilling.binding"].search(
            [
                ("backend_type", "=", "xero"),
                ("res_model", "=", self._name),
                ("res_id", "in", self.ids),
            ]
        )
        return {binding.res_id: binding for binding in bindings}

    @api.depends("state", "move_type", "rebilling_binding_ids.sync_state")
    def _compute_rebilling_xero(self):
        bindings = self._rebilling_xero_bindings()
        backends = {}
        for move in self:
            company = move.company_id
            if company not in backends:
                backends[company] = self.env["rebilling.backend"]._xero_backend(company)
            binding = bindings.get(move.id)
            if binding and binding.sync_state == "error":
                move.rebilling_xero_state = "error"
            elif binding and binding.external_id:
                move.rebilling_xero_state = "done"
            else:
                move.rebilling_xero_state = "todo"
            move.rebilling_xero_error = binding.sync_error if binding else False
            move.rebilling_xero_invoice_id = binding.external_id if binding else False
            move.rebilling_xero_url = binding.external_url if binding else False
            move.rebilling_xero_can_upload = (
                backends[company].state == "connected"
                and move.move_type in ("out_invoice", "out_refund")
                and move.state == "posted"
                and move.rebilling_xero_state != "done"
                and (move.move_type == "out_refund" or move._rebilling_xero_of_past_month())
            )

    def _rebilling_xero_of_past_month(self):
        """Whether the invoice is dated before the current month (company time zone).

        Those of the current month go to Xero automatically when the month rolls
        over (the billing run); only older ones are uploaded by hand.
        """
        self.ensure_one()
        day = self.invoice_date or self.date
        today = self.company_id._rebilling_local_now().date()
        return bool(day) and day < today.replace(day=1)

    def _search_rebilling_xero_state(self, operator, value):
        if operator not in ("=", "!=", "in", "not in"):
            raise UserError(self.env._("Unsupported search on the Xero state."))
        values = [value] if isinstance(value, str) else list(value or [])
        if operator in ("!=", "not in"):
            values = [v for v, _label in XERO_STATES if v not in values]
        bindings = self.env["rebilling.binding"].search(
            [("backend_type", "=", "xero"), ("res_model", "=", self._name)]
        )
        ids = {"done": set(), "error": set()}
        for binding in bindings:
            if binding.sync_state == "error":
                ids["error"].add(binding.res_id)
            elif binding.external_id:
                ids["done"].add(binding.res_id)
        wanted = set()
        for state in ("done", "error"):
            if state in values:
                wanted |= ids[state]
        if "todo" in values:
            excluded = (ids["done"] | ids["error"]) - wanted
            return [("id", "not in", list(excluded))]
        return [("id", "in", list(wanted))]

    # ------------------------------------------------------------ actions
    def _rebilling_xero_backend_of(self):
        companies = self.company_id
        if len(companies) != 1:
            raise UserError(self.env._("Upload the invoices of one company at a time."))
        backend = self.env["rebilling.backend"]._xero_backend(companies)
        if backend.state != "connected":
            raise UserError(
                self.env._("%s is not connected to Xero: authenticate first.", companies.name)
            )
        return backend

    def write(self, vals):
        res = super().write(vals)
        if self._rebilling_external_trigger_fields() & set(vals):
            self._rebilling_xero_push_credit_notes()
        return res

    def _rebilling_xero_push_credit_notes(self):
        """Credit notes go to Xero once posted (ready), whatever their month: the
        month's invoices are already there (the billing run pushed them)."""
        refunds = self.filtered(lambda m: m.move_type == "out_refund")._rebilling_external_ready()
        for company, moves in refunds.grouped("company_id").items():
            backend = self.env["rebilling.backend"].sudo()._xero_backend(company)
            if backend.state == "connected" and backend.auto_push:
                backend._rebilling_enqueue_push(moves)

    def _rebilling_released(self):
        """Invoices released from review go to Xero like those of a new run."""
        res = super()._rebilling_released()
        moves = self._rebilling_external_ready()
        for company, company_moves in moves.grouped("company_id").items():
            backend = self.env["rebilling.backend"].sudo()._xero_backend(company)
            if backend.state == "connected" and backend.auto_push:
                backend._rebilling_enqueue_push(company_moves)
        return res

    def action_rebilling_xero_upload(self):
        """Upload the invoices to Xero: a batch now, more in the background."""
        moves = self._rebilling_external_ready()
        if not moves:
            raise UserError(
                self.env._("Select posted customer invoices or credit notes to upload to Xero.")
            )
        current = moves.filtered(
            lambda m: m.move_type == "out_invoice" and not m._rebilling_xero_of_past_month()
        )
        if current:
            raise UserError(
                self.env._(
                    "%(names)s: invoices of the current month go to Xero automatically when "
                    "the month rolls over; only those of a prior month are uploaded by hand.",
                    names=", ".join(current[:5].mapped("name")),
                )
            )
        return moves._rebilling_xero_backend_of()._rebilling_push_now_or_later(moves)

    def action_rebilling_xero_open(self):
        """Open the invoice in Xero."""
        self.ensure_one()
        if not self.rebilling_xero_url:
            raise UserError(self.env._("This invoice is not in Xero yet."))
        return {"type": "ir.actions.act_url", "url": self.rebilling_xero_url, "target": "new"}

    def action_rebilling_xero_online_invoice(self):
        """Open Xero's online invoice (the page a customer sees)."""
        self.ensure_one()
        binding = self._rebilling_xero_bindings().get(self.id)
        if not binding or not binding.external_id:
            raise UserError(self.env._("This invoice is not in Xero yet."))
        url = (binding.sync_data or {}).get("online_url")
        if not url:
            url = binding.backend_id._xero_online_invoice_url(binding.external_id)
            if not url:
                raise UserError(self.env._("Xero has no online invoice for this invoice."))
            binding.sudo().sync_data = dict(binding.sync_data or {}, online_url=url)
        return {"type": "ir.actions.act_url", "url": url, "target": "new"}
