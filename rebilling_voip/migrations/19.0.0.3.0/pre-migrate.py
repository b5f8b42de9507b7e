"""The customer's rate plan became per company (company_dependent, a jsonb column).

Each customer keeps its plan, now as the value of the plan's company.
"""

from odoo.tools import SQL


def migrate(cr, version):
    cr.execute(
        SQL(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'res_partner' AND column_name = 'rebilling_rate_plan_id'"
        )
    )
    row = cr.fetchone()
    if not row or row[0] == "jsonb":
        return
    cr.execute(
        SQL(
            "ALTER TABLE res_partner RENAME COLUMN rebilling_rate_plan_id "
            "TO rebilling_rate_plan_id_single"
        )
    )
    cr.execute(SQL("ALTER TABLE res_partner ADD COLUMN rebilling_rate_plan_id jsonb"))
    cr.execute(
        SQL(
            """
            UPDATE res_partner p
               SET rebilling_rate_plan_id = jsonb_build_object(plan.company_id::text, plan.id)
              FROM rebilling_rate_plan plan
             WHERE plan.id = p.rebilling_rate_plan_id_single
            """
        )
    )
    cr.execute(SQL("ALTER TABLE res_partner DROP COLUMN rebilling_rate_plan_id_single"))
