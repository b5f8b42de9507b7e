from datetime import datetime
from unittest.mock import patch

from odoo.tests import tagged

from ..tools import phone
from .common import VoipCase, csv_line

OCT5 = datetime(2026, 10, 5, 9, 0, 0)


@tagged("post_install", "-at_install")
class TestNormalize(VoipCase):
    def test_australian_formats(self):
        cases = {
            "0412 345 678": "+61412345678",
            "0412345678": "+61412345678",
            "+61 412 345 678": "+61412345678",
            "61412345678": "+61412345678",
            "(02) 9000 1234": "+61290001234",
            "02-9000-1234": "+61290001234",
            "1300 123 456": "+611300123456",
            "1800 555 666": "+611800555666",
            "13 13 13": "+61131313",
        }
        for raw, e164 in cases.items():
            with self.subTest(raw=raw):
                self.assertEqual(phone.normalize(raw, "AU"), e164)

    def test_international_formats(self):
        cases = {
            "+44 20 7946 0958": "+442079460958",
            "0011 44 20 7946 0958": "+442079460958",  # Australian international prefix
            "+1 (415) 555-0100": "+14155550100",
            "+64 9 123 4567": "+6491234567",
            "+86 10 1234 5678": "+861012345678",
        }
        for raw, e164 in cases.items():
            with self.subTest(raw=raw):
                self.assertEqual(phone.normalize(raw, "AU"), e164)
        # A national number reads in the region given: the same digits, another country.
        self.assertEqual(phone.normalize("020 7946 0958", "GB"), "+442079460958")

    def test_idd_reads_the_country_code_never_a_neighbouring_plan(self):
        cases = {
            # New Zealand via the Australian prefix: +64, not +1 649 (Turks and Caicos),
            # although 9 123 4567 is no valid Auckland number for phonenumbers.
            "0011 64 9 123 4567": "+6491234567",
            "00116491234567": "+6491234567",
            "00 64 9 123 4567": "+6491234567",
            "0011 1 649 123 4567": "+16491234567",  # Turks and Caicos when dialled so
        }
        for raw, e164 in cases.items():
            with self.subTest(raw=raw):
                self.assertEqual(phone.normalize(raw, "AU"), e164)

    def test_e164_without_plus(self):
        """Suppliers writing international numbers without + (format: number style)."""
        cases = {
            "442079460011": "+442079460011",  # London, not an Australian mobile
            "861012345678": "+861012345678",  # Beijing, not national
            "61412345678": "+61412345678",
            "0412 345 678": "+61412345678",  # a leading 0 is still national
            "0011 44 20 7946 0958": "+442079460958",
            "14155550100": "+14155550100",
            # No valid international number: the Australian service numbers they are.
            "1300123456": "+611300123456",
            "1800555666": "+611800555666",
            "131313": "+61131313",
        }
        for raw, e164 in cases.items():
            with self.subTest(raw=raw):
                self.assertEqual(phone.normalize(raw, "AU", "intl"), e164)
        # As dialled (the default), such digits are read as national.
        self.assertNotEqual(phone.normalize("442079460011", "AU"), "+442079460011")

    def test_local_zones_decide_local(self):
        """Sydney to Canberra (both 02) is national; Sydney 9xxx to Sydney 8xxx is local."""
        cdrs = {}
        imp = self.import_csv(
            [
                csv_line(OCT5, 60, "02 9999 0001", "02 6200 1234", "Z1"),  # Canberra
                csv_line(OCT5, 61, "02 9999 0001", "02 8000 1234", "Z2"),  # Sydney 8xxx
                csv_line(OCT5, 62, "02 9999 0001", "02 4900 1234", "Z3"),  # Newcastle
                csv_line(OCT5, 63, "02 9999 0001", "9000 5678", "Z4"),  # 8 digits: Sydney
            ]
        )
        self.assertEqual(imp.imported_count, 4)
        self.rate_all()
        for call_id in ("Z1", "Z2", "Z3", "Z4"):
            cdrs[call_id] = self.cdr(call_id)
        self.assertEqual(cdrs["Z1"].destination_group_id, self.g_national)
        self.assertEqual(cdrs["Z2"].destination_group_id, self.g_local)
        self.assertEqual(cdrs["Z3"].destination_group_id, self.g_national)
        self.assertEqual(cdrs["Z4"].called_e164, "+61290005678")
        self.assertEqual(cdrs["Z4"].destination_group_id, self.g_local)
        # A company adds a zone: Newcastle numbers become local to Sydney callers.
        self.env.ref("rebilling_voip.local_zone_sydney").prefixes += "\n+61249"
        self.rate_all(rerate=True)
        self.assertEqual(cdrs["Z3"].destination_group_id, self.g_local)

    def test_not_numbers(self):
        for raw in ("call me", "12", "", "0000"):
            with self.subTest(raw=raw):
                self.assertIsNone(phone.normalize(raw, "AU"))

    def test_import_uses_company_country(self):
        imp = self.import_csv(
            [
                csv_line(OCT5, 60, "02 9999 0001", "0412 345 678", "N1"),
                csv_line(OCT5, 61, "+61 2 9999 0001", "+44 20 7946 0958", "N2"),
            ]
        )
        self.assertEqual(imp.imported_count, 2)
        first, second = self.cdr("N1"), self.cdr("N2")
        self.assertEqual(first.caller, "02 9999 0001", "the raw number is kept")
        self.assertEqual(first.caller_e164, "+61299990001")
        self.assertEqual(first.called_e164, "+61412345678")
        self.assertEqual(second.caller_e164, "+61299990001")
        self.assertEqual(second.called_e164, "+442079460958")

    def test_carrier_formats_in_an_imported_file(self):
        """Numbers as Australian carriers send them: all imported, rated, none international
        by mistake; 1800 and emergency calls are free (Standard plan: local 0.15, national
        0.10/min, mobile 0.20/min, 13/1300 0.25, zone 1 at least 0.10)."""
        ref = self.env.ref
        freecall = ref("rebilling_voip.dest_au_freecall")
        emergency = ref("rebilling_voip.dest_au_emergency")
        cases = [
            ("02 9000 1234", "+61290001234", self.g_local, 0.15),
            ("61412345678", "+61412345678", self.g_mobile, 0.20),
            ("+61 3 9000 1234", "+61390001234", self.g_national, 0.10),
            ("0011 44 20 7946 0958", "+442079460958", self.g_zone1, 0.10),
            ("0044 20 7946 0958", "+442079460958", self.g_zone1, 0.10),
            ("13 13 13", "+61131313", self.g_special, 0.25),
            ("1300 123 456", "+611300123456", self.g_special, 0.25),
            ("1800 555 666", "+611800555666", freecall, 0.0),
            ("000", "+61000", emergency, 0.0),
            ("112", "+61112", emergency, 0.0),
        ]
        imp = self.import_csv(
            [
                csv_line(f"2026-10-05 09:{i:02d}:00", 60, "+61299990001", raw, f"F{i}")
                for i, (raw, *_rest) in enumerate(cases)
            ]
        )
        self.assertEqual((imp.imported_count, imp.error_count), (len(cases), 0))
        self.rate_all()
        for i, (raw, e164, group, price) in enumerate(cases):
            with self.subTest(raw=raw):
                cdr = self.cdr(f"F{i}")
                self.assertEqual(cdr.called_e164, e164)
                self.assertEqual(cdr.destination_group_id, group)
                self.assertEqual(cdr.state, "rated", cdr.rating_note)
                self.assertAlmostEqual(cdr.price, price)
        self.assertFalse(self.cdr("F7").rate_id, "free: no rate of the plan")
        # A plan with a rate for freecall numbers charges them.
        self.env["rebilling.rate"].create(
            {
                "plan_id": self.plan.id,
                "destination_group_id": freecall.id,
                "flagfall": 0.05,
                "date_from": "2026-01-01",
            }
        )
        self.rate_all(rerate=True)
        self.assertAlmostEqual(self.cdr("F7").price, 0.05)
        self.assertAlmostEqual(self.cdr("F8").price, 0.0, msg="000 stays free")

    def test_company_without_country_imports_and_says_what_to_set(self):
        self.company.write({"country_id": False, "account_fiscal_country_id": False})
        self.assertFalse(self.company._rebilling_region())
        phone.clear_cache()
        imp = self.import_csv(
            [
                csv_line(OCT5, 60, "+61299990001", "+61412345678", "W1"),
                csv_line(OCT5, 61, "+61299990001", "0412 345 678", "W2"),
            ]
        )
        self.assertEqual((imp.imported_count, imp.error_count), (1, 1))
        self.assertEqual(self.cdr("W1").called_e164, "+61412345678")
        reason = imp.error_ids.reason
        self.assertIn("0412 345 678", reason)
        self.assertIn(f"set the country of {self.company.name}", reason)

    def test_distinct_numbers_normalized_once(self):
        phone.clear_cache()
        lines = [
            csv_line(f"2026-10-05 09:{i:02d}:00", 60, "+61299990001", "0412 345 678", f"D{i}")
            for i in range(40)
        ]
        with patch.object(phone, "_normalize", wraps=phone._normalize) as normalize:
            imp = self.import_csv(lines)
        self.assertEqual(imp.imported_count, 40)
        called = sorted(call.args[0] for call in normalize.call_args_list)
        self.assertEqual(called, ["+61299990001", "0412 345 678"], "each distinct number once")

    def test_numbers_normalized_once_across_imports_and_workers(self):
        """Known numbers are read from the normalized numbers, not normalized again."""
        first = [csv_line("2026-10-06 09:00:00", 60, "+61299990001", "0412 345 679", "K1")]
        self.import_csv(first)
        Number = self.env["rebilling.phone.number"]
        known = Number.search([("raw", "=", "0412 345 679")])
        self.assertEqual((known.e164, known.region), ("+61412345679", "AU"))
        self.assertTrue(known.version)
        phone.clear_cache()  # another worker, or after a restart
        lines = [
            csv_line("2026-10-06 09:01:00", 60, "+61299990001", "0412 345 679", "K2"),
            csv_line("2026-10-06 09:02:00", 60, "+61299990001", "not a number", "K3"),
        ]
        with patch.object(phone, "_normalize", wraps=phone._normalize) as normalize:
            imp = self.import_csv(lines)
        self.assertEqual([call.args[0] for call in normalize.call_args_list], ["not a number"])
        self.assertEqual((imp.imported_count, imp.error_count), (1, 1))
        self.assertEqual(self.cdr("K2").called_e164, "+61412345679")
        self.assertFalse(Number.search([("raw", "=", "not a number")]).e164, "kept as not a number")
        # Another version of phonenumbers: normalized again.
        known.invalidate_recordset()
        self.env.cr.execute("UPDATE rebilling_phone_number SET version = '0.0'")
        phone.clear_cache()
        with patch.object(phone, "_normalize", wraps=phone._normalize) as normalize:
            self.import_csv(
                [csv_line("2026-10-06 09:03:00", 60, "+61299990001", "0412 345 679", "K4")]
            )
        self.assertEqual(
            sorted(call.args[0] for call in normalize.call_args_list),
            ["+61299990001", "0412 345 679"],
        )
        known.invalidate_recordset()
        self.assertNotEqual(known.version, "0.0")
