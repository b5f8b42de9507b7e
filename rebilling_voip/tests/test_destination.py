from datetime import datetime

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import NOV, VoipCase, csv_line

OCT5 = datetime(2026, 10, 5, 9, 0, 0)


@tagged("post_install", "-at_install")
class TestDestination(VoipCase):
    def rate_calls(self, pairs):
        """Import (caller, called) calls, rate them, return their CDRs in order."""
        lines = [
            csv_line(f"2026-10-05 10:{i:02d}:00", 90, caller, called, f"X{i}")
            for i, (caller, called) in enumerate(pairs)
        ]
        imp = self.import_csv(lines)
        self.assertEqual(imp.imported_count, len(pairs), imp.error_ids.mapped("reason"))
        self.rate_all()
        return [self.cdr(f"X{i}") for i in range(len(pairs))]

    def test_australian_defaults(self):
        cdrs = self.rate_calls(
            [
                ("+61299990001", "0412 345 678"),
                ("+61299990001", "1300 123 456"),
                ("+61299990001", "1800 555 666"),
                ("+61299990001", "13 13 13"),
                ("+61299990001", "+44 20 7946 0958"),
                ("+61299990001", "+49 30 1234567"),
                ("+61299990001", "+86 10 1234 5678"),
            ]
        )
        groups = [cdr.destination_group_id for cdr in cdrs]
        self.assertEqual(
            groups,
            [
                self.g_mobile,
                self.g_special,
                self.env.ref("rebilling_voip.dest_au_freecall"),
                self.g_special,
                self.g_zone1,  # +44 beats +4
                self.g_zone2,  # +4 (Germany)
                self.g_zone2,
            ],
        )

    def test_longest_prefix_wins(self):
        own = self.env["rebilling.destination.group"].create(
            {
                "name": "Mobiles of one carrier",
                "company_id": self.company.id,
                "prefix_ids": [(0, 0, {"prefix": "+61 412"})],
            }
        )
        self.assertEqual(own.prefix_ids.prefix, "+61412", "prefixes are stored in E.164")
        self.env["rebilling.rate"].create(
            {
                "plan_id": self.plan.id,
                "destination_group_id": own.id,
                "rate_per_minute": 0.05,
            }
        )
        cdrs = self.rate_calls([("+61299990001", "0412 345 678"), ("+61299990001", "0498 765 432")])
        self.assertEqual(cdrs[0].destination_group_id, own, "+61412 is longer than +614")
        self.assertEqual(cdrs[1].destination_group_id, self.g_mobile)
        # The Python helper agrees with the SQL.
        Group = self.env["rebilling.destination.group"]
        self.assertEqual(Group._match(self.company, "+61412345678"), own)
        self.assertEqual(Group._match(self.company, "+61498765432"), self.g_mobile)

    def test_local_needs_the_callers_area(self):
        cdrs = self.rate_calls(
            [
                ("+61299990001", "(02) 9000 1234"),  # Sydney to Sydney
                ("(03) 9999 0002", "(02) 9000 1234"),  # Melbourne to Sydney
                ("(03) 9999 0002", "(03) 9000 1234"),  # Melbourne to Melbourne
            ]
        )
        self.assertEqual(cdrs[0].destination_group_id, self.g_local)
        self.assertEqual(cdrs[1].destination_group_id, self.g_national)
        self.assertEqual(cdrs[2].destination_group_id, self.g_local)
        self.assertEqual(cdrs[0].price, 0.15, "local calls: flagfall only")
        self.assertEqual(cdrs[1].price, 0.20, "90 s national at 0.10/min, 60/60 = 2 minutes")

    def test_unmatched_calls_are_listed_not_billed(self):
        cdrs = self.rate_calls(
            [
                ("+61299990001", "0550 123 456"),  # 05 (UPT): no destination group
                ("+61288887777", "0412 345 678"),  # nobody's number
            ]
        )
        self.assertEqual([c.state for c in cdrs], ["unmatched", "unmatched"])
        self.assertFalse(cdrs[0].destination_group_id)
        self.assertEqual(cdrs[0].partner_id, self.customer_a, "the service still matched")
        self.assertIn("destination", cdrs[0].rating_note)
        self.assertFalse(cdrs[1].service_id)
        self.assertIn("service", cdrs[1].rating_note)
        self.assertFalse(cdrs[0].price)
        to_review = self.Cdr.search([("state", "in", ("unmatched", "error"))])
        self.assertEqual(set(to_review.ids), {c.id for c in cdrs}, "listed for the reviewer")
        run = self.run_billing(NOV)
        self.assertFalse(
            run.invoice_ids.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "usage")
        )

    def test_prefix_must_be_e164(self):
        with self.assertRaises(ValidationError):
            self.env["rebilling.destination.prefix"].create(
                {"group_id": self.g_mobile.id, "prefix": "mobile"}
            )

    def test_group_form(self):
        form = Form(self.env["rebilling.destination.group"])
        form.name = "Satellite"
        form.category = "international"
        with form.prefix_ids.new() as line:
            line.prefix = "+881"
        group = form.save()
        self.assertEqual(group.prefix_count, 1)
