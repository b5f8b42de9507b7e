"""The demo's calls (``rebilling.voip.demo``) as they are imported and rated: every
carrier form of number in them is understood, 000 is free, only the rows written
bad on purpose are errors."""

import random
from datetime import datetime

from odoo.tests import tagged

from ..demo.rebilling_voip_demo import EXTRA_CALLED
from .common import VoipCase


@tagged("post_install", "-at_install")
class TestDemoCalls(VoipCase):
    def test_demo_calls_import_and_rate(self):
        callers = ["+61299990001", "+61399990002"]
        text = self.env["rebilling.voip.demo"]._demo_csv(
            callers, datetime(2026, 10, 1), datetime(2026, 11, 1), random.Random(7)
        )
        imp = self.env["rebilling.cdr.import"]._import_file(self.fmt, text.encode(), "demo.csv")
        self.assert_accounted(imp)
        self.assertEqual(imp.error_count, 8, "only the DEMO-BAD rows")
        self.assertEqual(imp.duplicate_count, 10, "the calls the supplier sent twice")
        self.rate_all()
        calls = self.Cdr.search([("import_id", "=", imp.id)])
        emergency = calls.filtered(lambda c: c.called in ("000", "112"))
        self.assertEqual(len(emergency), EXTRA_CALLED.count("000") + EXTRA_CALLED.count("112"))
        self.assertEqual(
            emergency.destination_group_id, self.env.ref("rebilling_voip.dest_au_emergency")
        )
        self.assertEqual(set(emergency.mapped("state")), {"rated"})
        self.assertEqual(set(emergency.mapped("price")), {0.0})
        e164 = {c.called: c.called_e164 for c in calls if c.called in EXTRA_CALLED}
        self.assertEqual(e164["61412555019"], "+61412555019")
        self.assertEqual(e164["61 2 9876 5432"], "+61298765432")
        self.assertEqual(e164["0044 20 7946 0011"], "+442079460011")
        groups = calls.destination_group_id.mapped("code")
        for code in ("AU-13", "AU-1800", "AU-000", "AU-MOB"):
            self.assertIn(code, groups)
