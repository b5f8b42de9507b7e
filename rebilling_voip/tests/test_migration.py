"""The 19.0.0.4.0 migration: databases from before the 1800 split get it on upgrade."""

import importlib.util
from pathlib import Path

from .common import VoipCase, csv_line

MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "19.0.0.4.0" / "post-migrate.py"


def load_migration():
    spec = importlib.util.spec_from_file_location("rebilling_voip_post_migrate_0_4", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.migrate


class TestFreecallMigration(VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prefix = cls.env.ref("rebilling_voip.dest_au_special_p611800")
        cls.freecall = cls.env.ref("rebilling_voip.dest_au_freecall")

    def old_database(self):
        """The state an upgrade finds: 1800 in the 13/1300 group, its calls rated there."""
        self.prefix.group_id = self.g_special
        imp = self.import_csv(
            [
                csv_line("2026-10-05 09:00:00", 60, "+61299990001", "1800 555 666", "F1"),
                csv_line("2026-10-05 09:01:00", 60, "+61299990001", "1300 123 456", "S1"),
            ]
        )
        self.assertEqual(imp.imported_count, 2)
        self.rate_all()
        self.assertEqual(self.cdr("F1").destination_group_id, self.g_special)
        self.assertAlmostEqual(self.cdr("F1").price, 0.25, msg="billed as a 13/1300 call")

    def migrate(self):
        self.env.flush_all()
        load_migration()(self.env.cr, "19.0.0.3.0")
        self.env.invalidate_all()

    def test_upgrade_moves_1800_and_rerates_its_unbilled_calls(self):
        self.old_database()
        self.migrate()
        self.assertEqual(self.prefix.group_id, self.freecall)
        self.assertEqual(self.cdr("F1").state, "new", "rated again by the next rating")
        self.assertEqual(self.cdr("S1").state, "rated", "13/1300 calls are untouched")
        self.rate_all()
        self.assertEqual(self.cdr("F1").destination_group_id, self.freecall)
        self.assertAlmostEqual(self.cdr("F1").price, 0.0)
        self.assertAlmostEqual(self.cdr("S1").price, 0.25)

    def test_invoiced_calls_and_a_prefix_moved_by_hand_stay(self):
        self.old_database()
        invoice = self.env["account.move"].create(
            {"move_type": "out_invoice", "partner_id": self.customer_a.id}
        )
        self.cdr("F1").sudo().write({"invoice_id": invoice.id, "state": "invoiced"})
        self.migrate()
        self.assertEqual(self.cdr("F1").state, "invoiced", "an invoiced call is never re-rated")
        self.assertAlmostEqual(self.cdr("F1").price, 0.25)
        # A reseller who put 1800 into a group of its own keeps it there.
        self.prefix.group_id = self.g_national
        self.migrate()
        self.assertEqual(self.prefix.group_id, self.g_national)
