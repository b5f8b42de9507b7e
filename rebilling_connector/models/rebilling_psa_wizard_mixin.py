from odoo import api, fields, models


class RebillingPsaWizardMixin(models.AbstractModel):
    """The small forms creating a record in a PSA from the service form.

    A wizard sets ``_psa_backend_type``, fills its own fields and calls
    :meth:`_psa_created` once the PSA answered.
    """

    _name = "rebilling.psa.wizard.mixin"
    _description = "PSA Creation Form"
    _psa_backend_type = None

    service_id = fields.Many2one("rebilling.service", required=True, ondelete="cascade")
    backend_id = fields.Many2one(
        "rebilling.backend", compute="_compute_backend_id", store=True, readonly=True
    )

    @api.depends("service_id")
    def _compute_backend_id(self):
        Backend = self.env["rebilling.backend"]
        for wizard in self:
            company = wizard.service_id.company_id
            wizard.backend_id = Backend._psa_backend(company, self._psa_backend_type)

    def _psa_backend_of_service(self):
        """The connected backend of the service's company; UserError if none."""
        return self.service_id._rebilling_psa_backend_of(self._psa_backend_type)

    def _psa_created(self, backend, kind, external_id, values, service_field, path, message):
        """Keep the created record, link it to the service and log it; close the form."""
        record = self.env["rebilling.external.record"].create(
            dict(values, backend_id=backend.id, kind=kind, external_id=external_id)
        )
        self.service_id[service_field] = record
        backend._rebilling_log(
            "push", path, "done", self.service_id, external_id=str(external_id), message=message
        )
        return {"type": "ir.actions.act_window_close"}
