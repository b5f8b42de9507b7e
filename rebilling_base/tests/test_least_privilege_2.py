"""Least privilege, round 2: portal lines, send state, sender confirmation, company actions."""

import base64
import struct
import zlib
from datetime import date

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException

from .common import RebillingCase

NOV = date(2026, 11, 1)
CONFIG_VIEW = "rebilling_base.res_company_rebilling_form"


def huge_png(width=60000, height=60000):
    """A small PNG file whose header announces ``width`` x ``height`` pixels (a
    decompression bomb): Pillow refuses to open it (built by hand, never decoded here)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


@tagged("post_install", "-at_install")
class TestPortalAndSendState(RebillingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls.env["res.users"].create(
            {
                "name": "Harbour Portal",
                "login": "harbour_portal2",
                "password": "harbour_portal2",
                "partner_id": cls.customer_a.id,
                "group_ids": [Command.set([cls.env.ref("base.group_portal").id])],
            }
        )
        cls.clerk = new_test_user(
            cls.env, login="send-clerk", groups="rebilling_base.group_rebilling_user"
        )
        run = cls.env["rebilling.billing.run"]._get_or_create(cls.company, NOV)
        run.with_context(queue_job__no_delay=True).action_start()
        cls.invoice = cls.env["account.move"].search(
            [("partner_id", "=", cls.customer_a.id), ("rebilling_period", "=", NOV)]
        )

    def portal_lines(self):
        self.authenticate("harbour_portal2", "harbour_portal2")
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw/account.move.line/search_read",
            {
                "model": "account.move.line",
                "method": "search_read",
                "args": [[("move_id", "=", self.invoice.id)]],
                "kwargs": {"fields": ["name", "price_total"]},
            },
        )

    def test_portal_reads_lines_of_sent_invoices_only(self):
        self.assertEqual(self.invoice.rebilling_send_state, "pending")
        self.assertEqual(self.portal_lines(), [], "lines of an unsent invoice")
        self.invoice.write({"is_move_sent": True})  # as the send does (superuser)
        self.assertTrue(self.portal_lines(), "lines of a sent invoice")

    def test_send_state_changes_only_by_sending(self):
        invoice = self.invoice.with_user(self.clerk)
        for vals in ({"rebilling_mail_accepted": True}, {"is_move_sent": True}):
            with self.assertRaises(AccessError, msg=vals):
                invoice.write(vals)
        self.assertEqual(self.invoice.rebilling_send_state, "pending")
        self.assertEqual(self.portal_lines(), [], "still hidden from the portal")
        # Sending does it: queued by the user, then accepted by the mail server.
        invoice.action_rebilling_send()
        self.assertEqual(self.invoice.rebilling_send_state, "queued")
        self.invoice._rebilling_mail_result()
        self.assertEqual(self.invoice.rebilling_send_state, "sent")


@tagged("post_install", "-at_install")
class TestCompanyActions(RebillingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            login="sender-manager",
            groups="rebilling_base.group_rebilling_manager",
            company_id=cls.company.id,
        )
        cls.portal_user = cls.env["res.users"].create(
            {
                "name": "Harbour Portal",
                "login": "harbour_portal3",
                "password": "harbour_portal3",
                "partner_id": cls.customer_a.id,
                "group_ids": [Command.set([cls.env.ref("base.group_portal").id])],
            }
        )
        cls.internal = new_test_user(cls.env, login="plain-internal", groups="base.group_user")

    def confirmation_mails(self):
        return self.env["mail.mail"].search(
            [("model", "=", "res.company"), ("res_id", "=", self.company.id)]
        )

    def test_confirmation_goes_to_the_address_being_confirmed_only(self):
        self.company.partner_id.email = "info@southerncross.example.com"
        before = self.confirmation_mails()
        with Form(self.company.with_user(self.manager), view=CONFIG_VIEW) as form:
            form.rebilling_sender_email = "accounts@bigbank.example"
        mail = self.confirmation_mails() - before
        self.assertEqual(len(mail), 1)
        recipients = {p.email for p in mail.recipient_ids} | set(
            filter(None, [e.strip() for e in (mail.email_to or "").split(",")])
        )
        self.assertEqual(recipients, {"accounts@bigbank.example"})
        self.assertFalse(mail.email_cc)

    def test_sender_email_is_one_address(self):
        for bad in (
            "accounts@bigbank.example, me@attacker.example",
            "accounts@bigbank.example;me@attacker.example",
            "Big Bank <accounts@bigbank.example>",
        ):
            with self.assertRaises(ValidationError, msg=bad):
                self.company.write({"rebilling_sender_email": bad})

    def test_resend_confirmation_refused_to_others_over_json_rpc(self):
        self.company.write({"rebilling_sender_email": "billing@example.com"})
        token = self.company.sudo().rebilling_sender_token
        mails = self.confirmation_mails()
        for login, password in (
            ("harbour_portal3", "harbour_portal3"),
            ("plain-internal", "plain-internal"),
        ):
            self.authenticate(login, password)
            with self.assertRaises(JsonRpcException, msg=login) as caught:
                self.make_jsonrpc_request(
                    "/web/dataset/call_kw/res.company/action_rebilling_resend_confirmation",
                    {
                        "model": "res.company",
                        "method": "action_rebilling_resend_confirmation",
                        "args": [self.company.ids],
                        "kwargs": {},
                    },
                )
            self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError", login)
        self.assertEqual(self.company.sudo().rebilling_sender_token, token, "the link still works")
        self.assertEqual(self.confirmation_mails(), mails, "no email queued")
        with self.assertRaises(AccessError):
            self.company.with_user(self.internal).action_rebilling_resend_confirmation()
        # The manager of the company may.
        self.company.with_user(self.manager).action_rebilling_resend_confirmation()
        self.assertNotEqual(self.company.sudo().rebilling_sender_token, token)

    def test_decompression_bomb_logo_is_refused_with_a_message(self):
        raw = base64.b64encode(huge_png())
        with self.assertRaisesRegex(UserError, "far too large"):
            self.company.write({"rebilling_logo": raw})
        with self.assertRaisesRegex(UserError, "far too large"):
            with Form(self.company.with_user(self.manager), view=CONFIG_VIEW) as form:
                form.rebilling_logo = raw


@tagged("post_install", "-at_install")
class TestCustomerClassOfTheCompany(RebillingCase):
    def test_class_of_another_company_refused(self):
        other = self.env["res.company"].create({"name": "Other reseller"})
        class_b = self.env["rebilling.customer.class"].create(
            {"name": "B enterprise", "company_id": other.id}
        )
        clerk = new_test_user(
            self.env,
            login="class-clerk",
            groups="rebilling_base.group_rebilling_user,base.group_partner_manager",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        with self.assertRaises(ValidationError):
            self.customer_a.with_user(clerk).rebilling_class_id = class_b
        self.customer_b.company_id = self.company
        with self.assertRaises(ValidationError):
            self.customer_b.rebilling_class_id = class_b
        own = self.env["rebilling.customer.class"].create(
            {"name": "A enterprise", "company_id": self.company.id}
        )
        self.customer_a.with_user(clerk).rebilling_class_id = own
        self.assertEqual(self.customer_a.rebilling_class_id, own)
