"""Month end: what the connectors would spoil (pushes that failed, customers with PSA
contracts but no PSA company mapped), added to rebilling_base's readiness checks."""

from odoo import models


class RebillingMonthEnd(models.TransientModel):
    _inherit = "rebilling.month.end"

    def _rebilling_readiness_checks(self):
        checks = super()._rebilling_readiness_checks()
        checks.append(self._rebilling_check_push_errors())
        checks.extend(self._rebilling_check_psa_mapping())
        return checks

    def _rebilling_check_push_errors(self):
        """Last month's invoices whose push failed: to Xero (the invoice's binding) or to
        a PSA (the binding of one of its lines)."""
        Binding = self.env["rebilling.binding"]
        failed = Binding.search(
            [
                ("company_id", "=", self.company_id.id),
                ("res_model", "in", ("account.move", "account.move.line")),
                ("sync_state", "=", "error"),
            ]
        )
        move_ids = set()
        for res_model, bindings in failed.grouped("res_model").items():
            records = self.env[res_model].browse(bindings.mapped("res_id")).exists()
            move_ids.update(records.ids if res_model == "account.move" else records.move_id.ids)
        domain = [*self._rebilling_last_month_moves_domain(), ("id", "in", sorted(move_ids))]
        [(count, amount)] = self.env["account.move"]._read_group(
            domain, [], ["__count", "amount_total_signed:sum"]
        )
        return {
            "code": "push_error",
            "severity": "spoil",
            "name": self.env._("Invoices of last month whose push to Xero or a PSA failed"),
            "count": count,
            "amount": amount or 0.0,
            "res_model": "account.move",
            "domain": domain,
        }

    def _rebilling_check_psa_mapping(self):
        """Customers to be billed with a service or charge on a PSA contract but no PSA
        company mapped: their lines would fail at the push."""
        Backend = self.env["rebilling.backend"]
        customers = self._rebilling_billable_customers()
        checks = []
        for backend_type in Backend._psa_types():
            backend = Backend._psa_backend(self.company_id, backend_type)
            if backend.state != "connected":
                continue
            contract_field = backend._psa_contract_field()
            partner_field = backend._psa_partner_field()
            with_contract = set()
            for model in ("rebilling.service", "rebilling.charge"):
                if contract_field in self.env[model]._fields:
                    with_contract.update(
                        partner.id
                        for [partner] in self.env[model]._read_group(
                            [
                                ("partner_id", "in", customers.ids),
                                (contract_field, "!=", False),
                            ],
                            ["partner_id"],
                        )
                    )
            unmapped = customers.browse(sorted(with_contract)).filtered(
                lambda p, field=partner_field: not (p[field] or p.commercial_partner_id[field])
            )
            checks.append(
                {
                    "code": f"psa_mapping_{backend_type}",
                    "severity": "spoil",
                    "name": self.env._(
                        "Customers with %(system)s contracts but no %(system)s company mapped",
                        system=backend._psa_label(),
                    ),
                    "count": len(unmapped),
                    "res_model": "res.partner",
                    "domain": [("id", "in", unmapped.ids)],
                }
            )
        return checks
