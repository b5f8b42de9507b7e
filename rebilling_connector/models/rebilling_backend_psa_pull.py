"""Pulls from a PSA: the external records, and companies suggested to customers.

Pulled records are ``rebilling.external.record`` (:meth:`_psa_store`): created or
updated, archived when the PSA no longer gives them. Each unmapped customer gets
a pulled company suggested by name (:meth:`_psa_suggest_companies`), which the
user confirms or rejects (:meth:`_psa_confirm_companies`,
:meth:`_psa_reject_suggestions`).
"""

from odoo import api, fields, models
from odoo.exceptions import UserError


def normalized_name(name):
    """``name`` folded for comparison: case and spaces do not count."""
    return " ".join((name or "").casefold().split())


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    external_record_ids = fields.One2many(
        "rebilling.external.record", "backend_id", "External Records"
    )

    @staticmethod
    def _psa_date(value):
        if not value:
            return False
        return fields.Date.to_date(str(value)[:10])

    def _psa_records(self, kind, active_test=True):
        return (
            self.env["rebilling.external.record"]
            .with_context(active_test=active_test)
            .search([("backend_id", "=", self.id), ("kind", "=", kind)])
        )

    def _psa_store(self, kind, items, values):
        """Create or update the records of ``kind`` from ``items``; archive the missing ones."""
        self.ensure_one()
        Record = self.env["rebilling.external.record"].with_context(active_test=False)
        existing = {r.external_id: r for r in self._psa_records(kind, active_test=False)}
        seen = set()
        to_create = []
        for item in items:
            external_id = int(item["id"])
            seen.add(external_id)
            vals = values(item)
            record = existing.get(external_id)
            if record:
                changes = {
                    k: v
                    for k, v in vals.items()
                    if (record[k].id if isinstance(record[k], models.BaseModel) else record[k]) != v
                }
                if changes:
                    record.write(changes)
            else:
                to_create.append(dict(vals, backend_id=self.id, kind=kind, external_id=external_id))
        Record.create(to_create)
        missing = [r.id for ext, r in existing.items() if ext not in seen and r.active]
        Record.browse(missing).write({"active": False})
        return len(items)

    def _psa_companies_by_id(self):
        """``{external id: record id}`` of the pulled companies (archived included)."""
        return {r.external_id: r.id for r in self._psa_records("company", active_test=False)}

    def _psa_suggest_companies(self):
        """Suggest a pulled company for each unmapped customer with the same name."""
        self.ensure_one()
        by_name = {}
        for company in self._psa_records("company"):
            by_name.setdefault(normalized_name(company.name), company)
        partners = self.env["res.partner"].search(
            [
                ("rebilling_enabled", "=", True),
                (self._psa_partner_field(), "=", False),
                ("company_id", "in", [False, self.company_id.id]),
            ]
        )
        count = 0
        for partner in partners:
            key = normalized_name(partner.name)
            match = by_name.get(key) or next(
                (c for name, c in by_name.items() if key and (key in name or name in key)),
                False,
            )
            suggested = self._psa_suggested_field()
            if match and partner[suggested] != match:
                partner[suggested] = match
            count += bool(match)
        return count

    def _psa_pulled_companies(self, items, values):
        """Store the companies and suggest them; the text of the sync log."""
        count = self._psa_store("company", items, values)
        suggested = self._psa_suggest_companies()
        return self.env._(
            "%(count)s companies, %(suggested)s mapping suggestion(s)",
            count=count,
            suggested=suggested,
        )

    def action_psa_pull(self):
        """Pull everything the PSA gives (companies, contracts, products...) now."""
        self.ensure_one()
        self._rebilling_check_manage()
        self._psa_check_connected()
        messages = [self._rebilling_pull(what) for what in self._psa_pulls()]
        return self._rebilling_notify(
            self.env._(
                "Pulled from %(system)s: %(done)s.",
                system=self._psa_label(),
                done="; ".join(m for m in messages if m),
            ),
            "success",
        )

    def action_psa_view_records(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(self._psa_records_action())
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    @api.model
    def _psa_confirm_companies(self, partners, backend_type):
        """Map each of ``partners`` to its suggested company of the PSA ``backend_type``."""
        partners._rebilling_check_user()
        psa = self._psa_of_type(backend_type)
        suggested, mapped = psa._psa_suggested_field(), psa._psa_partner_field()
        todo = partners.filtered(suggested)
        if not todo:
            raise UserError(self.env._("There is no suggestion to confirm."))
        for partner in todo:
            partner.write({mapped: partner[suggested].id, suggested: False})
        return True

    @api.model
    def _psa_reject_suggestions(self, partners, backend_type):
        partners._rebilling_check_user()
        partners.write({self._psa_of_type(backend_type)._psa_suggested_field(): False})
        return True
