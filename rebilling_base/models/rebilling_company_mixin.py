"""Records of a company: a write never takes them out of the user's companies.

Odoo checks the record rules of a write on the values a record has *before*
the write (and those of a create on the created record): a user could move
their own record into a company they do not work in by writing its
``company_id`` (or the record its company is related to). Every rebilling
model with a ``company_id`` inherits this mixin::

    class RebillingCharge(models.Model):
        _name = "rebilling.charge"
        _inherit = ["mail.thread", "rebilling.company.mixin"]

Superuser writes (crons, controlled ``sudo()`` paths) are not checked.
"""

from odoo import api, models
from odoo.exceptions import AccessError


class RebillingCompanyMixin(models.AbstractModel):
    _name = "rebilling.company.mixin"
    _description = "Rebilling Record of a Company"

    def write(self, vals):
        res = super().write(vals)
        if not self.env.su and self._rebilling_company_fnames() & set(vals):
            self._rebilling_check_company_write()
        return res

    @api.model
    def _rebilling_company_fnames(self):
        """Fields whose write can change the record's company: ``company_id`` and, when it is
        related (``backend_id.company_id``), the first field of its path."""
        field = self._fields["company_id"]
        names = {"company_id"}
        if field.related:
            names.add(field.related.split(".")[0])
        return names

    def _rebilling_check_company_write(self):
        """Raise unless the written records stay in the user's companies.

        Then the write record rules are checked again on the new values, in
        every company of the user (e.g. a shared, company-less record is written
        by system administrators only). Extend for a model's own checks.
        """
        allowed = self.env.user.company_ids
        outside = self.filtered(lambda r: r.company_id and r.company_id not in allowed)
        if outside:
            names = [r.display_name or f"{r._description} {r.id}" for r in outside]
            raise AccessError(
                self.env._(
                    "%(records)s cannot be moved to %(company)s: you do not work in that company.",
                    records=", ".join(names),
                    company=", ".join(outside.company_id.sudo().mapped("name")),
                )
            )
        self.with_context(allowed_company_ids=allowed.ids).check_access("write")
