import contextlib

from dateutil.relativedelta import relativedelta

from odoo import fields, models
from odoo.tools import format_date

PREVIEW_FILENAME = "invoice-preview.pdf"


class PreviewRollback(Exception):
    """Raised to roll back the dummy records of the invoice preview."""


class ResCompany(models.Model):
    """Preview invoice: the real invoice document with dummy data, nothing kept."""

    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    def action_rebilling_preview(self):
        """The real invoice document (same template, taxes and totals) with dummy data.

        The dummy customer and invoice are created, rendered and rolled back:
        nothing is kept but the PDF, attached to the company and opened.
        """
        self.ensure_one()
        pdf = self._rebilling_preview_pdf()
        Attachment = self.env["ir.attachment"].sudo()
        Attachment.search(
            [
                ("res_model", "=", "res.company"),
                ("res_id", "=", self.id),
                ("name", "=", PREVIEW_FILENAME),
            ]
        ).unlink()
        attachment = Attachment.create(
            {
                "name": PREVIEW_FILENAME,
                "raw": pdf,
                "mimetype": "application/pdf",
                "res_model": "res.company",
                "res_id": self.id,
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?filename={PREVIEW_FILENAME}",
            "target": "new",
        }

    def _rebilling_preview_pdf(self, report_ref="account.account_invoices"):
        """Render ``report_ref`` for a dummy invoice inside a savepoint rolled back after."""
        self.ensure_one()
        rendered = {}
        with contextlib.suppress(PreviewRollback), self.env.cr.savepoint():
            move = self.with_context(
                tracking_disable=True, mail_notrack=True
            )._rebilling_preview_move()
            rendered["pdf"] = self.env["ir.actions.report"]._render_qweb_pdf(report_ref, move.ids)[
                0
            ]
            raise PreviewRollback
        self.env.invalidate_all()
        return rendered["pdf"]

    def _rebilling_preview_move(self):
        """A posted dummy rebilling invoice of this company (call inside a rolled-back savepoint).

        Extend for more dummy lines (e.g. usage).
        """
        self.ensure_one()
        company = self.with_company(self)
        data = self._rebilling_preview_data()
        partner = company.env["res.partner"].create(
            {
                "name": "Sample Customer Pty Ltd",
                "street": "1 Example Street",
                "city": "Sydney",
                "zip": "2000",
                "country_id": self.country_id.id,
                "lang": self.partner_id.lang or self.env.lang,
                "company_id": self.id,
            }
        )
        taxes = company.env["account.tax"].search(
            [
                ("company_id", "=", self.id),
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("amount", "=", 10),
            ],
            limit=1,
        )
        journal = self.rebilling_journal_id or company.env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", self.id)], limit=1
        )
        period = data["period"]
        move = company.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "company_id": self.id,
                "journal_id": journal.id,
                "partner_id": partner.id,
                "name": self._rebilling_preview_number(),
                "invoice_date": period,
                "date": period,
                "invoice_date_due": period + relativedelta(days=self.rebilling_payment_term_days),
                "rebilling_period": period,
                "invoice_line_ids": [
                    fields.Command.create(dict(line, tax_ids=[fields.Command.set(taxes.ids)]))
                    for line in data["lines"]
                ],
            }
        )
        move._post(soft=False)
        return move

    def _rebilling_preview_number(self):
        self.ensure_one()
        vals = self._rebilling_sequence_vals()
        today = fields.Date.context_today(self)
        sequence = self.rebilling_sequence_id
        # A PostgreSQL sequence moves outside the ORM: read its current value.
        sequence.invalidate_recordset(["number_next_actual"])
        number = sequence.number_next_actual or self.rebilling_invoice_start
        interpolate = {
            "year": today.strftime("%Y"),
            "month": today.strftime("%m"),
            "day": today.strftime("%d"),
        }
        return "{}{}{}".format(
            vals["prefix"] % interpolate,
            str(number).zfill(vals["padding"]),
            vals["suffix"] % interpolate,
        )

    def _rebilling_preview_data(self):
        """Dummy invoice content for the preview: the period and the line values."""
        period = fields.Date.context_today(self).replace(day=1)
        last = period + relativedelta(months=1, days=-1)
        env = self.with_context(lang=self.partner_id.lang or self.env.lang).env
        dates = f"{format_date(env, period)} - {format_date(env, last)}"
        return {
            "period": period,
            "lines": [
                {
                    "name": f"Business NBN 100/40 ({dates})",
                    "quantity": 1,
                    "price_unit": 99.0,
                    "rebilling_line_kind": "service",
                },
                {
                    "name": f"Hosted PBX seat ({dates})",
                    "quantity": 5,
                    "price_unit": 25.0,
                    "rebilling_line_kind": "service",
                },
                {
                    "name": f"Static IP address ({dates})",
                    "quantity": 1,
                    "price_unit": 10.0,
                    "rebilling_line_kind": "recurring",
                },
                {
                    "name": "Call usage",
                    "quantity": 1,
                    "price_unit": 42.5,
                    "rebilling_line_kind": "usage",
                },
            ],
        }
