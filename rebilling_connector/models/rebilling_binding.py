"""External bindings: which Odoo record is which record of an external system.

One binding per (backend, model, record) and per (backend, model, external id).
A binding also carries the state of the last push (``sync_state``,
``sync_error``), the hash of the payload last pushed (``sync_hash``: an
unchanged record is not pushed again) and free data (``sync_data``).

Helpers for the connectors (model methods):
``_rebilling_map(backend, records)``, ``_rebilling_bind(backend, record, external_id)``,
``_rebilling_set_error(backend, record, message)``, ``_rebilling_external_ids(backend, records)``,
``_rebilling_write_durable(backend, record, values)``.

Exactly-once creates: before a connector asks the external system to create
a record, it commits an *intent* (``sync_state = "sending"`` with the
record's ``sync_marker``) in its own transaction
(:meth:`_rebilling_write_durable`), and commits the answer the same way right
after it came. A worker that dies between the two leaves an intent without
external id: the next push looks the marker up remotely before creating.
"""

from odoo import api, fields, models


class RebillingBinding(models.Model):
    _name = "rebilling.binding"
    _description = "Rebilling External Binding"
    _inherit = ["rebilling.company.mixin"]
    _order = "backend_id, res_model, res_id"
    _rec_name = "external_id"

    backend_id = fields.Many2one("rebilling.backend", required=True, index=True, ondelete="cascade")
    backend_type = fields.Selection(related="backend_id.backend_type", store=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    res_model = fields.Char("Model", required=True, index=True)
    res_id = fields.Many2oneReference("Record ID", model_field="res_model", required=True)
    record_ref = fields.Reference(
        selection="_selection_record_ref", string="Record", compute="_compute_record_ref"
    )
    external_id = fields.Char("External ID", index="btree_not_null", copy=False)
    external_url = fields.Char("External Link", copy=False)
    sync_state = fields.Selection(
        [("sending", "Sending"), ("done", "Synchronised"), ("error", "Error")],
        index=True,
        copy=False,
        help="Sending: a create was asked and its answer is not known yet (looked up by the "
        "marker on the next push).",
    )
    sync_marker = fields.Char(
        "Marker",
        copy=False,
        help="What identifies this record in the external system (looked up before a create).",
    )
    sync_error = fields.Text("Last Error", copy=False)
    sync_hash = fields.Char("Payload Hash", copy=False, help="Hash of the data last pushed.")
    sync_date = fields.Datetime("Last Sync", copy=False)
    sync_data = fields.Json("Extra Data", copy=False)

    _record_uniq = models.Constraint(
        "UNIQUE(backend_id, res_model, res_id)",
        "A record has one binding per backend.",
    )
    _external_uniq = models.UniqueIndex(
        "(backend_id, res_model, external_id) WHERE external_id IS NOT NULL",
        "This external record is already bound to another record of this backend.",
    )

    @api.model
    def _selection_record_ref(self):
        return [(model.model, model.name) for model in self.env["ir.model"].sudo().search([])]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for binding in self:
            if binding.res_model in self.env and binding.res_id:
                binding.record_ref = f"{binding.res_model},{binding.res_id}"
            else:
                binding.record_ref = False

    @api.depends("external_id", "res_model", "res_id")
    def _compute_display_name(self):
        for binding in self:
            binding.display_name = binding.external_id or f"{binding.res_model},{binding.res_id}"

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    def action_push_again(self):
        for backend, bindings in self.grouped("backend_id").items():
            for res_model, group in bindings.grouped("res_model").items():
                backend._rebilling_enqueue_push(self.env[res_model].browse(group.mapped("res_id")))
        return True

    # ------------------------------------------------------------ helpers
    @api.model
    def _rebilling_map(self, backend, records):
        """``{record id: binding}`` of ``records`` on ``backend``."""
        if not records:
            return {}
        bindings = self.search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", records._name),
                ("res_id", "in", records.ids),
            ]
        )
        return {binding.res_id: binding for binding in bindings}

    @api.model
    def _rebilling_external_ids(self, backend, records):
        """``{record id: external id}`` of the bound ``records``."""
        return {
            res_id: binding.external_id
            for res_id, binding in self._rebilling_map(backend, records).items()
            if binding.external_id
        }

    @api.model
    def _rebilling_find(self, backend, res_model, external_ids):
        """``{external id: binding}`` of ``res_model`` on ``backend``."""
        bindings = self.search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", res_model),
                ("external_id", "in", list(external_ids)),
            ]
        )
        return {binding.external_id: binding for binding in bindings}

    @api.model
    def _rebilling_create_binding(self, backend, record, vals):
        """Create the binding of ``record``: written by the sync only (users read them)."""
        binding = self.sudo().create(
            {"backend_id": backend.id, "res_model": record._name, "res_id": record.id, **vals}
        )
        return binding.with_env(self.env)

    @api.model
    def _rebilling_bind(self, backend, record, external_id, binding=None, **values):
        """Create or update the binding of ``record``; return it."""
        vals = {
            "external_id": external_id,
            "sync_state": "done",
            "sync_error": False,
            "sync_date": fields.Datetime.now(),
            **{k: v for k, v in values.items() if v is not None},
        }
        if binding is None:
            binding = self._rebilling_map(backend, record).get(record.id, self)
        if binding:
            binding.sudo().write(vals)
            return binding
        return self._rebilling_create_binding(backend, record, vals)

    @api.model
    def _rebilling_set_error(self, backend, record, message, binding=None):
        """Mark the last push of ``record`` as failed (the binding keeps its external id)."""
        if binding is None:
            binding = self._rebilling_map(backend, record).get(record.id, self)
        vals = {"sync_state": "error", "sync_error": message, "sync_date": fields.Datetime.now()}
        if binding:
            binding.sudo().write(vals)
            return binding
        return self._rebilling_create_binding(backend, record, vals)

    @api.model
    def _rebilling_write_durable(self, backend, record, values):
        """Write the binding of ``record`` in its own committed transaction; return its id.

        Used around the remote call of a create: the intent before, the answer
        right after, so that neither is lost when the caller's transaction
        rolls back or its worker dies. The caller's transaction must not write
        this binding itself (it would wait for this one).
        """
        vals = {"sync_date": fields.Datetime.now(), **values}
        with self.env.registry.cursor() as cr:
            Binding = self.with_env(self.env(cr=cr)).sudo()
            binding = Binding._rebilling_map(
                backend.with_env(Binding.env), record.with_env(Binding.env)
            )
            binding = binding.get(record.id)
            if binding:
                binding.write(vals)
            else:
                binding = Binding.create(
                    {
                        "backend_id": backend.id,
                        "res_model": record._name,
                        "res_id": record.id,
                        **vals,
                    }
                )
            binding_id = binding.id
        self.env["rebilling.binding"].invalidate_model()
        return binding_id
