from odoo import api, fields, models
from odoo.exceptions import UserError


class RebillingAutotaskContractWizard(models.TransientModel):
    """Create a contract in Autotask from the service form (name, start, end)."""

    _name = "rebilling.autotask.contract.wizard"
    _inherit = "rebilling.psa.wizard.mixin"
    _description = "Create an Autotask Contract"
    _psa_backend_type = "autotask"

    autotask_company_id = fields.Many2one(
        "rebilling.external.record",
        compute="_compute_autotask_company_id",
        store=True,
        readonly=False,
        domain="[('kind', '=', 'company'), ('backend_id', '=', backend_id)]",
    )
    name = fields.Char(
        "Contract Name", compute="_compute_name", store=True, readonly=False, required=True
    )
    date_start = fields.Date("Start Date", required=True, default=fields.Date.context_today)
    date_end = fields.Date("End Date", required=True)

    @api.depends("service_id")
    def _compute_autotask_company_id(self):
        for wizard in self:
            wizard.autotask_company_id = wizard.service_id.partner_id.rebilling_autotask_company_id

    @api.depends("service_id")
    def _compute_name(self):
        for wizard in self:
            if not wizard.name and wizard.service_id:
                wizard.name = f"{wizard.service_id.partner_id.name} - {wizard.service_id.name}"

    def action_create(self):
        self.ensure_one()
        backend = self._psa_backend_of_service()
        if not self.autotask_company_id:
            raise UserError(
                self.env._(
                    "Map %s to an Autotask company first: a contract belongs to a company.",
                    self.service_id.partner_id.name,
                )
            )
        if self.date_end < self.date_start:
            raise UserError(self.env._("The end date is before the start date."))
        contract_type = backend._autotask_picklist_value(
            "Contracts", "contractType", "Recurring Service", 7
        )
        external_id = backend._autotask_create(
            "Contracts",
            {
                "contractName": self.name,
                "companyID": self.autotask_company_id.external_id,
                "contractType": contract_type,
                "status": 1,
                "startDate": f"{self.date_start.isoformat()}T00:00:00",
                "endDate": f"{self.date_end.isoformat()}T00:00:00",
                "timeReportingRequiresStartAndStopTimes": 0,
            },
            # A contract of this company with this name is the one an earlier click created.
            filters=[
                {"op": "eq", "field": "companyID", "value": self.autotask_company_id.external_id},
                {"op": "eq", "field": "contractName", "value": self.name},
            ],
        )
        return self._psa_created(
            backend,
            "contract",
            external_id,
            {
                "name": self.name,
                "parent_id": self.autotask_company_id.id,
                "date_start": self.date_start,
                "date_end": self.date_end,
            },
            "autotask_contract_id",
            "Contracts",
            self.env._("Contract %s created.", self.name),
        )
