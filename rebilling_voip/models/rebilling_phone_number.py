"""Phone numbers already normalized, shared by every import and worker."""

import csv
import io

import phonenumbers

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import phone


class RebillingPhoneNumber(models.Model):
    """A number as suppliers send it, and its E.164 form (a cache of ``phonenumbers``).

    CDR files repeat the same numbers month after month (the customers' own
    numbers, popular destinations): each one is normalized once per region and
    ``phonenumbers`` version, then read from here by the set-based import.
    """

    _name = "rebilling.phone.number"
    _description = "Normalized Phone Number"
    _log_access = False
    _order = "raw"
    _rec_name = "raw"

    region = fields.Char(
        required=True, readonly=True, help="Country (ISO code) of the numbers in national form."
    )
    raw = fields.Char("Number as Sent", required=True, readonly=True)
    e164 = fields.Char("E.164", readonly=True, help="Empty: not a possible phone number.")
    version = fields.Char(
        "phonenumbers Version",
        required=True,
        readonly=True,
        help="Numbers normalized by another version of the library are normalized again.",
    )

    _raw_uniq = models.UniqueIndex("(region, raw)", "A number is normalized once per region.")

    @api.model
    def _build_lookup(self, table, new_table, raws, region, style=None):
        """Create the table ``table (raw, e164)`` of the distinct numbers ``raws`` (SQL).

        Known numbers come from here; the others are normalized now (in Python,
        each once) through the table ``new_table`` (dropped after) and added
        here. Returns how many numbers were normalized now. ``region``: ``None``
        when the company has no country (only international numbers can be read).
        ``style``: how the supplier writes numbers (``tools.phone.normalize``); kept
        apart from the numbers as dialled (the region key gets a suffix). Texts
        longer than ``tools.phone.MAX_LENGTH`` are no numbers, and not kept.
        """
        cr = self.env.cr
        region, key = region or None, (region or "") + (f":{style}" if style else "")
        version = f"{phonenumbers.__version__}+{phone.RULES_VERSION}"
        self.flush_model()
        cr.execute(
            SQL(
                """
                CREATE UNLOGGED TABLE %(table)s AS
                SELECT n.raw, c.e164, c.id IS NOT NULL AS known
                  FROM (%(raws)s) n (raw)
                  LEFT JOIN rebilling_phone_number c
                    ON c.region = %(region)s AND c.raw = n.raw AND c.version = %(version)s
                """,
                table=table,
                raws=raws,
                region=key,
                version=version,
            )
        )
        cr.execute(SQL("SELECT raw FROM %s WHERE NOT known", table))
        missing = [row[0] for row in cr.fetchall()]
        if missing:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            for raw, e164 in phone.normalize_many(missing, region, style).items():
                writer.writerow((raw, e164 or ""))
            buf.seek(0)
            cr.execute(SQL("CREATE UNLOGGED TABLE %s (raw text, e164 text)", new_table))
            # CSV: an unquoted empty field is NULL (a number that could not be normalized).
            cr.copy_expert(
                SQL("COPY %s (raw, e164) FROM STDIN WITH (FORMAT csv)", new_table).code, buf
            )
            cr.execute(
                SQL(
                    """
                    INSERT INTO rebilling_phone_number (region, raw, e164, version)
                    SELECT %(region)s, raw, e164, %(version)s FROM %(new)s
                     WHERE length(raw) <= %(max)s
                    ON CONFLICT (region, raw)
                    DO UPDATE SET e164 = EXCLUDED.e164, version = EXCLUDED.version
                    """,
                    region=key,
                    version=version,
                    new=new_table,
                    max=phone.MAX_LENGTH,
                )
            )
            cr.execute(
                SQL(
                    "UPDATE %s t SET e164 = n.e164 FROM %s n WHERE n.raw = t.raw AND NOT t.known",
                    table,
                    new_table,
                )
            )
            cr.execute(SQL("DROP TABLE %s", new_table))
            self.invalidate_model()
        cr.execute(SQL("ANALYZE %s", table))
        return len(missing)
