"""Files generated for one download (zips of invoices): their creator only, removed after."""

from datetime import timedelta

from odoo import api, fields, models

DOWNLOAD_MARK = "rebilling.download"
DOWNLOAD_TTL = timedelta(hours=1)


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    @api.model
    def _rebilling_download(self, name, content, mimetype=None):
        """The download action of a generated file, readable by its creator only.

        The file is attached to no record (Odoo then lets only its creator and
        system administrators read it) and the autovacuum removes it after
        ``DOWNLOAD_TTL``.
        """
        attachment = self.create(
            {
                "name": name,
                "raw": content,
                "mimetype": mimetype or False,
                "description": DOWNLOAD_MARK,
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }

    @api.autovacuum
    def _gc_rebilling_downloads(self):
        """Remove the generated downloads older than ``DOWNLOAD_TTL``."""
        old = self.sudo().search(
            [
                ("description", "=", DOWNLOAD_MARK),
                ("res_model", "=", False),
                ("create_date", "<", fields.Datetime.now() - DOWNLOAD_TTL),
            ]
        )
        old.unlink()
        return len(old)
