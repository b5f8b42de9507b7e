"""Least privilege in VoIP: CDR errors, shared destinations, normalized numbers, uploads."""

import base64

from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged

from .common import HEADER, VoipCase, csv_line


@tagged("post_install", "-at_install")
class TestVoipSecurity(VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clerk = new_test_user(
            cls.env,
            login="voip-clerk",
            groups="rebilling_base.group_rebilling_user",
            company_id=cls.company.id,
        )
        cls.manager = new_test_user(
            cls.env,
            login="voip-manager",
            groups="rebilling_base.group_rebilling_manager",
            company_id=cls.company.id,
        )
        cls.system = new_test_user(
            cls.env,
            login="voip-system",
            groups="base.group_system,rebilling_base.group_rebilling_manager",
            company_id=cls.company.id,
        )

    def test_users_correct_cdr_errors_but_do_not_create_them(self):
        imp = self.import_csv(
            [csv_line("2026-11-03 09:00:00", 60, "0291234567", "not a number", "E1")]
        )
        error = imp.error_ids
        self.assertEqual(len(error), 1)
        Error = self.env["rebilling.cdr.error"].with_user(self.clerk)
        for user in (self.clerk, self.manager):
            with self.assertRaises(AccessError, msg=user.login):
                Error.with_user(user).create(
                    {"import_id": imp.id, "company_id": self.company.id, "raw_line": "x"}
                )
        with self.assertRaises(AccessError):
            error.with_user(self.clerk).unlink()
        # The clerk corrects the row and imports it again.
        error.with_user(self.clerk).called_raw = "0412 000 043"
        error.with_user(self.clerk).action_reimport()
        self.assertFalse(imp.error_ids)
        self.assertEqual(self.cdr("E1").called_e164, "+61412000043")

    def test_shared_destination_groups_changed_by_system_admins_only(self):
        shared = self.g_mobile
        self.assertFalse(shared.company_id)
        for user in (self.clerk, self.manager):
            self.assertTrue(shared.with_user(user).name, "readable")
            with self.assertRaises(AccessError, msg=user.login):
                shared.with_user(user).write({"name": "Cheap calls"})
            with self.assertRaises(AccessError, msg=user.login):
                shared.prefix_ids[:1].with_user(user).write({"prefix": "99"})
        Group = self.env["rebilling.destination.group"]
        with self.assertRaises(AccessError):
            Group.with_user(self.manager).create({"name": "Mine", "company_id": False})
        own = Group.with_user(self.manager).create({"name": "Own", "company_id": self.company.id})
        own.name = "Own, renamed"
        shared.with_user(self.system).sequence = shared.sequence + 1

    def test_normalized_numbers_hidden_from_rebilling_users(self):
        self.import_csv([csv_line("2026-11-03 09:00:00", 60, "0291234567", "0412000001", "N1")])
        Number = self.env["rebilling.phone.number"]
        self.assertTrue(Number.search_count([]))
        for user in (self.clerk, self.manager):
            with self.assertRaises(AccessError, msg=user.login):
                Number.with_user(user).search([])
        self.assertTrue(Number.with_user(self.system).search_count([]))

    def test_cdr_upload_readable_by_its_uploader_only(self):
        text = "\n".join([HEADER, csv_line("2026-11-03 09:00:00", 60, "0291234567", "0412")])
        form = Form(self.env["rebilling.cdr.import.wizard"].with_user(self.clerk))
        form.format_id = self.fmt
        form.file = base64.b64encode(text.encode())
        wizard = form.save()
        self.assertTrue(wizard.file)
        with self.assertRaises(AccessError):
            wizard.with_user(self.manager).read(["file"])
        self.assertFalse(
            self.env["ir.attachment"]
            .with_user(self.manager)
            .search([("res_model", "=", wizard._name), ("res_id", "=", wizard.id)])
        )
