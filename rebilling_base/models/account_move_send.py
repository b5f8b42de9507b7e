import functools
import subprocess

from odoo import api, models
from odoo.tools.misc import find_in_path

from .account_move import SENDER_NOT_VERIFIED


@functools.cache
def wkhtmltopdf_renders_batches():
    """Only wkhtmltopdf built with patched Qt renders several documents in one call.

    Debian's package is not: Odoo then refuses a batch ("unpatched QT").
    """
    try:
        out = subprocess.run(
            [find_in_path("wkhtmltopdf"), "--version"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return False
    return "with patched qt" in out.lower()


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _prepare_invoice_pdf_report(self, invoices_data):
        """Render invoice PDFs one by one where wkhtmltopdf cannot do batches."""
        if len(invoices_data) <= 1 or wkhtmltopdf_renders_batches():
            return super()._prepare_invoice_pdf_report(invoices_data)
        for invoice, invoice_data in invoices_data.items():
            super()._prepare_invoice_pdf_report({invoice: invoice_data})
        return None

    @api.model
    def _hook_invoice_document_before_pdf_report_render(self, invoice, invoice_data):
        """A rebilling invoice is emailed only from a confirmed sender address, by any path."""
        res = super()._hook_invoice_document_before_pdf_report_render(invoice, invoice_data)
        if (
            invoice.rebilling_period
            and "email" in (invoice_data.get("sending_methods") or ())
            and not invoice.company_id.rebilling_sender_confirmed
            and not invoice_data.get("error")
        ):
            invoice_data["error"] = {
                "error_title": self.env._(
                    "%(invoice)s: %(reason)s. Confirm %(sender)s with the link of the "
                    "confirmation email first.",
                    invoice=invoice.display_name,
                    reason=SENDER_NOT_VERIFIED,
                    sender=invoice.company_id.rebilling_sender_email or "",
                ),
            }
        return res

    @api.model
    def _hook_if_errors(self, moves_data, allow_raising=True):
        """Keep the reason of a failed send on rebilling invoices (shown in the summary)."""
        for move, move_data in moves_data.items():
            if move.rebilling_period and move_data.get("error"):
                move.rebilling_send_error = self._format_error_text(move_data["error"])[:500]
        return super()._hook_if_errors(moves_data, allow_raising=allow_raising)

    @api.model
    def _link_invoice_documents(self, invoices_data):
        """The send records the invoice as sent (``is_move_sent``): with sudo, as the send state
        of rebilling invoices changes only by sending (``SEND_RECORD_FIELDS``)."""
        return super()._link_invoice_documents(
            {invoice.sudo(): data for invoice, data in invoices_data.items()}
        )

    @api.model
    def _get_mail_params(self, move, move_data):
        """A send job gives the email its Message-ID (the same on every attempt)."""
        params = super()._get_mail_params(move, move_data)
        message_id = self.env.context.get("rebilling_message_id")
        if params and message_id and move.rebilling_period:
            params["message_id"] = message_id
        return params
