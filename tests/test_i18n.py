"""Each addon's translation template ``i18n/<addon>.pot`` is what Odoo exports today.

The same export and comparison as ``python3 setup/i18n.py --check`` (Odoo's
``trans_export`` on the test database, header dates left out); when it fails, run
``python3 setup/i18n.py`` and commit the templates.
"""

import importlib.util
import sys
from pathlib import Path

from odoo.tests import TransactionCase, tagged

SETUP = Path(__file__).resolve().parent.parent / "setup"


def _setup_i18n():
    if str(SETUP) not in sys.path:
        sys.path.insert(0, str(SETUP))  # setup/i18n.py imports setup/common.py
    spec = importlib.util.spec_from_file_location("rebilling_setup_i18n", SETUP / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestTranslationTemplates(TransactionCase):
    def test_every_addon_has_a_current_pot(self):
        i18n = _setup_i18n()
        addons = [a for a in i18n.ADDONS if (i18n.ROOT / a).is_dir()]
        missing = [a for a in addons if not i18n.pot_path(a).exists()]
        self.assertFalse(missing, "no i18n/<addon>.pot: run python3 setup/i18n.py")
        self.assertEqual(
            i18n.stale_addons(self.env, addons),
            [],
            "i18n/<addon>.pot out of date: run python3 setup/i18n.py and commit the templates",
        )

    def test_header_dates_do_not_count(self):
        i18n = _setup_i18n()
        pot = i18n.pot_path("rebilling_base").read_text()
        moved = pot.replace('"POT-Creation-Date: ', '"POT-Creation-Date: 1999-01-01 00:00+0000 ')
        self.assertEqual(i18n.without_dates(moved), i18n.without_dates(pot))
        self.assertNotEqual(
            i18n.without_dates(pot.replace('msgid "', 'msgid "Changed ', 1)),
            i18n.without_dates(pot),
        )
