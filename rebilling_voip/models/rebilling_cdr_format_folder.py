"""CDR formats, scheduled import: the files dropped in a format's server folder.

The cron imports every CSV file of each format's folder, one transaction per
file, and moves it to ``done/`` or ``failed/``.
"""

import logging
import os
import stat

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

# Largest CDR file the scheduled import reads (bytes); the system parameter
# rebilling_voip.cdr_max_file_size overrides it.
MAX_FILE_SIZE = 512 * 1024 * 1024


class RebillingCdrFormatFolder(models.Model):
    _inherit = "rebilling.cdr.format"  # pylint: disable=consider-merging-classes-inherited

    import_directory = fields.Char(
        help="Scheduled import: CSV files dropped in this server folder are imported by "
        "the cron and moved to its done/ or failed/ subfolder.",
        groups="base.group_system",
    )

    @api.model
    def _cron_import_directories(self):
        """Import the CSV files waiting in the import folders of the formats."""
        formats = self.sudo().search([("import_directory", "!=", False)])
        for fmt in formats:
            fmt._import_directory()

    @api.model
    def _cdr_max_file_size(self):
        """Largest file (bytes) the scheduled import reads. Extend for another limit."""
        param = self.env["ir.config_parameter"].sudo().get_param("rebilling_voip.cdr_max_file_size")
        return int(param) if param and param.isdigit() else MAX_FILE_SIZE

    def _import_directory(self, commit=True):
        """Import every ``*.csv`` of the folder (by name), one transaction per file.

        Only regular files directly in the folder are read: a symbolic link, a
        pipe or a subfolder is never opened (nor followed out of the folder), a
        file that cannot be read or is larger than :meth:`_cdr_max_file_size`
        is not imported. Either way a failed import gives the reason, the file
        goes to ``failed/`` and the next files are imported. A file is moved to
        ``done/`` or ``failed/`` only once its import is committed
        (``commit=False``: left to the caller's transaction).
        """
        self.ensure_one()
        folder = self.sudo().import_directory
        if not folder or not os.path.isdir(folder):
            _logger.warning("CDR format %s: import folder %r does not exist", self.id, folder)
            return self.env["rebilling.cdr.import"]
        folder = os.path.realpath(folder)
        Import = self.env["rebilling.cdr.import"]
        imports = Import
        max_size = self._cdr_max_file_size()
        entries = sorted(
            (e for e in os.scandir(folder) if e.name.lower().endswith(".csv")),
            key=lambda e: e.name,
        )
        for entry in entries:
            data, reason = self._read_drop_file(entry, max_size)
            if reason:
                _logger.warning("CDR format %s: %s not imported: %s", self.id, entry.name, reason)
                imp = Import._create_failed(self, entry.name, reason)
            else:
                imp = Import._import_file(self, data, entry.name, raise_on_error=False)
            imports |= imp
            if commit:
                self.env["ir.cron"]._commit_progress(1)
            self._move_drop_file(folder, entry.name, "done" if imp.state == "done" else "failed")
        return imports

    @api.model
    def _read_drop_file(self, entry, max_size):
        """``(data, None)``, or ``(None, reason)`` when the file is not read."""
        if entry.is_symlink():
            return None, self.env._("a symbolic link is never followed")
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            return None, self.env._("the file cannot be read (%s)", exc.strerror)
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None, self.env._("not a regular file")
            if info.st_size > max_size:
                return None, self.env._(
                    "%(size)s bytes, more than the limit of %(max)s bytes",
                    size=info.st_size,
                    max=max_size,
                )
            try:
                data = fh.read(max_size + 1)
            except OSError as exc:
                return None, self.env._("the file cannot be read (%s)", exc.strerror)
        if len(data) > max_size:
            return None, self.env._("more than the limit of %s bytes", max_size)
        return data, None

    @api.model
    def _move_drop_file(self, folder, name, subfolder):
        """Move ``folder/name`` to ``folder/subfolder/`` (a real folder inside ``folder``)."""
        target = os.path.join(folder, subfolder)
        try:
            os.makedirs(target, exist_ok=True)
            if os.path.islink(target) or not os.path.isdir(target):
                _logger.error("CDR import: %s is not a folder of %s; %s kept", target, folder, name)
                return False
            os.replace(os.path.join(folder, name), os.path.join(target, name))
        except OSError as exc:
            _logger.error("CDR import: %s could not be moved to %s: %s", name, target, exc)
            return False
        return True
