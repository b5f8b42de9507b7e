from odoo import models
from odoo.http import request


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _frontend_pre_dispatch(cls):
        """A logged-in contact reads the portal in their own language (dates and amounts
        as in their invoices), not in the language a cookie kept from the login page.

        Only without the website module: there, the visitor's language selector decides.
        """
        if request.session.uid and "website" not in request.env:
            user = request.env.user
            lang = user.lang and request.env["res.lang"]._get_data(code=user.lang)
            if lang and lang.code and not user._is_public():
                request.lang = lang
        return super()._frontend_pre_dispatch()
