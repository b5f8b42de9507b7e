import re

from odoo import api, models
from odoo.http import request
from odoo.tools import consteq

# Links to an invoice: the portal page, Odoo's "View" link of the email, the backend.
INVOICE_LINK = re.compile(
    r"/my/invoices/(?P<id>\d+)|[?&]model=account\.move&res_id=(?P<rid>\d+)"
    r"|/odoo/account\.move/(?P<oid>\d+)"
)
ACCESS_TOKEN = re.compile(r"[?&]access_token=([\w-]+)")


class ResCompany(models.Model):
    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _rebilling_visitor_company(self):
        """The company whose brand a visitor who is not logged in sees (login and
        password reset pages, pages opened with an invoice's link), else empty.

        In order: the company of the invoice of the link being followed (the page's
        own URL or the ``redirect`` of the login page, with the invoice's access
        token), the company of the system parameter ``rebilling.portal_company_id``,
        the one company with a rebilling name. Extend for other ways to know the
        reseller (e.g. the host name).
        """
        if not request:
            return self.browse()
        Company = self.sudo()
        query = request.httprequest.query_string.decode(errors="replace")
        for url in (f"{request.httprequest.path}?{query}", request.params.get("redirect") or ""):
            company = Company._rebilling_company_of_link(url)
            if company:
                return company
        param = self.env["ir.config_parameter"].sudo().get_param("rebilling.portal_company_id")
        if param and param.isdigit():
            company = Company.browse(int(param)).exists()
            if company:
                return company
        named = Company.search([("rebilling_company_name", "!=", False)], limit=2)
        return named if len(named) == 1 else self.browse()

    @api.model
    def _rebilling_company_of_link(self, url):
        """The company of the invoice a link points to, if the link carries its token."""
        match = INVOICE_LINK.search(url or "")
        token = ACCESS_TOKEN.search(url or "")
        if not match or not token:
            return self.browse()
        move_id = int(match["id"] or match["rid"] or match["oid"])
        move = self.env["account.move"].sudo().browse(move_id).exists()
        if move and move.access_token and consteq(move.access_token, token[1]):
            return move.company_id
        return self.browse()
