import os
import tempfile
from datetime import datetime
from unittest.mock import patch

from odoo import sql_db
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.rebilling_base.tests.common import db_fail
from odoo.addons.rebilling_voip.models.rebilling_cdr_rating import LOCK_KEY
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import HEADER, VoipCase, csv_line

A = "+61299990001"


@tagged("post_install", "-at_install")
class TestImport(VoipCase):
    def sample(self):
        """Header (line 1), 4 good rows, 2 duplicates, 7 bad rows, a blank line."""
        return [
            csv_line("2026-10-01 09:00:00", 60, A, "0412 000 001", "C1"),  # line 2
            csv_line("2026-10-01 09:05:00", 120, A, "(02) 9000 1234", "C2"),  # 3
            csv_line("2026-10-01 09:10:00", 30, A, "+44 20 7946 0958", "C3"),  # 4
            csv_line("2026-10-01 09:15:00", 45, A, "1300 123 456", ""),  # 5: no call id
            csv_line("2026-10-01 09:20:00", 99, A, "0412 000 002", "C1"),  # 6: same call id
            csv_line("2026-10-01 09:15:00", 45, A, "1300 123 456", ""),  # 7: same call
            csv_line("2026-02-30 10:00:00", 60, A, "0412 000 003", "E1"),  # 8: no 30 Feb
            csv_line("yesterday", 60, A, "0412 000 003", "E2"),  # 9
            csv_line("2026-10-01 10:00:00", -5, A, "0412 000 003", "E3"),  # 10
            csv_line("2026-10-01 10:01:00", 60, A, "call me", "E4"),  # 11
            "2026-10-01 10:02:00,60," + A + ",0412 000 003,E5",  # 12: 5 columns
            csv_line("2026-10-01 10:03:00", 60, A, "0412 000 003", "E6") + ",x",  # 13: 7
            csv_line("2026-10-01 10:04:00", 60, A, "0412 000 003", "E7", "a lot"),  # 14
            "",  # 15: blank, not a row
        ]

    def test_every_row_accounted_for(self):
        imp = self.import_csv(self.sample())
        self.assertEqual(imp.state, "done")
        self.assertEqual(imp.row_count, 13)
        self.assertEqual(imp.imported_count, 4)
        self.assertEqual(imp.duplicate_count, 2)
        self.assertEqual(imp.error_count, 7)
        self.assert_accounted(imp)
        self.env.cr.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE %s", [f"rebilling_voip_%_{imp.id}"]
        )
        self.assertFalse(self.env.cr.fetchall(), "the work tables of the import are dropped")
        reasons = {err.line_number: err.reason for err in imp.error_ids}
        self.assertEqual(sorted(reasons), [8, 9, 10, 11, 12, 13, 14])
        self.assertIn("Unparsable date", reasons[8])
        self.assertIn("Unparsable date", reasons[9])
        self.assertIn("Negative duration", reasons[10])
        self.assertIn("Unknown number format", reasons[11])
        self.assertIn("Wrong column count: 5 instead of 6", reasons[12])
        self.assertIn("Wrong column count: 7 instead of 6", reasons[13])
        self.assertIn("Unparsable cost", reasons[14])
        err = imp.error_ids.filtered(lambda e: e.line_number == 9)
        self.assertEqual(err.raw_line, csv_line("yesterday", 60, A, "0412 000 003", "E2"))
        self.assertTrue(err.has_fields)
        self.assertEqual(err.start_raw, "yesterday")
        # The texts of the typed fields come from the staged file, not the rows table.
        by_line = {err.line_number: err for err in imp.error_ids}
        self.assertEqual(by_line[10].duration_raw, "-5")
        self.assertEqual(by_line[14].cost_raw, "a lot")
        self.assertEqual(by_line[8].start_raw, "2026-02-30 10:00:00")
        self.assertFalse(imp.error_ids.filtered(lambda e: e.line_number == 12).has_fields)
        cdr = self.cdr("C1")
        self.assertEqual(cdr.duration, 60, "the first of two rows with one call id is kept")
        self.assertEqual(cdr.import_line, 2)
        self.assertEqual(cdr.start_time, datetime(2026, 10, 1, 9, 0, 0))
        self.assertEqual(cdr.state, "new")
        self.assertAlmostEqual(cdr.cost, 0.01)

    def test_whole_csv_and_line_by_line_staging_agree(self):
        """Files COPY reads whole and files it can't (a quoted line break) give the same rows."""
        lines = [
            csv_line("2026-10-05 09:00:00", 60, A, "0412 000 040", "W1"),  # line 2
            csv_line("2026-10-05 09:01:00", 60, A, "0412 000 041", "W2", "abc"),  # 3: cost
            f'2026-10-05 09:02:00,60,{A},0412 000 042,"W3, quoted",0.01',  # 4
            f'2026-10-05 09:03:00,60,{A},not a number,"W4, quoted", 0.01',  # 5: called
            csv_line("31/10/2026 09:04", 60, A, "0412 000 044", "W5"),  # 6: date
        ]
        whole = self.import_csv(lines, filename="whole.csv")
        # The same rows after a quoted line break, which COPY would read as one row.
        broken = [f'2026-10-06 09:00:00,60,{A},0412 000 050,"W6\nsplit",0.01']
        x_lines = [
            line.replace("2026-10-05", "2026-10-07").replace(",W", ",X").replace('"W', '"X')
            for line in lines
        ]
        by_line = self.import_csv(x_lines + broken, filename="by_line.csv")
        for imp, prefix, sent in ((whole, "W", lines), (by_line, "X", x_lines)):
            self.assertEqual(imp.state, "done")
            self.assert_accounted(imp)
            for err in imp.error_ids.filtered(lambda e: e.line_number <= 6):
                self.assertEqual(err.raw_line, sent[err.line_number - 2], "the line as sent")
            self.assertEqual(self.cdr(f"{prefix}1").import_line, 2)
            self.assertEqual(self.cdr(f"{prefix}3, quoted").import_line, 4)
            reasons = {err.line_number: err.reason for err in imp.error_ids}
            self.assertIn("Unparsable cost", reasons[3])
            self.assertIn("Unknown number format (called): not a number", reasons[5])
            self.assertIn("Unparsable date: 31/10/2026 09:04", reasons[6])
            called = imp.error_ids.filtered(lambda e, p=prefix: e.call_id_raw == f"{p}4, quoted")
            self.assertEqual(called.line_number, 5)
            self.assertEqual(called.cost_raw, "0.01")
        self.assertEqual((whole.row_count, whole.imported_count, whole.error_count), (5, 2, 3))
        # 7 lines after the header: the broken row is two lines (two errors).
        self.assertEqual((by_line.row_count, by_line.error_count), (7, 5))
        # The error lines read back to the same fields: correct one and import it again.
        called = whole.error_ids.filtered(lambda e: e.line_number == 5)
        self.assertIn('"W4, quoted"', called.raw_line)
        called.called_raw = "0412 000 043"
        called.action_reimport()
        cdr = self.cdr("W4, quoted")
        self.assertEqual((cdr.import_line, cdr.called_e164, cdr.cost), (5, "+61412000043", 0.01))
        self.assert_accounted(whole)

    def test_dates_postgresql_would_read_are_still_errors(self):
        """Dates of the usual shape that are not real times: error rows, the others import."""
        bad = {
            "2026-10-01 24:00:00": "B1",  # PostgreSQL reads the 24th hour as the next day
            "2026-10-01 10:00:60": "B2",  # and a 60th second as the next minute
            "2026-02-29 10:00:00": "B3",  # not a leap year
            "2026-1a-01 10:00:00": "B4",
            "1899-12-31 10:00:00": "B5",
            "2026-10-01 10:00:.5": "B6",
        }
        lines = [csv_line(stamp, 60, A, "0412 000 060", call_id) for stamp, call_id in bad.items()]
        lines.append(csv_line("2026-10-01 10:00:00", 60, A, "0412 000 060", "G1"))
        lines.append(csv_line("2026-10-01T10:00:01Z", 60, A, "0412 000 060", "G2"))
        imp = self.import_csv(lines)
        self.assertEqual((imp.imported_count, imp.error_count), (2, len(bad)))
        for err in imp.error_ids:
            self.assertIn("Unparsable date", err.reason)
        self.assertEqual(self.cdr("G2").start_time, datetime(2026, 10, 1, 10, 0, 1))
        # Without the 30 February the file goes the fast way: the same errors.
        del bad["2026-02-29 10:00:00"], bad["2026-1a-01 10:00:00"]
        lines = [
            csv_line(stamp.replace("2026", "2027"), 60, A, "0412 000 061", call_id + "x")
            for stamp, call_id in bad.items()
        ]
        imp = self.import_csv(lines)
        self.assertEqual((imp.imported_count, imp.error_count), (0, len(bad)))

    def test_same_file_twice_is_all_duplicates(self):
        first = self.import_csv(self.sample())
        # Another file with the same calls (one line more): its calls are duplicates.
        second = self.import_csv(
            [*self.sample(), csv_line("2026-10-03 09:00:00", 60, A, "0412 000 009", "N1")]
        )
        self.assertEqual(second.imported_count, 1)
        self.assertEqual(second.duplicate_count, 6)
        self.assertEqual(second.error_count, 7)
        self.assert_accounted(second)
        self.assertEqual(self.Cdr.search_count([]), first.imported_count + 1)

    def test_same_file_content_again_adds_nothing_and_says_so(self):
        first = self.import_csv(self.sample(), filename="oct.csv")
        errors = self.env["rebilling.cdr.error"].search_count([])
        calls = self.Cdr.search_count([])
        again = self.import_csv(self.sample(), filename="oct (copy).csv")
        self.assertEqual(again.state, "done")
        self.assertEqual(
            (again.row_count, again.imported_count, again.error_count, again.duplicate_count),
            (0, 0, 0, 0),
        )
        self.assertIn("Same content as oct.csv", again.message)
        self.assertEqual(self.Cdr.search_count([]), calls)
        self.assertEqual(self.env["rebilling.cdr.error"].search_count([]), errors)
        self.assertEqual(first.checksum, again.checksum)
        # Dropped in the import folder again: the same, and the file goes to done/.
        with tempfile.TemporaryDirectory() as folder:
            self.fmt.sudo().import_directory = folder
            text = "\n".join([HEADER, *self.sample()]) + "\n"
            with open(os.path.join(folder, "oct.csv"), "w") as fh:
                fh.write(text)
            dropped = self.fmt._import_directory(commit=False)
            self.assertEqual((dropped.state, dropped.row_count), ("done", 0))
            self.assertIn("nothing imported again", dropped.message)
            self.assertTrue(os.path.exists(os.path.join(folder, "done", "oct.csv")))
        self.assertEqual(self.env["rebilling.cdr.error"].search_count([]), errors)

    def test_duplicate_by_call_id_or_by_call(self):
        self.import_csv(
            [
                csv_line("2026-10-02 08:00:00", 60, A, "0412 000 010", "K1"),
                csv_line("2026-10-02 08:10:00", 60, A, "0412 000 010", ""),
            ]
        )
        imp = self.import_csv(
            [
                # Same supplier call id, details changed by the supplier: skipped.
                csv_line("2026-10-02 08:00:01", 61, A, "0412 000 010", "K1"),
                # Same caller, called, start and duration under another id: another call
                # (the supplier's call id tells calls apart).
                csv_line("2026-10-02 08:00:00", 60, "02 9999 0001", "0412000010", "K2"),
                # Same call without a call id: a duplicate.
                csv_line("2026-10-02 08:10:00", 60, "02 9999 0001", "0412000010", ""),
                # Same number at another time: a new call.
                csv_line("2026-10-02 08:30:00", 60, A, "0412 000 010", "K3"),
            ]
        )
        self.assertEqual((imp.imported_count, imp.duplicate_count), (2, 2))
        self.assert_accounted(imp)
        self.assertTrue(self.cdr("K3"))
        self.assertTrue(self.cdr("K2"))

    def test_call_id_reused_far_away_is_still_a_duplicate(self):
        # Outside the window searched on the fast path: the unique index catches it.
        self.import_csv([csv_line("2026-01-02 08:00:00", 60, A, "0412 000 011", "OLD-1")])
        imp = self.import_csv(
            [
                csv_line("2026-10-02 08:00:00", 60, A, "0412 000 011", "OLD-1"),
                csv_line("2026-10-02 08:05:00", 60, A, "0412 000 012", "NEW-1"),
            ]
        )
        self.assertEqual((imp.imported_count, imp.duplicate_count), (1, 1))
        self.assert_accounted(imp)

    def test_correct_and_reimport(self):
        imp = self.import_csv(self.sample())
        bad_date = imp.error_ids.filtered(lambda e: e.line_number == 8)
        few_columns = imp.error_ids.filtered(lambda e: e.line_number == 12)
        bad_number = imp.error_ids.filtered(lambda e: e.line_number == 11)
        # The user corrects the fields of one row, the raw line of another, and
        # mistypes the third.
        with Form(imp) as form:
            with form.error_ids.edit(imp.error_ids.ids.index(bad_date.id)) as line:
                line.start_raw = "2026-10-28 10:00:00"
            with form.error_ids.edit(imp.error_ids.ids.index(few_columns.id)) as line:
                line.raw_line = few_columns.raw_line + ",0.02"
            with form.error_ids.edit(imp.error_ids.ids.index(bad_number.id)) as line:
                line.called_raw = "still not a number"
        (bad_date | few_columns | bad_number).action_reimport()
        self.assertEqual(imp.imported_count, 6)
        self.assertEqual(imp.error_count, 5)
        self.assertEqual(imp.duplicate_count, 2)
        self.assert_accounted(imp)
        fixed = self.cdr("E1")
        self.assertEqual(fixed.start_time, datetime(2026, 10, 28, 10, 0, 0))
        self.assertEqual(fixed.import_line, 8)
        self.assertEqual(self.cdr("E5").cost, 0.02)
        again = imp.error_ids.filtered(lambda e: e.line_number == 11)
        self.assertIn("still not a number", again.reason)
        # Importing the same corrected row twice: now a duplicate, still accounted for.
        dup_line = csv_line("2026-10-28 10:00:00", 60, A, "0412 000 003", "E1")
        self.env["rebilling.cdr.error"].create(
            {
                "import_id": imp.id,
                "company_id": self.company.id,
                "line_number": 99,
                "raw_line": dup_line,
                "reason": "test",
            }
        )
        imp.invalidate_recordset()
        imp.write({"error_count": imp.error_count + 1, "row_count": imp.row_count + 1})
        imp.action_reimport_errors()
        self.assertEqual(imp.duplicate_count, 3)
        self.assert_accounted(imp)

    def test_inconsistent_counts_import_nothing(self):
        # The model's class, whichever file of the import defines the method.
        Import = type(self.env["rebilling.cdr.import"])
        original = Import._insert_cdrs

        def off_by_one(self, *args):
            imported, duplicates = original(self, *args)
            return imported + 1, duplicates

        text = "\n".join([HEADER, *self.sample()]).encode()
        with patch.object(Import, "_insert_cdrs", off_by_one):
            with self.assertRaisesRegex(UserError, "nothing was imported"):
                self.env["rebilling.cdr.import"]._import_file(self.fmt, text, "bad.csv")
            self.assertFalse(self.env["rebilling.cdr.import"].search([("name", "=", "bad.csv")]))
            failed = self.env["rebilling.cdr.import"]._import_file(
                self.fmt, text, "bad.csv", raise_on_error=False
            )
        self.assertEqual(failed.state, "failed")
        self.assertIn("nothing was imported", failed.message)
        self.assertFalse(self.Cdr.search([]), "no call of a failed import stays")
        self.assertFalse(self.env["rebilling.cdr.error"].search([]))

    def test_padded_fields_are_trimmed_wherever_the_padding_is(self):
        """Each file has one kind of padding only: each must be found (the import
        skips the trimming scan for files it can tell have none)."""
        cases = {
            "P1": " 2026-10-03 08:00:00,60,+61299990001,0412 000 021,P1,0.01",
            "P2": "2026-10-03 08:01:00, 60 ,+61299990001,0412 000 022,P2,0.01",
            "P3": '2026-10-03 08:02:00,60,"+61299990001 ",0412 000 023,P3,0.01',
            "P4": "2026-10-03 08:03:00,60,+61299990001,0412 000 024,P4,0.01 ",
            "P5": '2026-10-03 08:04:00,60,+61299990001,0412 000 025,P5,""',
            "P6": "2026-10-03 08:05:00,60,+61299990001,0412 000 026,P6,$0.01",
        }
        for call_id, line in cases.items():
            with self.subTest(call_id=call_id):
                imp = self.import_csv([line], filename=f"{call_id}.csv")
                self.assertEqual(
                    (imp.imported_count, imp.error_count),
                    (1, 0),
                    imp.error_ids.mapped("reason"),
                )
                cdr = self.cdr(call_id)
                self.assertEqual(cdr.duration, 60)
                self.assertEqual(cdr.caller_e164, "+61299990001")
                self.assertAlmostEqual(cdr.cost, 0.0 if call_id == "P5" else 0.01)

    def test_quoted_fields_and_other_layouts(self):
        imp = self.import_csv(
            ['"2026-10-03 08:00:00","60","+61 2 9999 0001","0412 000 020","Q1","$0.03"']
        )
        self.assertEqual(imp.imported_count, 1, imp.error_ids.mapped("reason"))
        self.assertEqual(self.cdr("Q1").cost, 0.03)
        sydney = self.env["rebilling.cdr.format"].create(
            {
                "name": "Day first, Sydney time, no header",
                "delimiter": "semicolon",
                "has_header": False,
                "column_count": 7,
                "col_call_id": 1,
                "col_start": 2,
                "col_duration": 3,
                "col_caller": 4,
                "col_called": 5,
                "col_trunk": 6,
                "col_cost": 7,
                "date_format": "dmy",
                "timezone": "Australia/Sydney",
            }
        )
        imp = self.import_csv(
            [
                "S1;3/10/2026 9:30;75;;0412 000 021;TRUNK-B;0.05",
                "S2;31/09/2026 9:30;75;;0412 000 021;TRUNK-B;0.05",
            ],
            fmt=sydney,
            header=False,
        )
        self.assertEqual((imp.row_count, imp.imported_count, imp.error_count), (2, 1, 1))
        cdr = self.cdr("S1")
        self.assertEqual(cdr.start_time, datetime(2026, 10, 2, 23, 30), "stored in UTC (AEST, +10)")
        self.assertEqual(cdr.trunk, "TRUNK-B")
        self.assertFalse(cdr.caller)
        epoch = self.fmt.copy({"name": "Epoch", "date_format": "epoch"})
        imp = self.import_csv([csv_line("1790000000", 60, A, "0412 000 022", "EP1")], fmt=epoch)
        self.assertEqual(imp.imported_count, 1)
        self.assertEqual(self.cdr("EP1").start_time, datetime(2026, 9, 21, 14, 13, 20))

    def test_no_orm_create_per_row(self):
        lines = [
            csv_line(f"2026-10-04 10:{i % 60:02d}:{i // 60:02d}", 60, A, "0412 000 030", f"B{i}")
            for i in range(200)
        ]
        with patch.object(type(self.Cdr), "create", side_effect=AssertionError("ORM create")):
            imp = self.import_csv(lines)
        self.assertEqual(imp.imported_count, 200)

    def test_import_then_rate_from_the_wizard(self):
        imp = self.import_csv(
            [csv_line("2026-10-05 10:00:00", 60, A, "0412 000 040", "W1")], rate=True
        )
        self.assertEqual(imp.cdr_count, 1)
        self.assertEqual(self.cdr("W1").state, "rated")
        action = imp.action_view_cdrs()
        self.assertEqual(self.Cdr.search(action["domain"]), self.cdr("W1"))

    def test_scheduled_import_from_a_folder(self):
        with tempfile.TemporaryDirectory() as folder:
            self.fmt.sudo().import_directory = folder
            good = "\n".join([HEADER, csv_line("2026-10-06 10:00:00", 60, A, "0412 000 050", "F1")])
            with open(os.path.join(folder, "a.csv"), "w") as fh:
                fh.write(good)
            with open(os.path.join(folder, "b.csv"), "wb") as fh:
                fh.write(b"")
            imports = self.fmt._import_directory(commit=False)
            self.assertEqual(imports.mapped("state"), ["done", "done"])
            self.assertEqual(imports[0].imported_count, 1)
            self.assertTrue(os.path.exists(os.path.join(folder, "done", "a.csv")))
            self.assertFalse(os.path.exists(os.path.join(folder, "a.csv")))

    def test_folder_import_retries_a_transient_error_and_keeps_the_file(self):
        """A serialization failure is not the file's error: the tick is retried, the file
        stays in the folder, never in failed/."""
        good = "\n".join([HEADER, csv_line("2026-10-06 10:00:00", 60, A, "0412 000 052", "T1")])
        with tempfile.TemporaryDirectory() as folder:
            self.fmt.sudo().import_directory = folder
            with open(os.path.join(folder, "a.csv"), "w") as fh:
                fh.write(good)
            db_fail(self.env.cr, "rebilling_cdr", "40001")
            with self.assertRaises(RetryableJobError), self.env.cr.savepoint():
                self.fmt._import_directory(commit=False)
            self.assertEqual(os.listdir(folder), ["a.csv"], "the file waits for the next tick")
            imports = self.fmt._import_directory(commit=False)
            self.assertEqual(imports.mapped("state"), ["done"])
            self.assertTrue(self.cdr("T1"))
            self.assertEqual(os.listdir(os.path.join(folder, "done")), ["a.csv"])

    def test_folder_import_reads_only_regular_files_of_the_folder(self):
        """A link out of the folder, a pipe or a file over the limit is skipped, with
        the reason; the files after it are imported."""
        self.env["ir.config_parameter"].sudo().set_param("rebilling_voip.cdr_max_file_size", "300")
        good = "\n".join([HEADER, csv_line("2026-10-06 10:00:00", 60, A, "0412 000 051", "G1")])
        with tempfile.TemporaryDirectory() as outside, tempfile.TemporaryDirectory() as folder:
            self.fmt.sudo().import_directory = folder
            secret = os.path.join(outside, "secret.csv")
            with open(secret, "w") as fh:
                fh.write(good.replace("G1", "S1"))
            os.symlink(secret, os.path.join(folder, "a-link.csv"))
            os.mkfifo(os.path.join(folder, "b-pipe.csv"))
            with open(os.path.join(folder, "c-big.csv"), "w") as fh:
                fh.write(good + "\n" + "x" * 400)
            with open(os.path.join(folder, "d-good.csv"), "w") as fh:
                fh.write(good)
            imports = self.fmt._import_directory(commit=False)
            self.assertEqual(imports.mapped("state"), ["failed", "failed", "failed", "done"])
            self.assertIn("symbolic link", imports[0].message)
            self.assertIn("not a regular file", imports[1].message)
            self.assertIn("limit of 300 bytes", imports[2].message)
            self.assertFalse(self.cdr("S1"), "the linked file was not read")
            self.assertTrue(self.cdr("G1"))
            self.assertTrue(os.path.exists(secret), "the link's target stays where it is")
            failed = sorted(os.listdir(os.path.join(folder, "failed")))
            self.assertEqual(failed, ["a-link.csv", "b-pipe.csv", "c-big.csv"])
            self.assertEqual(os.listdir(os.path.join(folder, "done")), ["d-good.csv"])

    def test_duplicates_are_per_supplier_and_trunk(self):
        self.import_csv([csv_line("2026-10-02 08:00:00", 60, A, "0412 000 010", "1")])
        # Another supplier numbers its calls 1..N too: its calls, even alike, are its own.
        other = self.fmt.copy({"name": "Second supplier"})
        imp = self.import_csv(
            [
                csv_line("2026-10-02 08:00:00", 60, A, "0412 000 010", "1"),
                csv_line("2026-10-02 09:00:00", 60, A, "0412 000 011", "2"),
            ],
            fmt=other,
        )
        self.assertEqual((imp.imported_count, imp.duplicate_count), (2, 0))
        self.assertEqual(self.cdr("1").format_id, self.fmt | other)
        # The same supplier sending them again: duplicates.
        again = self.import_csv(
            [csv_line("2026-10-02 09:00:00", 60, A, "0412 000 011", "2")], fmt=other
        )
        self.assertEqual((again.imported_count, again.duplicate_count), (0, 1))
        # Two trunks calling the same number in the same second: two calls.
        trunks = self.env["rebilling.cdr.format"].create(
            {
                "name": "Trunk supplier",
                "has_header": False,
                "column_count": 5,
                "col_start": 1,
                "col_duration": 2,
                "col_caller": 0,
                "col_called": 3,
                "col_call_id": 0,
                "col_cost": 4,
                "col_trunk": 5,
            }
        )
        lines = [
            "2026-10-03 08:00:00,60,0412 000 030,0.01,TRUNK-A",
            "2026-10-03 08:00:00,60,0412 000 030,0.01,TRUNK-B",
            "2026-10-03 08:00:00,60,0412 000 030,0.01,TRUNK-B",
        ]
        imp = self.import_csv(lines, fmt=trunks, header=False)
        self.assertEqual((imp.imported_count, imp.duplicate_count), (2, 1))
        self.assert_accounted(imp)
        calls = self.Cdr.search([("called_e164", "=", "+61412000030")])
        self.assertEqual(sorted(calls.mapped("trunk")), ["TRUNK-A", "TRUNK-B"])

    def test_import_rates_as_it_inserts_as_a_rating_would(self):
        """Rated as inserted (the wizard, the folder import): the same values as the rating
        of the calls inserted new; emergency 000 free, national, +61, 61, 0011, 00,
        13/1300/1800 and short 13 numbers rated; no call lost or counted twice."""
        called = [
            "02 9000 1234",
            "61412345678",
            "+61 3 9000 1234",
            "0011 44 20 7946 0958",
            "0044 20 7946 0958",
            "13 13 13",
            "1300 123 456",
            "1800 555 666",
            "000",
            "+86 10 1234 5678",
        ]
        lines = [
            csv_line(f"2026-10-05 09:{i:02d}:00", 30 + i * 7, A, raw, f"I{i}", f"0.0{i}")
            for i, raw in enumerate(called)
        ]
        # A call of an unknown caller: unmatched either way.
        lines.append(csv_line("2026-10-05 10:00:00", 60, "+61388887777", "0412 000 001", "I99"))
        after = self.import_csv(lines, rate=False)
        new = self.Cdr.search([("import_id", "=", after.id)])
        self.assertEqual(set(new.mapped("state")), {"new"})
        self.rate_all()
        other = self.fmt.copy({"name": "Same calls, another supplier"})
        # Straight to the import: the wizard would also rate the period after it.
        inline = self.env["rebilling.cdr.import"]._import_file(
            other, "\n".join([HEADER, *lines]), "inline.csv", rate=True
        )
        self.assertEqual((inline.imported_count, inline.error_count), (len(lines), 0))
        self.assert_accounted(inline)
        columns = [
            "supplier_call_id",
            "state",
            "service_id",
            "partner_id",
            "destination_group_id",
            "rate_id",
            "billed_seconds",
            "price",
            "margin",
            "rating_note",
        ]

        def values(imp):
            cdrs = self.Cdr.search([("import_id", "=", imp.id)], order="import_line")
            return [{k: v for k, v in row.items() if k != "id"} for row in cdrs.read(columns)]

        self.assertEqual(values(inline), values(after))
        states = {row["supplier_call_id"]: row["state"] for row in values(inline)}
        self.assertEqual(states["I8"], "rated", "emergency: a free call")
        self.assertEqual(states["I99"], "unmatched")
        self.assertEqual(self.cdr("I8").filtered(lambda c: c.format_id == other).price, 0.0)

    def test_import_leaves_the_calls_new_while_billing_holds_the_rating(self):
        """Billing (another session) holds the rating: the import does not wait, its calls
        are inserted new for the next rating."""
        with sql_db.db_connect(self.env.cr.dbname).cursor() as billing:
            billing.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, %s)", [LOCK_KEY + 3, self.company.id]
            )
            imp = self.env["rebilling.cdr.import"]._import_file(
                self.fmt,
                "\n".join([HEADER, csv_line("2026-10-05 09:00:00", 60, A, "0412 000 070", "L1")]),
                "locked.csv",
                rate=True,
            )
        self.assertEqual(imp.imported_count, 1)
        self.assertEqual(self.cdr("L1").state, "new")
        self.rate_all()
        self.assertEqual(self.cdr("L1").state, "rated")

    def test_large_import_analyzes_the_columns_the_rating_selects_by(self):
        """After an import that grows the table a lot, its statistics are refreshed at once."""
        executed = []
        execute = sql_db.Cursor.execute

        def spy(cr, query, params=None, log_exceptions=True):
            executed.append(getattr(query, "code", query))
            return execute(cr, query, params, log_exceptions)

        module = "odoo.addons.rebilling_voip.models.rebilling_cdr"
        with (
            patch(f"{module}.ANALYZE_MIN_ROWS", 1),
            patch.object(sql_db.Cursor, "execute", spy),
        ):
            imp = self.import_csv(self.sample())
        self.assertEqual(imp.imported_count, 4)
        analyzed = [q for q in executed if q.lstrip().startswith("ANALYZE")]
        self.assertIn(
            'ANALYZE "rebilling_cdr" ("company_id", "state", "start_time", "format_id")', analyzed
        )

    def test_over_long_fields_are_error_rows(self):
        """A 5,000-digit number or a 6,000-character call id: that row is an error, the
        rest imports (no "index row size exceeds" failing the whole file)."""
        long_number = "0" + "4" * 4999
        long_id = "X" * 6000
        imp = self.import_csv(
            [
                csv_line("2026-10-06 09:00:00", 60, A, long_number, "L1"),
                csv_line("2026-10-06 09:01:00", 60, A, "0412 000 020", long_id),
                csv_line("2026-10-06 09:02:00", 60, long_number, "0412 000 021", "L3"),
                csv_line("2026-10-06 09:03:00", 60, A, "0412 000 022", "L4"),
            ]
        )
        self.assertEqual((imp.state, imp.imported_count, imp.error_count), ("done", 1, 3))
        self.assert_accounted(imp)
        reasons = {err.line_number: err.reason for err in imp.error_ids}
        self.assertIn("Unknown number format (called)", reasons[2])
        self.assertIn("Call id longer than 255 characters", reasons[3])
        self.assertIn("Unknown number format (caller)", reasons[4])
        self.assertTrue(self.cdr("L4"))
        self.assertFalse(
            self.env["rebilling.phone.number"].search_count([("raw", "=", long_number)]),
            "a text that long is not kept as a number",
        )

    def test_dst_end_repeated_hour_calls_told_apart_by_call_id(self):
        """Daylight saving ends on the first Sunday of April in Sydney: 02:00-03:00 comes
        twice. Two calls at 02:30 with their own call ids are two calls; an ambiguous
        local time is read as standard time (the later one, PostgreSQL's rule), a time
        skipped when daylight saving starts with the offset before the change."""
        fmt = self.fmt.copy({"timezone": "Australia/Sydney"})
        imp = self.import_csv(
            [
                csv_line("2026-04-05 02:30:00", 60, A, "0412 000 030", "DST-1"),
                csv_line("2026-04-05 02:30:00", 60, A, "0412 000 030", "DST-2"),
                csv_line("2026-10-04 02:30:00", 60, A, "0412 000 031", "DST-3"),
            ],
            fmt=fmt,
        )
        self.assertEqual((imp.imported_count, imp.duplicate_count), (3, 0))
        self.assertEqual(self.cdr("DST-1").start_time, datetime(2026, 4, 4, 16, 30))
        self.assertEqual(self.cdr("DST-2").start_time, datetime(2026, 4, 4, 16, 30))
        self.assertEqual(self.cdr("DST-3").start_time, datetime(2026, 10, 3, 16, 30))
        # Without call ids the two rows are one call.
        fmt.col_call_id = 0
        imp = self.import_csv(
            [
                csv_line("2026-04-05 02:40:00", 60, A, "0412 000 030", "x"),
                csv_line("2026-04-05 02:40:00", 60, A, "0412 000 030", "y"),
            ],
            fmt=fmt,
        )
        self.assertEqual((imp.imported_count, imp.duplicate_count), (1, 1))
