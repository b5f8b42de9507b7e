from odoo import models
from odoo.http import request


class IrQweb(models.AbstractModel):
    _inherit = "ir.qweb"

    def _prepare_environment(self, values):
        """Pages shown to a visitor who is not logged in (login, password reset, an
        invoice opened by its link) carry the reseller's brand, not the first
        company's: ``res_company`` is the visitor's company when it is known."""
        if (
            request
            and "res_company" not in values
            and not self.env.context.get("minimal_qcontext")
            and not request.session.uid
        ):
            company = self.env["res.company"]._rebilling_visitor_company()
            if company:
                values["res_company"] = company.sudo()
        return super()._prepare_environment(values)
