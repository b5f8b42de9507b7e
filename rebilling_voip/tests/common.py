"""Shared fixtures of the VoIP tests: rate plan, CDR format, voice services, CSV helpers."""

import base64
from datetime import date, datetime

from odoo import Command
from odoo.addons.rebilling_base.tests.common import RebillingCase
from odoo.tests import Form

from ..tools import phone

HEADER = "start_time,duration,caller,called,call_id,cost"
NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)


def csv_line(start, duration, caller, called, call_id="", cost="0.01"):
    stamp = start.strftime("%Y-%m-%d %H:%M:%S") if isinstance(start, datetime) else start
    return f"{stamp},{duration},{caller},{called},{call_id},{cost}"


class VoipCase(RebillingCase):
    """Customers A (Sydney numbers) and B (Melbourne number and a SIP trunk) with voice
    services; a Standard plan as the company default; a 6-column ISO CSV format."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        phone.clear_cache()
        cls.company.rebilling_tz = "UTC"  # billing periods in UTC unless a test says otherwise
        ref = cls.env.ref
        cls.g_local = ref("rebilling_voip.dest_au_local")
        cls.g_national = ref("rebilling_voip.dest_au_national")
        cls.g_mobile = ref("rebilling_voip.dest_au_mobile")
        cls.g_special = ref("rebilling_voip.dest_au_special")
        cls.g_zone1 = ref("rebilling_voip.dest_int_zone1")
        cls.g_zone2 = ref("rebilling_voip.dest_int_zone2")
        cls.g_zone3 = ref("rebilling_voip.dest_int_zone3")
        cls.voice_product = cls.env["product.product"].create(
            {
                "name": "Voice usage",
                "type": "service",
                "rebilling_service_type": "voice",
                "taxes_id": [Command.set(cls.gst.ids)],
            }
        )

        def rate(group, **vals):
            return Command.create({"destination_group_id": group.id, **vals})

        cls.plan = cls.env["rebilling.rate.plan"].create(
            {
                "name": "Standard",
                "rate_ids": [
                    rate(cls.g_local, flagfall=0.15, rate_per_minute=0.0),
                    rate(cls.g_national, rate_per_minute=0.10, first_block=60, next_block=60),
                    rate(cls.g_mobile, rate_per_minute=0.20, first_block=30, next_block=1),
                    rate(cls.g_special, flagfall=0.25),
                    rate(
                        cls.g_zone1,
                        rate_per_minute=0.08,
                        first_block=60,
                        next_block=60,
                        minimum_charge=0.10,
                    ),
                    rate(cls.g_zone2, method="cost_plus", markup_percent=50, minimum_charge=0.05),
                ],
            }
        )
        cls.company.write(
            {
                "rebilling_rate_plan_id": cls.plan.id,
                "rebilling_voice_product_id": cls.voice_product.id,
            }
        )
        Service = cls.env["rebilling.service"]
        cls.voice_a = Service.create(
            {
                "partner_id": cls.customer_a.id,
                "product_id": cls.voice_product.id,
                "price_unit": 0.0,
                "date_start": date(2026, 1, 1),
                "identifiers": "+61299990001\n0412 000 001",
            }
        )
        cls.voice_b = Service.create(
            {
                "partner_id": cls.customer_b.id,
                "product_id": cls.voice_product.id,
                "price_unit": 0.0,
                "date_start": date(2026, 1, 1),
                "identifiers": "(03) 9999 0002\nTRUNK-B",
            }
        )
        cls.fmt = cls.env["rebilling.cdr.format"].create(
            {"name": "Test wholesale CSV", "column_count": 6, "has_header": True}
        )
        cls.Cdr = cls.env["rebilling.cdr"]

    # ------------------------------------------------------------ helpers
    def import_csv(self, lines, fmt=None, header=True, rate=False, filename="calls.csv"):
        """Import through the upload wizard, as a user does; returns the import record."""
        fmt = fmt or self.fmt
        text = "\n".join(([HEADER] if header else []) + list(lines)) + "\n"
        # The upload widget fills the (invisible) file name.
        wizard = self.env["rebilling.cdr.import.wizard"].with_context(default_filename=filename)
        form = Form(wizard)
        form.format_id = fmt
        form.file = base64.b64encode(text.encode())
        form.rate = rate
        action = form.save().action_import()
        return self.env["rebilling.cdr.import"].browse(action["res_id"])

    def rate_all(self, rerate=False):
        return self.Cdr._rate(self.company, rerate=rerate)

    def cdr(self, call_id):
        return self.Cdr.search([("supplier_call_id", "=", call_id)])

    def assert_accounted(self, imp):
        self.assertEqual(
            imp.imported_count + imp.duplicate_count + imp.error_count,
            imp.row_count,
            "every row is imported, a duplicate or an error",
        )
        self.assertEqual(len(imp.error_ids), imp.error_count)
        self.assertEqual(self.Cdr.search_count([("import_id", "=", imp.id)]), imp.imported_count)
