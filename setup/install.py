#!/usr/bin/env python3
"""Install what the rebilling addons need and write the local Odoo config.

    python3 setup/install.py [--odoo PATH]
    python3 setup/install.py --odoo PATH --python OTHER_PYTHON --odoo-only

Idempotent. When Odoo 19.0 Community is not importable, it installs it from
the source given with ``--odoo`` (or ``ODOO_SOURCE``): a source folder, a
tarball or a bare git directory (see odoo_install.py for the pins and flags).
Then it installs the Python requirements (requirements.txt,
requirements-test.txt), Debian's wkhtmltopdf, chromium and poppler-utils when missing, makes
sure a PostgreSQL server answers (starting the local Debian cluster if it is
down) and writes odoo.local.conf (ignored by git). The demo and test commands
run the same steps first. ``--python`` with ``--odoo-only`` installs Odoo
alone into another interpreter (a virtual environment, say).
"""

import argparse
import subprocess
import sys

import odoo_install
from common import LOCAL_DIR, add_odoo_argument, fail, prepare, say, write_config


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_odoo_argument(parser)
    parser.add_argument("--python", default=sys.executable, help="interpreter to install into")
    parser.add_argument("--odoo-only", action="store_true", help="install Odoo, nothing else")
    args = parser.parse_args()
    if args.odoo_only:
        if not args.odoo:
            fail("--odoo-only needs --odoo PATH. " + odoo_install.SOURCES_HELP)
        try:
            odoo_install.install(args.odoo, python=args.python, workdir=LOCAL_DIR)
        except (odoo_install.OdooSourceError, OSError, subprocess.CalledProcessError) as exc:
            fail(str(exc))
        return
    prepare(odoo_source=args.odoo)
    path = write_config("local", http_port=8069)
    say(f"wrote {path}")


if __name__ == "__main__":
    main()
