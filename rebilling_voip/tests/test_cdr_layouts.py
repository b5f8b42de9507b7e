"""Published CDR layouts import through the presets, without code (issue 22).

One sample file per layout (tests/data); the calls, skips, errors and rated
prices are written by hand from the plan of ``VoipCase``: local 0.15 a call,
national 0.10/min by the minute, mobile 0.20/min (30 s then by the second),
13/1300 0.25 a call, international zone 1 0.08/min by the minute (0.10
minimum), zone 2 cost + 50%, premium 19xx 1.00 + 0.60/min by the minute.
"""

import base64
from datetime import datetime

from odoo import Command
from odoo.tests import Form, tagged
from odoo.tools import file_open

from .common import VoipCase


@tagged("post_install", "-at_install")
class TestCdrLayouts(VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.g_premium = cls.env.ref("rebilling_voip.dest_au_premium")
        cls.plan.rate_ids = [
            Command.create(
                {
                    "destination_group_id": cls.g_premium.id,
                    "flagfall": 1.00,
                    "rate_per_minute": 0.60,
                    "first_block": 60,
                    "next_block": 60,
                }
            )
        ]

    def preset(self, xmlid, **changes):
        """The preset, duplicated and adapted as a user does (Action > Duplicate)."""
        return self.env.ref(f"rebilling_voip.{xmlid}").copy(changes)

    def upload(self, fmt, filename, trunk=None, data=None, partner=None):
        """Upload a sample file through the wizard, rated; returns the import."""
        if data is None:
            with file_open(f"rebilling_voip/tests/data/{filename}", "rb") as fh:
                data = fh.read()
        form = Form(self.env["rebilling.cdr.import.wizard"].with_context(default_filename=filename))
        form.format_id = fmt
        form.file = base64.b64encode(data)
        if partner:
            form.partner_id = partner
        if trunk:
            form.trunk = trunk
        form.rate = True
        action = form.save().action_import()
        return self.env["rebilling.cdr.import"].browse(action["res_id"])

    def assert_counts(self, imp, imported, skipped, errors, duplicates=0):
        self.assertEqual(imp.state, "done", imp.message)
        self.assertEqual(
            (imp.imported_count, imp.skipped_count, imp.error_count, imp.duplicate_count),
            (imported, skipped, errors, duplicates),
        )
        self.assertEqual(imp.row_count, imported + skipped + errors + duplicates)

    def assert_prices(self, imp, expected):
        """``expected``: {call id: (customer, destination group, price)}."""
        cdrs = self.Cdr.search([("import_id", "=", imp.id)])
        self.assertEqual(sorted(cdrs.mapped("supplier_call_id")), sorted(expected))
        for cdr in cdrs:
            partner, group, price = expected[cdr.supplier_call_id]
            with self.subTest(call=cdr.supplier_call_id):
                self.assertEqual(cdr.state, "rated", cdr.rating_note)
                self.assertEqual(cdr.partner_id, partner)
                self.assertEqual(cdr.destination_group_id, group)
                self.assertAlmostEqual(cdr.price, price, places=4)

    def test_asterisk_master_csv(self):
        fmt = self.preset("cdr_format_asterisk")
        imp = self.upload(fmt, "asterisk_master.csv")
        # Skipped: extension to extension, inbound (to an extension), not answered.
        self.assert_counts(imp, imported=4, skipped=3, errors=1)
        self.assertIn("Unparsable date", imp.error_ids.reason)
        self.assertEqual(imp.error_ids.line_number, 7)
        b, local, national = self.customer_b, self.g_local, self.g_national
        emergency = self.env.ref("rebilling_voip.dest_au_emergency")
        self.assert_prices(
            imp,
            {
                # Extension 201 of TRUNK-B (Melbourne) to Melbourne: local.
                "1759615200.1": (b, local, 0.15),
                "1759615800.2": (b, self.g_mobile, 0.15),  # 45 s
                "1759618200.6": (b, national, 0.20),  # 61 s to Sydney: 2 minutes
                "1759619400.8": (b, emergency, 0.0),
            },
        )
        cdr = self.cdr("1759615200.1")
        # Sydney time (daylight saving) to UTC; the extension is no caller number.
        self.assertEqual(cdr.start_time, datetime(2026, 10, 4, 22, 0, 0))
        self.assertEqual((cdr.duration, cdr.trunk, cdr.caller), (120, "TRUNK-B", False))

    def test_freeswitch_cdr_csv(self):
        fmt = self.preset("cdr_format_freeswitch")
        imp = self.upload(fmt, "freeswitch_cdr.csv")
        # Skipped: 0 billable seconds, inbound to an extension.
        self.assert_counts(imp, imported=3, skipped=2, errors=0)
        self.assert_prices(
            imp,
            {
                "a1b2c3d4-0000-4000-8000-000000000001": (self.customer_b, self.g_national, 0.10),
                # 0011 64 9 123 4567: New Zealand, 90 s by the minute.
                "a1b2c3d4-0000-4000-8000-000000000002": (self.customer_b, self.g_zone1, 0.16),
                "a1b2c3d4-0000-4000-8000-000000000005": (self.customer_a, self.g_special, 0.25),
            },
        )
        self.assertEqual(
            self.cdr("a1b2c3d4-0000-4000-8000-000000000002").called_e164, "+6491234567"
        )

    def test_broadworks(self):
        fmt = self.preset("cdr_format_broadworks")
        imp = self.upload(fmt, "broadworks_cdr.csv")
        # Skipped: a terminating (inbound) call, a call not answered.
        self.assert_counts(imp, imported=4, skipped=2, errors=0)
        a = self.customer_a
        self.assert_prices(
            imp,
            {
                "0001a1b2c3d4e5f60001": (a, self.g_local, 0.15),  # Sydney to Sydney
                # Sydney to Canberra: both 02, not one local zone: national, 2 minutes.
                "0001a1b2c3d4e5f60002": (a, self.g_national, 0.20),
                "0001a1b2c3d4e5f60005": (a, self.g_premium, 1.60),  # 1900: 1.00 + 1 min
                "0001a1b2c3d4e5f60006": (a, self.g_zone1, 0.10),  # NZ, 30 s: the minimum
            },
        )
        first = self.cdr("0001a1b2c3d4e5f60001")
        # yyyymmddhhmmss.fff in UTC; duration = release - answer.
        self.assertEqual(first.start_time, datetime(2026, 10, 5, 0, 0, 0))
        self.assertEqual(first.duration, 60)
        premium = self.cdr("0001a1b2c3d4e5f60005")
        self.assertTrue(premium.review_calls)
        to_review = self.Cdr.search(
            ["|", ("state", "in", ("unmatched", "error")), ("review_calls", "=", True)]
        )
        self.assertIn(premium, to_review, "premium calls are listed in Calls to Review")
        self.assertNotIn(first, to_review)

    def test_3cx_call_log(self):
        fmt = self.preset("cdr_format_3cx")
        # The PBX is customer A's: its trunk (a number of A's service) given at the upload.
        imp = self.upload(fmt, "3cx_call_log.csv", trunk="+61299990001")
        # Skipped: internal, inbound, unanswered; error: a duration that is no hh:mm:ss.
        self.assert_counts(imp, imported=3, skipped=3, errors=1)
        self.assertIn("Unparsable duration", imp.error_ids.reason)
        a = self.customer_a
        self.assert_prices(
            imp,
            {
                "00000-001": (a, self.g_local, 0.15),  # 00:01:05 Sydney to Sydney
                "00000-002": (a, self.g_mobile, 0.15),  # 00:00:45
                "00000-006": (a, self.g_zone1, 0.16),  # 00:01:30 to London
            },
        )
        self.assertEqual(self.cdr("00000-001").duration, 65)
        self.assertEqual(self.cdr("00000-001").start_time, datetime(2026, 10, 4, 22, 0, 0))

    def test_3cx_call_log_of_a_customer(self):
        """The customer of the file chosen at the upload: their voice service's trunk."""
        fmt = self.preset("cdr_format_3cx")
        imp = self.upload(fmt, "3cx_call_log.csv", partner=self.customer_b)
        self.assertEqual(imp.trunk, "(03) 9999 0002")
        self.assert_counts(imp, imported=3, skipped=3, errors=1)
        cdr = self.cdr("00000-001")
        # B's service is in Melbourne: Sydney is national (65 s: 2 minutes).
        self.assertEqual((cdr.partner_id, cdr.price), (self.customer_b, 0.20))

    def test_customer_of_every_call_on_the_format_and_the_upload(self):
        """The customer of a format's files (their PBX) is set once on the format: its
        files need no trunk at the upload; a customer chosen at the upload overrides it."""
        with Form(self.preset("cdr_format_3cx")) as form:
            form.partner_id = self.customer_b
            self.assertEqual(form.fixed_trunk, "(03) 9999 0002", "the customer's voice trunk")
        fmt = form.record
        imp = self.upload(fmt, "3cx_call_log.csv")
        self.assertFalse(imp.trunk, "nothing given at the upload")
        self.assert_counts(imp, imported=3, skipped=3, errors=1)
        cdr = self.cdr("00000-001")
        # B's service is in Melbourne: Sydney is national (65 s: 2 minutes).
        self.assertEqual(
            (cdr.trunk, cdr.partner_id, cdr.price), ("(03) 9999 0002", self.customer_b, 0.20)
        )
        # Another month's file of the same PBX, uploaded for customer A: A's trunk instead.
        with file_open("rebilling_voip/tests/data/3cx_call_log.csv", "rb") as fh:
            data = fh.read().replace(b"00000-", b"00001-").replace(b"2026/10/", b"2026/11/")
        imp = self.upload(fmt, "3cx_november.csv", data=data, partner=self.customer_a)
        self.assertEqual(imp.trunk, "+61299990001")
        self.assert_counts(imp, imported=3, skipped=3, errors=1)
        cdr = self.cdr("00001-001")
        self.assertEqual(
            (cdr.trunk, cdr.partner_id, cdr.price), ("+61299990001", self.customer_a, 0.15)
        )

    def test_customer_of_every_call_needs_a_voice_trunk(self):
        """A customer without a voice service identifier cannot give the trunk of a file."""
        nobody = self.env["res.partner"].create({"name": "No voice service"})
        with self.assertRaisesRegex(Exception, "has no voice service"):
            with Form(self.preset("cdr_format_3cx")) as form:
                form.partner_id = nobody
        with file_open("rebilling_voip/tests/data/3cx_call_log.csv", "rb") as fh:
            data = fh.read()
        with self.assertRaisesRegex(Exception, "has no voice service"):
            self.upload(self.preset("cdr_format_3cx"), "3cx.csv", data=data, partner=nobody)

    def test_au_wholesale_carrier(self):
        fmt = self.preset("cdr_format_au_wholesale")
        imp = self.upload(fmt, "au_wholesale.csv")
        self.assert_counts(imp, imported=5, skipped=0, errors=2)
        reasons = {e.line_number: e.reason for e in imp.error_ids}
        self.assertIn("Missing caller and trunk", reasons[7])
        self.assertIn("Unparsable date", reasons[8])
        a, b = self.customer_a, self.customer_b
        self.assert_prices(
            imp,
            {
                # Anonymous on TRUNK-B (Melbourne), an hour to Melbourne: local, not 6.00.
                "W1": (b, self.g_local, 0.15),
                "W2": (b, self.g_zone1, 0.10),  # 442079460011: London, not an AU number
                "W3": (b, self.g_zone2, 0.30),  # 861012345678: Beijing, cost 0.20 + 50%
                "W4": (a, self.g_local, 0.15),  # 98765432 dialled from Sydney
                "W5": (a, self.g_national, 0.20),  # Sydney to Canberra
            },
        )
        self.assertEqual(self.cdr("W2").called_e164, "+442079460011")
        self.assertEqual(self.cdr("W3").called_e164, "+861012345678")
        self.assertEqual(self.cdr("W4").called_e164, "+61298765432")
        self.assertEqual(self.cdr("W1").start_time, datetime(2026, 10, 4, 22, 0, 0))

    def test_date_and_time_in_two_utc_columns(self):
        """A format built in the form: date and time columns, UTC, no call id column."""
        with Form(self.env["rebilling.cdr.format"]) as form:
            form.name = "Carrier with date and time columns"
            form.column_count = 6
            form.col_start = 1
            form.col_time = 2
            form.col_caller = 3
            form.col_called = 4
            form.col_duration = 5
            form.col_cost = 6
            form.col_call_id = 0
            form.timezone = "UTC"
        fmt = form.record
        data = (
            b"date,time,from,to,secs,cost\n"
            b"2026-10-05,09:00:00,0299990001,0298765432,60,0.01\n"
            b"2026-10-05,09:05:30,0299990001,0412345678,30,0.01\n"
            b"2026-10-05,25:00:00,0299990001,0412345678,30,0.01\n"
        )
        imp = self.upload(fmt, "two_columns.csv", data=data)
        self.assert_counts(imp, imported=2, skipped=0, errors=1)
        self.assertEqual(imp.error_ids.start_raw, "2026-10-05 25:00:00")
        cdrs = self.Cdr.search([("import_id", "=", imp.id)], order="start_time")
        self.assertEqual(
            cdrs.mapped("start_time"),
            [datetime(2026, 10, 5, 9, 0, 0), datetime(2026, 10, 5, 9, 5, 30)],
        )
        self.assertEqual(cdrs.mapped("price"), [0.15, 0.10])
        # Corrected and imported again: the date and the time go back to their columns.
        with Form(imp) as edit, edit.error_ids.edit(0) as line:
            line.start_raw = "2026-10-05 11:00:00"
        imp.error_ids.action_reimport()
        self.assertEqual((imp.imported_count, imp.error_count), (3, 0))

    def test_fixed_width_file(self):
        with Form(self.env["rebilling.cdr.format"]) as form:
            form.name = "Fixed-width carrier"
            form.delimiter = "fixed"
            form.has_header = False
            form.column_count = 5
            form.field_positions = "1-14, 15-30, 31-46, 47-52, 53-62"
            form.col_start = 1
            form.col_caller = 2
            form.col_called = 3
            form.col_duration = 4
            form.col_call_id = 5
            form.col_cost = 0
            form.date_format = "compact"
        fmt = form.record

        def line(start, caller, called, secs, call_id):
            return f"{start:<14}{caller:<16}{called:<16}{secs:>6}{call_id:<10}"

        data = "\n".join(
            [
                line("20261005090000", "0299990001", "0298765432", "60", "F1"),
                line("20261005091000", "0299990001", "0412345678", "45", "F2"),
                "20261005092000  0299990001",
                line("2026100509300x", "0299990001", "0412345678", "45", "F4"),
            ]
        ).encode()
        imp = self.upload(fmt, "fixed.txt", data=data)
        self.assert_counts(imp, imported=2, skipped=0, errors=2)
        reasons = {e.line_number: e.reason for e in imp.error_ids}
        self.assertIn("Wrong column count", reasons[3])
        self.assertIn("Unparsable date", reasons[4])
        self.assert_prices(
            imp,
            {
                "F1": (self.customer_a, self.g_local, 0.15),
                "F2": (self.customer_a, self.g_mobile, 0.15),
            },
        )
        # Corrected in its field: put back at its position.
        bad = imp.error_ids.filtered(lambda e: e.line_number == 4)
        with Form(imp) as edit, edit.error_ids.edit(imp.error_ids.ids.index(bad.id)) as row:
            row.start_raw = "20261005093000"
        bad.action_reimport()
        self.assertTrue(self.cdr("F4"))

    def test_bad_format_definitions_are_refused(self):
        with self.assertRaisesRegex(Exception, "column positions"):
            self.env["rebilling.cdr.format"].create(
                {"name": "x", "delimiter": "fixed", "column_count": 6, "field_positions": "1-5"}
            )
        with self.assertRaisesRegex(Exception, "Release time"):
            self.env["rebilling.cdr.format"].create(
                {"name": "y", "column_count": 6, "duration_format": "times", "col_duration": 0}
            )
