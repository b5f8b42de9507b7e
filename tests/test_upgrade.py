"""Upgrading databases of main b71b142 (the connector core still in rebilling_base).

Each database is built with the addons of that commit (``git archive``) and real rows,
then upgraded with this tree's addons exactly as the README tells (``-u rebilling_base``).

With every rebilling addon (``upgraded``): an Australian reseller's billing run of
November 2026 with its invoices, Xero, Autotask and ConnectWise backends, bindings
(a contact, invoices, an invoice line; one in error), sync log lines, pulled PSA
records mapped on a customer and a service, a rate-limit window, a reconciliation
line and pending push and reconcile jobs. After the upgrade:

* rebilling_connector is installed, every rebilling addon is installed;
* no row of the connector's tables nor of the billing's tables changed (every column
  the old database had, the write dates aside);
* no XML id was lost and each kept its record (same id): the connector's ones now
  belong to rebilling_connector, rebilling_base keeps the billing's;
* the month-end checks count as before, and the connector's records, actions and
  jobs work through the ORM.

With rebilling_base alone (``upgraded_billing``, a reseller without any integration):
rebilling_connector is not installed, billing rows and XML ids are kept, the connector's
records of rebilling_base are gone and the billing run's form and month end work.

The database of the old commit is built once per scenario and kept as a template (two
stages: addons installed, then rows; a name carries the commit and a hash of the
rows' recipe, so a changed recipe starts again from the installed stage); each run
upgrades a copy of it.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "setup"))

from common import (  # noqa: E402
    ADDONS,
    LOCAL_DIR,
    drop_database,
    odoo_server_script,
    pg_connect,
)

OLD_COMMIT = "b71b142"
OLD_ADDONS = [a for a in ADDONS if a != "rebilling_connector"]
FILESTORE = LOCAL_DIR / "data" / "filestore"

# What the README tells: upgrade rebilling_base, every rebilling addon follows.
UPGRADE_ARGS = ["-u", "rebilling_base"]

# Tables whose rows must come through the upgrade unchanged.
CONNECTOR_TABLES = (
    "rebilling_backend",
    "rebilling_binding",
    "rebilling_sync_log",
    "rebilling_external_record",
    "rebilling_rate_window",
    "rebilling_reconcile_line",
    "queue_job",
)
BILLING_TABLES = (
    "res_company",
    "res_partner",
    "rebilling_service",
    "rebilling_charge",
    "rebilling_billing_run",
    "rebilling_billing_run_line",
    "account_move",
    "account_move_line",
    "mail_message",
)
IGNORED_COLUMNS = {"write_date", "write_uid"}
# Rows compared (the messages of technical records, such as a server action removed with
# the connector, are left out).
ROWS_COMPARED = {"mail_message": "model IS NULL OR model NOT LIKE 'ir.%'"}

# Month-end checks as of the 1st of December 2026 (the run of December not started).
MONTH_END = """
from datetime import datetime
company = env.ref("base.main_company")
checks = env["rebilling.month.end"]._rebilling_checks_of(company, now=datetime(2026, 12, 1, 9))
MONTH_END = {c["code"]: c["count"] for c in checks}
"""

# Rows of a database in use, written with the old commit's code: billing...
BILLING_ROWS = """
from datetime import date
from odoo import Command, fields
from odoo.addons.rebilling_base.tests.common import RebillingCase

NOV = date(2026, 11, 1)
company = env.ref("base.main_company")
company.write({"country_id": env.ref("base.au").id, "currency_id": env.ref("base.AUD").id})
env["account.chart.template"].try_loading("au", company=company, install_demo=False)
RebillingCase.configure_company(company)  # the old commit's test fixture
gst = env["account.tax"].search(
    [("company_id", "=", company.id), ("type_tax_use", "=", "sale"), ("amount", "=", 10)], limit=1
)
product = env["product.product"].create({
    "name": "Business NBN 100/40", "list_price": 99.0, "type": "service",
    "rebilling_service_type": "wholesale", "taxes_id": [Command.set(gst.ids)],
})
customers = env["res.partner"].create([
    {"name": name, "is_company": True, "email": f"{i}@customer.example.com",
     "rebilling_enabled": True}
    for i, name in enumerate(["Harbour Dental", "Bondi Surf", "Dubbo Vets"])
])
services = env["rebilling.service"].create([
    {"partner_id": c.id, "product_id": product.id, "quantity": i + 1,
     "date_start": date(2026, 1, 1)}
    for i, c in enumerate(customers)
])
env["rebilling.charge"].create({
    "partner_id": customers[1].id, "service_id": services[1].id, "product_id": product.id,
    "name": "Installation fee", "charge_type": "once", "price_unit": 150.0,
    "date_start": date(2026, 10, 20),
})
run = env["rebilling.billing.run"]._get_or_create(company, NOV)
run.with_context(queue_job__no_delay=True).action_start()
invoices = env["account.move"].search([("rebilling_period", "=", NOV)], order="id")
assert len(invoices) == 3, invoices
"""
# ... and the integrations'.
FIXTURE = (
    BILLING_ROWS
    + """
Backend = env["rebilling.backend"]
xero, autotask, connectwise = Backend.create([
    {"name": "Xero", "backend_type": "xero", "company_id": company.id},
    {"name": "Autotask", "backend_type": "autotask", "company_id": company.id},
    {"name": "ConnectWise", "backend_type": "connectwise", "company_id": company.id},
])
(xero | autotask | connectwise).write({"state": "connected", "auto_push": False})
Record = env["rebilling.external.record"]
at_company, at_other = Record.create([
    {"backend_id": autotask.id, "kind": "company", "external_id": 101, "name": "Harbour Dental"},
    {"backend_id": autotask.id, "kind": "company", "external_id": 102, "name": "Bondi Surf"},
])
at_contract = Record.create({
    "backend_id": autotask.id, "kind": "contract", "external_id": 201, "name": "Managed NBN",
    "parent_id": at_company.id, "date_start": date(2026, 1, 1), "data": {"status": 1},
})
at_other_contract = Record.create({
    "backend_id": autotask.id, "kind": "contract", "external_id": 202, "name": "Bondi NBN",
    "parent_id": at_other.id,
})
Record.create(
    {"backend_id": connectwise.id, "kind": "company", "external_id": 301, "name": "Dubbo"}
)
customers[0].rebilling_autotask_company_id = at_company
services[0].autotask_contract_id = at_contract
services[1].autotask_contract_id = at_other_contract  # Bondi Surf: no company mapped

Binding = env["rebilling.binding"]
Binding._rebilling_bind(xero, customers[0], "xero-contact-1")
Binding._rebilling_bind(xero, invoices[0], "xero-invoice-1", sync_hash="0" * 64,
                        external_url="https://go.xero.com/x", sync_data={"total": 1})
Binding._rebilling_set_error(xero, invoices[1], "Xero refused: the period is locked")
line = invoices[0].invoice_line_ids[0]
Binding._rebilling_bind(autotask, line, "9001", sync_marker=f"rebilling:{env.cr.dbname}:1")
xero._rebilling_log("push", "account.move", "done", invoices[:1], external_id="xero-invoice-1")
xero._rebilling_log("push", "account.move", "error", invoices[1:2], message="period locked")
autotask._rebilling_log("pull", "companies", "done", message="2 companies", duration=0.25)
env["rebilling.rate.window"].create({"backend_id": xero.id, "window_start": 1.79e9, "calls": 3})
run.sudo().reconciled_at = fields.Datetime.now()
env["rebilling.reconcile.line"].create({
    "run_id": run.id, "backend_id": xero.id, "kind": "missing", "move_id": invoices[2].id,
    "reference": invoices[2].name, "odoo_total": invoices[2].amount_total,
})
xero._rebilling_enqueue_push(invoices[2])
run._rebilling_enqueue_reconcile()
"""
    + MONTH_END
    + """
env["ir.config_parameter"].set_param("rebilling.upgrade_fixture", json.dumps(MONTH_END))
env.cr.commit()
"""
)

# Read after the upgrade, with this tree's code.
AFTER = (
    MONTH_END
    + """
backends = env["rebilling.backend"].search([], order="id")
run = env["rebilling.billing.run"].search([("dry_run", "=", False)])
views = env["rebilling.backend"].get_views([(False, "form"), (False, "list")])
partner = env["res.partner"].search([("name", "=", "Harbour Dental")])
print("AFTER " + json.dumps({
    "month_end": MONTH_END,
    "before": json.loads(env["ir.config_parameter"].get_param("rebilling.upgrade_fixture")),
    "backends": [
        [b.backend_type, b.state, b.binding_count, b.error_count, b.log_count] for b in backends
    ],
    "records": env["rebilling.external.record"].search_count([]),
    "mapped": partner.rebilling_autotask_company_id.name,
    "reconcile_count": run.reconcile_count,
    "reconciled": bool(run.reconciled_at),
    "jobs": sorted(
        [j.method_name, j.state, j.channel, bool(j.job_function_id)]
        for j in env["queue.job"].search([])
    ),
    "action": env.ref("rebilling_connector.action_rebilling_backend").res_model,
    "form_fields": sorted(set(views["models"]["rebilling.backend"]["fields"]) & {
        "binding_count", "xero_tenant_id", "api_url"
    }),
    "billing_run_form": "reconcile_count" in env["rebilling.billing.run"].get_views(
        [(False, "form")]
    )["models"]["rebilling.billing.run"]["fields"],
}))
"""
)


# A reseller without any integration: rebilling_base alone.
BILLING_FIXTURE = BILLING_ROWS + "env.cr.commit()\n"
BILLING_AFTER = (
    MONTH_END
    + """
form = env["rebilling.billing.run"].get_views([(False, "form")])
print("AFTER " + json.dumps({
    "month_end": MONTH_END,
    "connector_models": sorted(m for m in ("rebilling.backend", "rebilling.binding") if m in env),
    "billing_run_form": "reconcile_count" in form["models"]["rebilling.billing.run"]["fields"],
    "invoices": env["account.move"].search_count([("rebilling_period", "!=", False)]),
}))
"""
)

# name: (addons of the old database, its rows, what is read after the upgrade, tables)
SCENARIOS = {
    "all": (OLD_ADDONS, FIXTURE, AFTER, CONNECTOR_TABLES + BILLING_TABLES),
    "base": (["rebilling_base"], BILLING_FIXTURE, BILLING_AFTER, BILLING_TABLES),
}
# The XML ids of the connector core (rebilling_base's up to 19.0.1.1.0).
CONNECTOR_XML_IDS = r"backend|binding|sync|external_record|rate_window|reconcile|psa"


def odoo(config, database, *args, script=None):
    """Run Odoo (``script``: an ``odoo shell`` session); return its output (stdout + stderr)."""
    server = odoo_server_script()
    if script is not None:
        cmd = [*server, "shell", "-c", str(config), "-d", database, "--no-http", *args]
    else:
        cmd = [*server, "-c", str(config), "-d", database, "--no-http", *args]
    out = subprocess.run(
        cmd,
        input="import json\n" + script if script is not None else None,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    output = out.stdout + out.stderr
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{output[-4000:]}"
    return output


def write_config(path, addons_path):
    path.write_text(
        "[options]\n"
        f"addons_path = {addons_path}\n"
        f"data_dir = {LOCAL_DIR / 'data'}\n"
        "http_interface = 127.0.0.1\n"
        "list_db = False\n"
        "log_level = warn\n"
        "max_cron_threads = 0\n"
    )
    return path


def sql(database, query, params=None):
    conn = pg_connect(database)
    try:
        with conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall()
    finally:
        conn.close()


def admin(query, params=None):
    conn = pg_connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(query, params)
    finally:
        conn.close()


def database_exists(name):
    return bool(sql("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", [name]))


def copy_database(source, target):
    drop_database(target)
    admin(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    if (FILESTORE / source).exists():
        shutil.copytree(FILESTORE / source, FILESTORE / target)


def rename_database(source, target):
    admin(f'ALTER DATABASE "{source}" RENAME TO "{target}"')
    if (FILESTORE / source).exists():
        (FILESTORE / source).rename(FILESTORE / target)


def old_addons(folder):
    """The rebilling addons of the old commit, unpacked into ``folder``."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{OLD_COMMIT}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    assert found.returncode == 0, (
        f"commit {OLD_COMMIT} (the main this upgrade starts from) is not in this clone: "
        "fetch the full history (git fetch --unshallow)"
    )
    archive = folder / "old.tar"
    with archive.open("wb") as fh:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", OLD_COMMIT, *OLD_ADDONS], stdout=fh, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "addons", filter="data")
    return folder / "addons"


def old_database(prefix, folder, scenario):
    """The database of the old commit with its rows, built once and kept as a template.

    Two stages, each kept: the addons installed (``_bare``), then the rows of the
    scenario's fixture (a name of its hash: a changed recipe starts from the first stage).
    """
    addons, fixture = SCENARIOS[scenario][:2]
    digest_ = hashlib.sha1((OLD_COMMIT + fixture).encode()).hexdigest()[:8]
    stem = f"{prefix}_{OLD_COMMIT}_{scenario}"
    name, bare = f"{stem}_{digest_}", f"{stem}_bare"
    if database_exists(name):
        return name
    query = "SELECT datname FROM pg_database WHERE datname LIKE %s"
    for (stale,) in sql("postgres", query, [f"{stem}_%"]):
        if stale != bare:
            drop_database(stale)
    config = write_config(folder / "old.conf", old_addons(folder))
    building = f"{prefix}_building"
    if not database_exists(bare):
        drop_database(building)
        try:
            odoo(config, building, "-i", ",".join(["l10n_au", *addons]), "--stop-after-init")
        except BaseException:
            drop_database(building)
            raise
        rename_database(building, bare)
    copy_database(bare, building)
    try:
        odoo(config, building, script=fixture)
    except BaseException:
        drop_database(building)
        raise
    rename_database(building, name)
    return name


def snapshot(database, names):
    """Columns of the tables ``names``, and the rebilling addons' XML ids."""
    return {table: columns_of(database, table) for table in names}, xml_ids(database)


def xml_ids(database):
    """``{(module, name): (model, res_id)}`` of the rebilling addons."""
    rows = sql(
        database,
        "SELECT module, name, model, res_id FROM ir_model_data WHERE module LIKE %s",
        ["rebilling_%"],
    )
    return {(module, name): (model, res_id) for module, name, model, res_id in rows}


def digest(database, table, columns):
    cols = ", ".join(f'"{c}"' for c in columns)
    where = ROWS_COMPARED.get(table, "TRUE")
    [(count, value)] = sql(
        database,
        f"SELECT count(*), md5(string_agg(md5(ROW({cols})::text), '' ORDER BY id)) "
        f"FROM {table} WHERE {where}",
    )
    return count, value


def upgrade(scenario):
    """The old database of ``scenario``, its snapshot, and a copy upgraded with this
    tree's addons as the README tells (dropped at the end)."""
    from odoo.tools import config as odoo_config

    prefix = odoo_config["db_name"] or "rebilling_test"
    if isinstance(prefix, (list, tuple)):
        prefix = prefix[0]
    after_script, names = SCENARIOS[scenario][2:]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old = old_database(prefix, folder, scenario)
        target = f"{prefix}_upgraded"
        copy_database(old, target)
        try:
            tables, xmlids = snapshot(old, names)
            digests = {t: digest(old, t, cols) for t, cols in tables.items()}
            config = write_config(folder / "new.conf", ROOT)
            log = odoo(config, target, *UPGRADE_ARGS, "--stop-after-init")
            after = odoo(config, target, script=after_script)
            yield {
                "old": old,
                "db": target,
                "tables": tables,
                "digests": digests,
                "xmlids": xmlids,
                "log": log,
                "after": json.loads(after.split("AFTER ", 1)[1].splitlines()[0]),
            }
        finally:
            drop_database(target)


@pytest.fixture(scope="module")
def upgraded():
    """A database with every rebilling addon (Xero, Autotask and ConnectWise included)."""
    yield from upgrade("all")


@pytest.fixture(scope="module")
def upgraded_billing():
    """A database of a reseller without any integration (rebilling_base alone)."""
    yield from upgrade("base")


def log_errors(log):
    errors = [line for line in log.splitlines() if re.search(r" (ERROR|CRITICAL) ", line)]
    if "Traceback" in log:
        errors.append(log[log.index("Traceback") :][:3000])
    return errors


def module_states(database):
    query = "SELECT name, state FROM ir_module_module WHERE name LIKE %s"
    return dict(sql(database, query, ["rebilling_%"]))


def columns_of(database, table):
    query = (
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position"
    )
    return [c for (c,) in sql(database, query, [table]) if c not in IGNORED_COLUMNS]


def changed_tables(upgraded):
    """The tables whose rows changed (on the columns that were kept), and the columns
    dropped by the upgrade (``table.column``)."""
    changed, dropped = [], []
    for table, columns in upgraded["tables"].items():
        kept = set(columns_of(upgraded["db"], table))
        dropped += [f"{table}.{c}" for c in columns if c not in kept]
        if len(kept) < len(columns):
            columns = [c for c in columns if c in kept]
            before = digest(upgraded["old"], table, columns)
        else:
            before = upgraded["digests"][table]
        if digest(upgraded["db"], table, columns) != before:
            changed.append(table)
    return changed, dropped


def test_the_upgrade_installs_the_connector_and_logs_no_error(upgraded):
    assert not log_errors(upgraded["log"]), "\n".join(log_errors(upgraded["log"]))
    assert module_states(upgraded["db"]) == dict.fromkeys(ADDONS, "installed")


def test_no_row_changed(upgraded):
    changed, dropped = changed_tables(upgraded)
    assert not changed, f"rows changed by the upgrade in {changed}"
    assert not dropped
    counts = {table: upgraded["digests"][table][0] for table in CONNECTOR_TABLES}
    # The fixture's rows are all there to be compared.
    assert counts["rebilling_backend"] == 3
    assert counts["rebilling_binding"] == 4
    assert counts["rebilling_sync_log"] == 3
    assert counts["rebilling_external_record"] == 5
    assert counts["rebilling_rate_window"] == 1
    assert counts["rebilling_reconcile_line"] == 1
    assert counts["queue_job"] >= 2


def test_every_xml_id_keeps_its_record_and_the_connector_owns_its_own(upgraded):
    after = xml_ids(upgraded["db"])
    moved, lost = [], []
    for (module, name), record in upgraded["xmlids"].items():
        if after.get((module, name)) == record:
            continue
        if module == "rebilling_base" and after.get(("rebilling_connector", name)) == record:
            moved.append(name)
        else:
            lost.append(f"{module}.{name}")
    assert not lost, f"XML ids lost or pointing elsewhere: {lost}"
    for name in (
        "model_rebilling_backend",
        "model_rebilling_binding",
        "model_rebilling_sync_log",
        "model_rebilling_external_record",
        "model_rebilling_rate_window",
        "model_rebilling_reconcile_line",
        "field_rebilling_backend__api_url",
        "field_rebilling_billing_run__reconciled_at",
        "selection__rebilling_binding__sync_state__sending",
        "constraint_rebilling_binding_record_uniq",
        "rebilling_backend_view_form",
        "rebilling_billing_run_view_form_reconcile",
        "action_rebilling_backend",
        "menu_rebilling_sync_log",
        "access_rebilling_binding_user",
        "rule_rebilling_backend_company",
        "job_function_rebilling_backend_push",
        "queue_job_channel_rebilling_sync",
    ):
        assert name in moved, f"rebilling_base.{name} should now be rebilling_connector's"
    # rebilling_base keeps the billing: nothing else of it moved.
    assert not [name for name in moved if not re.search(CONNECTOR_XML_IDS, name)]
    assert ("rebilling_base", "model_rebilling_billing_run") in after
    assert ("rebilling_base", "rebilling_billing_run_view_form") in after
    # Constraints of the connector's tables are its own too (dropped with it, not with base).
    rows = sql(
        upgraded["db"],
        "SELECT DISTINCT m.name FROM ir_model_constraint c "
        "JOIN ir_module_module m ON m.id = c.module JOIN ir_model im ON im.id = c.model "
        "WHERE im.model IN ('rebilling.backend', 'rebilling.binding', 'rebilling.sync.log')",
    )
    assert ("rebilling_connector",) in rows
    assert ("rebilling_base",) not in rows


def test_the_connector_works_on_the_upgraded_rows(upgraded):
    after = upgraded["after"]
    assert {code: after["month_end"].get(code) for code in after["before"]} == after["before"]
    assert after["month_end"]["push_error"] == 1
    assert after["month_end"]["psa_mapping_autotask"] == 1
    assert after["backends"] == [
        ["xero", "connected", 3, 1, 2],
        ["autotask", "connected", 1, 0, 1],
        ["connectwise", "connected", 0, 0, 0],
    ]
    assert after["records"] == 5
    assert after["mapped"] == "Harbour Dental"
    assert after["reconcile_count"] == 1
    assert after["reconciled"]
    assert ["_rebilling_push_job", "pending", "root.rebilling.sync", True] in after["jobs"]
    assert ["_rebilling_reconcile_job", "pending", "root.rebilling.sync", True] in after["jobs"]
    assert after["action"] == "rebilling.backend"
    assert after["form_fields"] == ["api_url", "binding_count", "xero_tenant_id"]
    assert after["billing_run_form"]


def test_without_integrations_rebilling_base_stays_alone_and_keeps_its_billing(upgraded_billing):
    upgraded = upgraded_billing
    assert not log_errors(upgraded["log"]), "\n".join(log_errors(upgraded["log"]))
    states = module_states(upgraded["db"])
    assert states["rebilling_base"] == "installed"
    assert {name: state for name, state in states.items() if state != "uninstalled"} == {
        "rebilling_base": "installed"
    }
    changed, dropped = changed_tables(upgraded)
    assert not changed, f"rows changed by the upgrade in {changed}"
    # The date of the last reconciliation (with connected systems) went with the connector.
    assert dropped == ["rebilling_billing_run.reconciled_at"]
    # Billing's XML ids keep their records; the connector's are gone with it.
    after = xml_ids(upgraded["db"])
    lost = [
        name
        for (module, name), record in upgraded["xmlids"].items()
        if not re.search(CONNECTOR_XML_IDS, name) and after.get((module, name)) != record
    ]
    assert not lost, lost
    assert not [name for _module, name in after if re.search(CONNECTOR_XML_IDS, name)]
    assert upgraded["xmlids"][("rebilling_base", "model_rebilling_backend")]
    # The billing run's form has no reconciliation; the month end works without bindings.
    result = upgraded["after"]
    assert result["connector_models"] == []
    assert not result["billing_run_form"]
    assert result["invoices"] == 3
    assert "push_error" not in result["month_end"]
