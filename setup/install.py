#!/usr/bin/env python3
"""Install what the rebilling addons need and write the local Odoo config.

    python3 setup/install.py

Idempotent. It checks that Odoo 19.0 Community is importable, installs the
Python requirements (requirements.txt, requirements-test.txt), Debian's
wkhtmltopdf and chromium when missing, makes sure a PostgreSQL server answers
(starting the local Debian cluster if it is down) and writes odoo.local.conf
(ignored by git). The demo and test commands run the same steps first.
"""

from common import prepare, say, write_config


def main():
    prepare()
    path = write_config("local", http_port=8069)
    say(f"wrote {path}")


if __name__ == "__main__":
    main()
