import csv
import io
import zipfile
from decimal import Decimal

import xlsxwriter

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.rebilling_billing_run import month_bounds

# The columns of Xero's sales-invoice import template (SalesInvoiceTemplate.csv,
# Business > Invoices > Import > "Download template"), in its order. Xero's guide
# ("Import customer invoices", Xero Central; restated in the Xero guide at
# https://online.flippingbook.com/view/399081/31/) documents the starred columns,
# DD/MM/YYYY dates, "The Total and Tax Amount columns will be calculated
# automatically" (we fill them for the reader; Xero recomputes them) and at most
# 500 invoices per file. The same header appears in many public exporters.
XERO_COLUMNS = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "Total",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
]
# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value):
    """A text cell that no spreadsheet runs as a formula: a leading = + - @ (or tab,
    carriage return) gets a leading apostrophe, as OWASP recommends."""
    text = "" if value is None or value is False else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


XERO_MAX_INVOICES = 500


def exact(value):
    """A number as written by hand: every digit it holds, no exponent and no trailing
    zeros (1234567 -> "1234567", 1234.5678 -> "1234.5678", 0.0000001 -> "0.0000001")."""
    text = format(Decimal(repr(float(value or 0.0))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class RebillingExportWizard(models.TransientModel):
    """Download a month of rebilling invoices: Xero sales-invoice CSV or XLSX summary."""

    _name = "rebilling.export.wizard"
    _description = "Rebilling Invoice Export"
    _inherit = ["rebilling.company.mixin"]

    month = fields.Date(
        default=lambda self: fields.Date.context_today(self).replace(day=1),
        help="Any day of the month to export.",
    )
    export_type = fields.Selection(
        [("xero_csv", "Xero CSV"), ("xlsx", "Summary (XLSX)")],
        default="xero_csv",
        required=True,
    )
    move_ids = fields.Many2many("account.move", string="Invoices")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)

    held_count = fields.Integer(
        "Held for review",
        compute="_compute_held_count",
        help="Invoices of the month still under review (or rejected, waiting for their "
        "reissue): the export leaves them out until they are approved.",
    )

    @api.depends("month", "move_ids", "company_id")
    def _compute_held_count(self):
        for wizard in self:
            if wizard.move_ids or wizard.month:
                moves = wizard._get_moves(exportable_only=False)
                wizard.held_count = len(moves - wizard._exportable(moves))
            else:
                wizard.held_count = 0

    @api.model
    def _exportable(self, moves):
        """Override point: the documents of ``moves`` that an export includes. Invoices
        held for review (``rebilling_review``: under review or rejected) are left out:
        they may still change."""
        invoices = moves.filtered(lambda m: m.move_type == "out_invoice")
        return moves - (invoices - invoices._rebilling_external_ready())

    def _get_moves(self, exportable_only=True):
        self.ensure_one()
        moves = self._get_posted_moves()
        return self._exportable(moves) if exportable_only else moves

    def _get_posted_moves(self):
        self.ensure_one()
        if self.move_ids:
            return self.move_ids.filtered(lambda m: m.rebilling_period and m.state == "posted")
        if not self.month:
            raise UserError(self.env._("Choose the month to export."))
        first, last = month_bounds(self.month)
        return self.env["account.move"].search(
            [
                ("company_id", "=", self.company_id.id),
                ("rebilling_period", ">=", first),
                ("rebilling_period", "<=", last),
                ("state", "=", "posted"),
            ],
            order="name",
        )

    def action_export(self):
        self.ensure_one()
        moves = self._get_moves()
        if not moves:
            if self.held_count:
                raise UserError(
                    self.env._(
                        "Nothing to export: %s invoices held for review (approve them first).",
                        self.held_count,
                    )
                )
            raise UserError(self.env._("There are no posted rebilling invoices to export."))
        stamp = (self.month or moves[0].rebilling_period).strftime("%Y-%m")
        if self.export_type == "xlsx":
            content = self._summary_xlsx(moves)
            name = f"rebilling-summary-{stamp}.xlsx"
        else:
            per_file = self.env.context.get("rebilling_xero_per_file", XERO_MAX_INVOICES)
            files = self._xero_csv_files(moves, per_file=per_file)
            if len(files) == 1:
                content, name = files[0], f"xero-invoices-{stamp}.csv"
            else:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                    for i, data in enumerate(files, start=1):
                        zf.writestr(f"xero-invoices-{stamp}-{i:02d}.csv", data)
                content, name = buf.getvalue(), f"xero-invoices-{stamp}.zip"
        attachment = self.env["ir.attachment"].create(
            {
                "name": name,
                "raw": content,
                "res_model": self._name,
                "res_id": self.id,
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }

    # ------------------------------------------------------------ Xero CSV
    @api.model
    def _xero_tax_type(self, line):
        """Xero's tax-rate display name for ``line`` (override point)."""
        taxes = line.tax_ids
        if not taxes:
            return "BAS Excluded"
        if all(tax.amount == 0 for tax in taxes):
            return "GST Free Income"
        return "GST on Income"

    @api.model
    def _xero_account_code(self, line):
        return (
            line.product_id.product_tmpl_id.rebilling_xero_account_code
            or line.move_id.company_id.rebilling_xero_account_code
            or ""
        )

    def _xero_rows(self, move):
        """The CSV rows of ``move``: one per invoice line, in XERO_COLUMNS order.

        A credit note is exported as a negative invoice (quantities, taxes and
        total negated; assumed from Xero's import, which files an invoice with a
        negative total as a credit note). Every text cell goes through
        ``safe_text``; numbers are written by us, never taken from user text, and
        exactly (``exact``). TaxAmount is each line's GST as on the invoice (rebilling
        companies round it per line, as Xero does), so the lines and their
        TaxAmount add up to Total.
        """
        partner = move.partner_id
        sign = -1 if move.move_type == "out_refund" else 1
        head = [
            safe_text(partner.name),
            safe_text(partner.rebilling_invoice_email or partner.email),
            safe_text(partner.street),
            safe_text(partner.street2),
            "",
            "",
            safe_text(partner.city),
            safe_text(partner.state_id.code),
            safe_text(partner.zip),
            safe_text(partner.country_id.name),
            safe_text(move.name),
            safe_text(move.ref or (move.reversed_entry_id.name if sign < 0 else "")),
            move.invoice_date.strftime("%d/%m/%Y"),
            (move.invoice_date_due or move.invoice_date).strftime("%d/%m/%Y"),
            f"{sign * move.amount_total:.2f}",
        ]
        line_taxes = move._rebilling_line_taxes()
        for line in move.invoice_line_ids.filtered(lambda ln: ln.display_type == "product"):
            yield head + [
                safe_text(line.product_id.default_code),
                safe_text(line.name),
                exact(sign * line.quantity),
                exact(line.price_unit),
                exact(line.discount) if line.discount else "",
                safe_text(self._xero_account_code(line)),
                safe_text(self._xero_tax_type(line)),
                f"{sign * line_taxes.get(line.id, 0.0):.2f}",
                "",
                "",
                "",
                "",
                safe_text(move.currency_id.name),
                "",
            ]

    def _xero_csv_files(self, moves, per_file=XERO_MAX_INVOICES):
        """One CSV per ``per_file`` invoices (Xero imports at most 500 per file)."""
        files = []
        for start in range(0, len(moves), per_file):
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\r\n")
            writer.writerow(XERO_COLUMNS)
            for move in moves[start : start + per_file]:
                writer.writerows(self._xero_rows(move))
            files.append(buf.getvalue().encode("utf-8"))
        return files

    # ------------------------------------------------------------ XLSX summary
    def _summary_xlsx(self, moves):
        buf = io.BytesIO()
        book = xlsxwriter.Workbook(buf, {"in_memory": True})
        sheet = book.add_worksheet("Invoices")
        bold = book.add_format({"bold": True})
        money = book.add_format({"num_format": "#,##0.00"})
        headers = [
            "Invoice",
            "Customer",
            "Invoice date",
            "Due date",
            "Services",
            "Untaxed",
            "Total",
            "Sending",
            "Error",
        ]
        sheet.write_row(0, 0, headers, bold)
        states = dict(self.env["account.move"]._fields["rebilling_send_state"].selection)
        for row, move in enumerate(moves, start=1):
            sign = -1 if move.move_type == "out_refund" else 1
            texts = [
                move.name,
                move.partner_id.name,
                fields.Date.to_string(move.invoice_date),
                fields.Date.to_string(move.invoice_date_due),
                move.rebilling_service_summary,
            ]
            for col, text in enumerate(texts):
                # Text is written as text (never parsed as a formula or a number).
                sheet.write_string(row, col, safe_text(text))
            sheet.write_number(row, 5, sign * move.amount_untaxed, money)
            sheet.write_number(row, 6, sign * move.amount_total, money)
            sheet.write_string(row, 7, safe_text(states.get(move.rebilling_send_state, "")))
            sheet.write_string(row, 8, safe_text(move.rebilling_send_error))
        total_row = len(moves) + 1
        sheet.write(total_row, 4, "Total", bold)
        sheet.write_number(total_row, 5, sum(moves.mapped("amount_untaxed_signed")), money)
        sheet.write_number(total_row, 6, sum(moves.mapped("amount_total_signed")), money)
        sheet.set_column(0, 1, 24)
        sheet.set_column(4, 4, 50)
        book.close()
        return buf.getvalue()
