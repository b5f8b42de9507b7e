#!/usr/bin/env python3
"""Each addon's translation template ``i18n/<addon>.pot``, exported by Odoo's own exporter.

    python3 setup/i18n.py                      # write the .pot of every addon
    python3 setup/i18n.py rebilling_base       # only the addons named
    python3 setup/i18n.py --check              # exit 1 when a .pot is out of date
    python3 setup/i18n.py --update             # update the addons in the database first

The terms come from a database where the addons are installed (Odoo reads the
models, views and data of the database and the code of the addons): by default the
test database that ``python3 setup/test.py`` builds (``$REBILLING_TEST_DB``, else
``rebilling_test``), or ``--db NAME``. After changing fields, views or data, run
``--update`` (or rebuild the database) before exporting. The export is Odoo's
``odoo.tools.translate.trans_export`` (what ``odoo-bin i18n export`` runs); files are
compared without the header's dates (``POT-Creation-Date``, ``PO-Revision-Date``)
and the version of the Odoo build (``Project-Id-Version``).
The test ``tests/test_i18n.py`` runs the same comparison in the test database.
"""

import argparse
import io
import os
import re
import subprocess
import sys

from common import ADDONS, ROOT, odoo_server_script, write_config

# Header lines that change at every export, or with the Odoo build that exports.
VOLATILE_HEADER_RE = re.compile(
    r'^"(POT-Creation-Date|PO-Revision-Date|Project-Id-Version): [^"]*\\n"\n', re.M
)


def pot_path(addon):
    return ROOT / addon / "i18n" / f"{addon}.pot"


def export_pot(env, addon):
    """The translation template of ``addon`` as Odoo exports it (text)."""
    from odoo.tools.translate import trans_export

    buffer = io.BytesIO()
    trans_export(None, [addon], buffer, "po", env)
    return buffer.getvalue().decode()


def without_dates(text):
    """The template without its dates (and the Odoo build's version) in the header."""
    return VOLATILE_HEADER_RE.sub("", text)


def stale_addons(env, addons):
    """The addons whose ``i18n/<addon>.pot`` differs from what Odoo exports now."""
    stale = []
    for addon in addons:
        path = pot_path(addon)
        current = path.read_text() if path.exists() else ""
        if without_dates(current) != without_dates(export_pot(env, addon)):
            stale.append(addon)
    return stale


def write_pots(env, addons):
    """Write the templates that changed (apart from their dates); return their paths."""
    written = []
    for addon in addons:
        path = pot_path(addon)
        text = export_pot(env, addon)
        if path.exists() and without_dates(path.read_text()) == without_dates(text):
            continue
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _config(db):
    path = ROOT / f"odoo.{db}.conf"
    return path if path.exists() else write_config(db, log_level="warn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("addons", nargs="*", help="addons (default: every addon of ADDONS)")
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    parser.add_argument(
        "--db",
        default=os.environ.get("REBILLING_TEST_DB", "rebilling_test"),
        help="database where the addons are installed (default: the test database)",
    )
    parser.add_argument(
        "--update", action="store_true", help="update the addons in the database first (-u)"
    )
    args = parser.parse_args(argv)
    addons = args.addons or [a for a in ADDONS if (ROOT / a).is_dir()]
    config = _config(args.db)
    if args.update:
        subprocess.run(
            [
                *odoo_server_script(),
                "-c",
                str(config),
                "-d",
                args.db,
                "-u",
                ",".join(addons),
                "--stop-after-init",
                "--log-level=warn",
            ],
            check=True,
            cwd=ROOT,
        )

    import odoo
    from odoo.api import SUPERUSER_ID, Environment
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(["-c", str(config), "-d", args.db, "--log-level=warn"])
    with Registry(args.db).cursor() as cr:
        env = Environment(cr, SUPERUSER_ID, {})
        installed = env["ir.module.module"].search(
            [("name", "in", addons), ("state", "=", "installed")]
        )
        missing = sorted(set(addons) - set(installed.mapped("name")))
        if missing:
            print(
                f"ERROR: not installed in database {args.db}: {', '.join(missing)} "
                "(build it with python3 setup/test.py, or pass --db)",
                file=sys.stderr,
            )
            return 2
        if args.check:
            stale = stale_addons(env, addons)
            cr.rollback()
            if stale:
                print(
                    "i18n/<addon>.pot out of date (run python3 setup/i18n.py): " + ", ".join(stale),
                    file=sys.stderr,
                )
                return 1
            print(f"i18n/<addon>.pot up to date: {len(addons)} addons")
            return 0
        written = write_pots(env, addons)
        cr.rollback()
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    if not written:
        print(f"i18n/<addon>.pot up to date: {len(addons)} addons")
    return 0


if __name__ == "__main__":
    sys.exit(main())
