"""Shared fixtures: an Australian reseller company with customers, services and charges."""

import base64
import contextlib
import io
import subprocess
from datetime import date
from unittest.mock import patch

from PIL import Image

from odoo import Command
from odoo.addons.queue_job.job import Job
from odoo.tests import TransactionCase

from ..fakes.fake_smtp import FakeSMTP

VALID_ABN = "51 824 753 556"


def pdf_to_text(content):
    """The text of a PDF (poppler's pdftotext), to check what the customer reads."""
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


@contextlib.contextmanager
def smtp_really_sends(env, smtp):
    """Send through the fake SMTP server on 127.0.0.1 instead of Odoo's test-mode no-op.

    Odoo skips SMTP in tests (``_disable_send``): the patch is on Odoo's class,
    so the project's code runs as in production against a real SMTP dialogue.
    """
    server = env["ir.mail_server"].search([("name", "=", "Fake SMTP")], limit=1)
    vals = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_encryption": "none"}
    if server:
        server.write(vals)
    else:
        env["ir.mail_server"].create({"name": "Fake SMTP", **vals})
    with patch.object(type(env["ir.mail_server"]), "_disable_send", return_value=False):
        yield smtp


def send_jobs(env, invoices=None):
    """The send jobs (queue_job) waiting for ``invoices`` (all by default), oldest first."""
    jobs = env["queue.job"].search(
        [("method_name", "=", "_rebilling_send_job"), ("state", "=", "pending")], order="id"
    )
    if invoices is not None:
        jobs = jobs.filtered(lambda job: job.records & invoices)
    return jobs


def perform_jobs(env, jobs):
    """What the job runner does with ``jobs`` (no commit): perform, then mark done."""
    for record in jobs:
        job = Job.load(env, record.uuid)
        job.set_started()
        job.perform()
        job.set_done()
        job.store()


def run_send_cron(env, invoices=None, smtp=None):
    """What the job runner (send jobs) then the outgoing mail cron do (no commit).

    The emails go to ``smtp`` (a started ``FakeSMTP``), a fresh one by default.
    """
    with contextlib.ExitStack() as stack:
        smtp = smtp or stack.enter_context(FakeSMTP())
        stack.enter_context(smtp_really_sends(env, smtp))
        perform_jobs(env, send_jobs(env, invoices))
        env["mail.mail"].process_email_queue()
    return smtp


def db_fail(cr, table, errcode, where="TRUE", once=True):
    """A trigger that raises ``errcode`` on inserts into ``table`` matching ``where``.

    Only on the first such insert with ``once``: a sequence counts them, and
    it is not rolled back with the failing savepoint.

    Database-level fault injection: the project's own code runs unchanged. The
    DDL is built from the test's own constants (a function body takes no
    query parameters).
    """
    cr.execute(  # pylint: disable=sql-injection
        f"""
        CREATE TEMP SEQUENCE rebilling_test_fault;
        CREATE OR REPLACE FUNCTION pg_temp.rebilling_test_fault() RETURNS trigger AS $$
        BEGIN
            IF ({where}) AND (nextval('rebilling_test_fault') = 1 OR NOT {once}) THEN
                RAISE EXCEPTION 'injected fault' USING ERRCODE = '{errcode}';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER rebilling_test_fault BEFORE INSERT ON {table}
            FOR EACH ROW EXECUTE FUNCTION pg_temp.rebilling_test_fault();
        """
    )


def png_bytes(width=100, height=60, fmt="PNG", color=(20, 60, 120)):
    buf = io.BytesIO()
    mode = "RGB" if fmt != "GIF" else "P"
    Image.new(mode, (width, height), color if mode == "RGB" else 1).save(buf, format=fmt)
    return buf.getvalue()


class RebillingCase(TransactionCase):
    """The main company configured as an AU reseller; a few customers.

    ``setup/test.py`` loads the Australian chart on the main company once when it
    builds the test database; on another database this class loads it itself.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.ref("base.main_company")
        if cls.company.chart_template != "au":
            cls.company.write(
                {"country_id": cls.env.ref("base.au").id, "currency_id": cls.env.ref("base.AUD").id}
            )
            cls.env["account.chart.template"].try_loading(
                "au", company=cls.company, install_demo=False
            )
        cls.env.user.company_id = cls.company
        cls.configure_company(cls.company)
        cls.gst = cls.env["account.tax"].search(
            [
                ("company_id", "=", cls.company.id),
                ("type_tax_use", "=", "sale"),
                ("amount", "=", 10),
            ],
            limit=1,
        )
        Product = cls.env["product.product"]
        cls.product_nbn = Product.create(
            {
                "name": "Business NBN 100/40",
                "list_price": 99.0,
                "type": "service",
                "rebilling_service_type": "wholesale",
                "default_code": "NBN100",
                "taxes_id": [Command.set(cls.gst.ids)],
            }
        )
        cls.product_pbx = Product.create(
            {
                "name": "Hosted PBX seat",
                "list_price": 25.0,
                "type": "service",
                "rebilling_service_type": "voip_bundle",
                "taxes_id": [Command.set(cls.gst.ids)],
            }
        )
        cls.product_fee = Product.create(
            {
                "name": "Installation fee",
                "list_price": 150.0,
                "type": "service",
                "taxes_id": [Command.set(cls.gst.ids)],
            }
        )
        Partner = cls.env["res.partner"]
        cls.customer_a = Partner.create(
            {
                "name": "Harbour Dental",
                "is_company": True,
                "email": "accounts@harbour.example.com",
                "rebilling_enabled": True,
                "rebilling_invoice_email": "invoices@harbour.example.com",
            }
        )
        cls.customer_b = Partner.create(
            {
                "name": "Bondi Surf",
                "is_company": True,
                "email": "hello@bondi.example.com",
                "rebilling_enabled": True,
            }
        )
        cls.customer_off = Partner.create(
            {"name": "Disabled Pty", "is_company": True, "rebilling_enabled": False}
        )
        Service = cls.env["rebilling.service"]
        cls.service_a = Service.create(
            {
                "partner_id": cls.customer_a.id,
                "product_id": cls.product_nbn.id,
                "date_start": date(2026, 1, 1),
                "identifiers": "+61290001000",
            }
        )
        cls.service_b = Service.create(
            {
                "partner_id": cls.customer_b.id,
                "product_id": cls.product_pbx.id,
                "quantity": 4,
                "date_start": date(2026, 1, 1),
            }
        )
        Service.create(
            {
                "partner_id": cls.customer_off.id,
                "product_id": cls.product_nbn.id,
                "date_start": date(2026, 1, 1),
            }
        )

    @classmethod
    def configure_company(cls, company):
        company.write(
            {
                "rebilling_company_name": "Southern Cross Communications",
                "rebilling_phone": "02 9000 1234",
                "rebilling_abn": VALID_ABN,
                "rebilling_payment_term_days": 14,
                "rebilling_payment_instructions": "Pay by EFT quoting the invoice number.",
                "rebilling_bank_account_name": "Southern Cross Communications",
                "rebilling_bsb": "062000",
                "rebilling_bank_account_number": "12345678",
                "rebilling_invoice_prefix": "AAP-",
                "rebilling_invoice_start": 1,
                "rebilling_sender_email": "billing@southerncross.example.com",
                "rebilling_logo": base64.b64encode(png_bytes()),
            }
        )
        company.rebilling_sender_confirmed = True

    def run_billing(self, period, company=None, dry_run=False):
        """Start the run of ``period`` and execute its jobs at once."""
        run = self.env["rebilling.billing.run"]._get_or_create(
            company or self.company, period, dry_run=dry_run
        )
        run.with_context(queue_job__no_delay=True).action_start()
        return run

    def posted_invoice_of_lines(self, lines, move_type="out_invoice", partner=None, **vals):
        """A posted invoice (or credit note) of ``lines`` [(price, quantity)] of the NBN
        product with GST, labelled "Usage <n>"; ``vals``: more invoice values."""
        move = (
            self.env["account.move"]
            .with_company(self.company)
            .create(
                {
                    "move_type": move_type,
                    "partner_id": (partner or self.customer_a).id,
                    **vals,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_nbn.id,
                                "name": f"Usage {n}",
                                "quantity": quantity,
                                "price_unit": price,
                                "tax_ids": [Command.set(self.gst.ids)],
                            }
                        )
                        for n, (price, quantity) in enumerate(lines)
                    ],
                }
            )
        )
        move.action_post()
        return move

    def invoices_of(self, partner, period=None):
        domain = [("partner_id", "=", partner.id), ("rebilling_period", "!=", False)]
        if period:
            domain.append(("rebilling_period", "=", period))
        return self.env["account.move"].search(domain)
