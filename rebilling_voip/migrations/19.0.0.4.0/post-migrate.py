"""1800 freecall numbers left the 13/1300 group for a free group of their own.

The destination data is ``noupdate``: an upgrade creates the new groups (freecall,
emergency) but leaves the existing ``+611800`` prefix in the 13/1300 group. It is
moved here when it is still where the module put it (a prefix a user moved on
purpose is left alone), and the calls to 1800 numbers not on an invoice yet go
back to new, so that the next rating rates them as free calls.
"""

from odoo.tools import SQL


def migrate(cr, version):
    cr.execute(
        SQL(
            """
            SELECT prefix.res_id, freecall.res_id
              FROM ir_model_data prefix, ir_model_data special, ir_model_data freecall,
                   rebilling_destination_prefix p
             WHERE prefix.module = 'rebilling_voip'
               AND prefix.name = 'dest_au_special_p611800'
               AND special.module = 'rebilling_voip' AND special.name = 'dest_au_special'
               AND freecall.module = 'rebilling_voip' AND freecall.name = 'dest_au_freecall'
               AND p.id = prefix.res_id AND p.group_id = special.res_id
            """
        )
    )
    row = cr.fetchone()
    if not row:
        return
    prefix_id, freecall_id = row
    cr.execute(
        SQL(
            "UPDATE rebilling_destination_prefix SET group_id = %s WHERE id = %s",
            freecall_id,
            prefix_id,
        )
    )
    cr.execute(
        SQL(
            """
            UPDATE rebilling_cdr
               SET state = 'new', destination_group_id = NULL, rate_id = NULL,
                   price = NULL, margin = NULL, billed_seconds = NULL, rating_note = NULL
             WHERE invoice_id IS NULL
               AND state IN ('rated', 'unmatched', 'error')
               AND called_e164 LIKE '+611800%%'
            """
        )
    )
