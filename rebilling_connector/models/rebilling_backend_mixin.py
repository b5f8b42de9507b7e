"""Mixin of business records synchronised with rebilling backends.

A connector inherits it on the models it pushes (``account.move``,
``res.partner``...)::

    class AccountMove(models.Model):
        _name = "account.move"
        _inherit = ["account.move", "rebilling.backend.mixin"]

It gives ``rebilling_binding_ids`` and two override points called by the push
machinery: ``_rebilling_sync_done(backend, binding)`` and
``_rebilling_sync_failed(backend, message)`` (posts the error in the chatter of
records that have one).
"""

from odoo import fields, models


class RebillingBackendMixin(models.AbstractModel):
    _name = "rebilling.backend.mixin"
    _description = "Rebilling Synchronised Record"

    rebilling_binding_ids = fields.One2many(
        "rebilling.binding",
        "res_id",
        "External Bindings",
        domain=lambda self: [("res_model", "=", self._name)],
        copy=False,
    )

    def _rebilling_binding(self, backend):
        """The binding of this record on ``backend`` (empty when none)."""
        self.ensure_one()
        binding = self.env["rebilling.binding"]._rebilling_map(backend, self)
        return binding.get(self.id, self.env["rebilling.binding"])

    def _rebilling_sync_done(self, backend, binding):
        """Override point: the record was pushed to ``backend``."""
        return True

    def _rebilling_sync_failed(self, backend, message):
        """Override point: pushing the record to ``backend`` failed with ``message``."""
        if hasattr(self, "message_post"):
            for record in self:
                record.message_post(
                    body=self.env._(
                        "Push to %(backend)s failed: %(error)s",
                        backend=backend.display_name,
                        error=message,
                    )
                )
        return True
