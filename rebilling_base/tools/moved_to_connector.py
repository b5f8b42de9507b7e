"""What rebilling_base 19.0.1.2.0 handed to rebilling_connector, for databases upgraded in place.

Up to 19.0.1.1.0 the connector core (backends, bindings, sync log, rate windows, pulled
external records, reconciliation lines, the PSA and reconciliation extensions of billing
runs) belonged to rebilling_base. Its models, fields, views, menus, actions, access
rules, record rules and jobs keep their records and ids: only the module of their XML
ids changes (``rebilling_base.X`` becomes ``rebilling_connector.X``), before anything is
loaded, so that no table, column or row is dropped and rebilling_connector's install
updates them in place.

Called by rebilling_base's pre-migration (when rebilling_connector is being installed)
and by rebilling_connector's ``pre_init_hook`` (an upgrade that installs the connector
without upgrading rebilling_base). Both calls are idempotent.
"""

from odoo.tools import SQL

FROM_MODULE = "rebilling_base"
TO_MODULE = "rebilling_connector"

# The models of the connector core (their fields, selections, constraints and parents).
MODELS = (
    "rebilling.backend",
    "rebilling.backend.mixin",
    "rebilling.binding",
    "rebilling.external.record",
    "rebilling.psa.wizard.mixin",
    "rebilling.rate.window",
    "rebilling.reconcile.line",
    "rebilling.sync.log",
)
# Fields the connector adds to rebilling_base's own models.
FIELDS = (
    ("rebilling.billing.run", "reconcile_count"),
    ("rebilling.billing.run", "reconcile_line_ids"),
    ("rebilling.billing.run", "reconciled_at"),
)
# Records of the connector's data files (views, actions, menus, rules, access, jobs).
RECORDS = (
    "access_rebilling_backend_manager",
    "access_rebilling_backend_user",
    "access_rebilling_binding_manager",
    "access_rebilling_binding_user",
    "access_rebilling_external_record_manager",
    "access_rebilling_external_record_user",
    "access_rebilling_rate_window_system",
    "access_rebilling_reconcile_line_manager",
    "access_rebilling_reconcile_line_user",
    "access_rebilling_sync_log_manager",
    "access_rebilling_sync_log_user",
    "action_rebilling_backend",
    "action_rebilling_binding",
    "action_rebilling_sync_log",
    "action_server_rebilling_sync_log_retry",
    "job_function_rebilling_backend_pull",
    "job_function_rebilling_backend_push",
    "job_function_rebilling_billing_run_reconcile",
    "menu_rebilling_backends",
    "menu_rebilling_bindings",
    "menu_rebilling_sync_log",
    "queue_job_channel_rebilling_sync",
    "rebilling_backend_view_form",
    "rebilling_backend_view_list",
    "rebilling_backend_view_search",
    "rebilling_billing_run_view_form_reconcile",
    "rebilling_binding_view_form",
    "rebilling_binding_view_list",
    "rebilling_binding_view_search",
    "rebilling_external_record_view_form",
    "rebilling_external_record_view_list",
    "rebilling_external_record_view_search",
    "rebilling_reconcile_line_action",
    "rebilling_reconcile_line_view_form",
    "rebilling_reconcile_line_view_list",
    "rebilling_reconcile_line_view_search",
    "rebilling_sync_log_view_form",
    "rebilling_sync_log_view_list",
    "rebilling_sync_log_view_search",
    "rule_rebilling_backend_company",
    "rule_rebilling_binding_company",
    "rule_rebilling_external_record_company",
    "rule_rebilling_reconcile_line_company",
    "rule_rebilling_sync_log_company",
)
# The connector's views that extend rebilling_base's own views.
EXTENSION_VIEWS = ("rebilling_billing_run_view_form_reconcile",)


def _moved_ids():
    """``{ir_model_data model: SQL of the moved res_ids}`` (models, fields, selections,
    constraints, parents of the moved models and the fields added to base models)."""
    models = SQL("SELECT id FROM ir_model WHERE model IN %s", MODELS)
    fields = SQL(
        "SELECT id FROM ir_model_fields WHERE model IN %s OR (model, name) IN %s",
        MODELS,
        FIELDS,
    )
    return {
        "ir.model": models,
        "ir.model.fields": fields,
        "ir.model.fields.selection": SQL(
            "SELECT id FROM ir_model_fields_selection WHERE field_id IN (%s)", fields
        ),
        "ir.model.constraint": SQL(
            "SELECT id FROM ir_model_constraint WHERE model IN (%s)", models
        ),
        "ir.model.inherit": SQL("SELECT id FROM ir_model_inherit WHERE model_id IN (%s)", models),
    }


def hand_over(cr):
    """Give rebilling_base's records of the connector core to rebilling_connector.

    Renames their XML ids and moves their constraints' module; returns the number of
    XML ids renamed (0 when there is nothing left to move).
    """
    reflected = SQL(" OR ").join(
        SQL("(model = %s AND res_id IN (%s))", model, ids) for model, ids in _moved_ids().items()
    )
    cr.execute(
        SQL(
            """
            UPDATE ir_model_data d
               SET module = %(target)s
             WHERE d.module = %(source)s
               AND (%(reflected)s OR d.name IN %(records)s)
               AND NOT EXISTS (
                   SELECT 1 FROM ir_model_data o WHERE o.module = %(target)s AND o.name = d.name
               )
            """,
            target=TO_MODULE,
            reflected=reflected,
            records=RECORDS,
            source=FROM_MODULE,
        )
    )
    renamed = cr.rowcount
    cr.execute(
        SQL(
            """
            UPDATE ir_model_constraint c
               SET module = (SELECT id FROM ir_module_module WHERE name = %(target)s)
             WHERE c.module = (SELECT id FROM ir_module_module WHERE name = %(source)s)
               AND c.model IN (SELECT id FROM ir_model WHERE model IN %(models)s)
               AND EXISTS (SELECT 1 FROM ir_module_module WHERE name = %(target)s)
               AND NOT EXISTS (
                   SELECT 1 FROM ir_model_constraint o
                    WHERE o.name = c.name
                      AND o.module = (SELECT id FROM ir_module_module WHERE name = %(target)s)
               )
            """,
            target=TO_MODULE,
            models=MODELS,
            source=FROM_MODULE,
        )
    )
    return renamed


def retire_extension_views(cr):
    """No connector is being installed: archive the connector's views of rebilling_base's
    own views, so that the upgrade of rebilling_base checks its views without them (the
    end of the upgrade removes the connector's records that rebilling_base still holds)."""
    cr.execute(
        SQL(
            """
            UPDATE ir_ui_view v
               SET active = FALSE
              FROM ir_model_data d
             WHERE d.model = 'ir.ui.view' AND d.res_id = v.id
               AND d.module = %s AND d.name IN %s
            """,
            FROM_MODULE,
            EXTENSION_VIEWS,
        )
    )
    return cr.rowcount


def connector_coming(cr):
    """Whether rebilling_connector is installed or being installed in this update."""
    cr.execute(
        SQL(
            "SELECT 1 FROM ir_module_module WHERE name = %s AND state IN %s",
            TO_MODULE,
            ("installed", "to install", "to upgrade"),
        )
    )
    return bool(cr.fetchone())
