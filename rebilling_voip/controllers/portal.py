from odoo import http
from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.exceptions import AccessError, MissingError
from odoo.http import content_disposition, request

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RebillingCallListPortal(CustomerPortal):
    @http.route(
        "/my/invoices/<int:invoice_id>/calls",
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
        sitemap=False,
    )
    def portal_my_invoice_calls(self, invoice_id, access_token=None, **kw):
        """The itemized call list (XLSX) of an invoice its customer may see."""
        try:
            invoice_sudo = self._document_check_access("account.move", invoice_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        if not invoice_sudo.rebilling_call_count:
            return request.not_found()
        content = invoice_sudo._rebilling_call_list_xlsx()
        headers = [
            ("Content-Type", XLSX_MIMETYPE),
            ("Content-Length", len(content)),
            ("Content-Disposition", content_disposition(invoice_sudo._rebilling_call_list_name())),
        ]
        return request.make_response(content, headers)
