"""Demo data: an Australian reseller company with a configured rebilling setup."""

import base64
import io
import random
from datetime import date

from dateutil.relativedelta import relativedelta
from PIL import Image, ImageDraw

from odoo import api, models

# name, street, suburb or town, postcode (all in New South Wales)
CUSTOMERS = [
    ("Harbour Dental Group", "Level 3, 88 George Street", "The Rocks", "2000"),
    ("Bondi Surf Supplies", "112 Campbell Parade", "Bondi Beach", "2026"),
    ("Parramatta Plumbing", "27 Church Street", "Parramatta", "2150"),
    ("Koala Kids Childcare", "5 Showground Road", "Castle Hill", "2154"),
    ("Redfern Robotics", "61 Regent Street", "Redfern", "2016"),
    ("Manly Marine Services", "2 East Esplanade", "Manly", "2095"),
    ("Newtown Print House", "254 King Street", "Newtown", "2042"),
    ("Blue Mountains Lodge", "18 Lurline Street", "Katoomba", "2780"),
    ("Chatswood Physio", "9 Help Street", "Chatswood", "2067"),
    ("Darling Accountants", "Suite 4, 1 Darling Drive", "Sydney", "2000"),
    ("Ultimo Design Studio", "40 Harris Street", "Ultimo", "2007"),
    ("Surry Hills Bakery", "318 Crown Street", "Surry Hills", "2010"),
    ("Penrith Auto Care", "77 Mulgoa Road", "Penrith", "2750"),
    ("Cronulla Fitness", "14 The Kingsway", "Cronulla", "2230"),
    ("Hornsby Legal", "3 Florence Street", "Hornsby", "2077"),
    ("Wollongong Freight", "120 Montague Street", "Wollongong", "2500"),
    ("Gosford Garden Centre", "225 Mann Street", "Gosford", "2250"),
    ("Liverpool Logistics", "45 Moore Street", "Liverpool", "2170"),
    ("Ryde Medical Centre", "1 Devlin Street", "Ryde", "2112"),
    ("Mosman Real Estate", "730 Military Road", "Mosman", "2088"),
    ("Balmain Brewing Co", "9 Darling Street", "Balmain", "2041"),
    ("Glebe Books", "49 Glebe Point Road", "Glebe", "2037"),
    ("Pyrmont Software", "55 Pyrmont Street", "Pyrmont", "2009"),
    ("Coogee Cafe", "210 Arden Street", "Coogee", "2034"),
    ("Epping Engineering", "33 Oxford Street", "Epping", "2121"),
    ("Kiama Holiday Parks", "12 Terralong Street", "Kiama", "2533"),
    ("Orange Winery", "1550 Cargo Road", "Orange", "2800"),
    ("Bathurst Motors", "101 Durham Street", "Bathurst", "2795"),
    ("Dubbo Vets", "27 Macquarie Street", "Dubbo", "2830"),
    ("Tamworth Music Hall", "470 Peel Street", "Tamworth", "2340"),
]
# The customer with no email address at all: its invoice ends Failed ("no email address").
NO_EMAIL = "Glebe Books"
# The customer whose contact reads its invoices on the portal (login = password).
PORTAL_CUSTOMER = "Harbour Dental Group"
PORTAL_LOGIN = "harbour"
# The customer whose new service is entered after last month's run (catch-up lines).
LATE_SERVICE_CUSTOMER = "Redfern Robotics"
# Once-off charges: a few customers only (a new site, a technician's visit).
ONCE_OFF_EVERY = 6
PRODUCTS = [
    # name, price, type, default code
    ("Business NBN 100/40", 99.0, "wholesale", "NBN100"),
    ("Hosted PBX seat", 25.0, "voip_bundle", "PBXSEAT"),
    ("SIP trunk (10 channels)", 60.0, "sip_trunk", "SIP10"),
    ("Voice usage", 0.0, "voice", "VOICE"),
    ("Static IP address", 10.0, "other", "STATICIP"),
    ("Microsoft 365 Business Basic", 9.0, "other", "M365B"),
]
CHARGES = [
    ("Managed router rental", 15.0, "recurring"),
    ("Priority support", 49.0, "recurring"),
    ("Installation fee", 150.0, "once"),
    ("On-site visit", 120.0, "once"),
]


class RebillingDemo(models.AbstractModel):
    _name = "rebilling.demo"
    _description = "Rebilling demo data"

    @api.model
    def _demo_logo(self):
        """A 200x80 PNG logo drawn here (no binary file in the repository)."""
        image = Image.new("RGB", (200, 80), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        draw.rectangle([0, 0, 79, 79], fill=(14, 80, 140))
        draw.polygon(
            [(40, 10), (48, 34), (72, 34), (52, 48), (60, 72), (40, 57), (20, 72)]
            + [(28, 48), (8, 34), (32, 34)],
            fill=(255, 255, 255),
        )
        draw.text((88, 22), "SOUTHERN", fill=(14, 80, 140))
        draw.text((88, 44), "CROSS COMMS", fill=(14, 80, 140))
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return base64.b64encode(buf.getvalue())

    @api.model
    def _create_demo_data(self):
        env = self.env
        rng = random.Random(42)
        au = env.ref("base.au")
        aud = env.ref("base.AUD")
        aud.active = True
        # Australian English: dates print as 01/11/2026 on the invoices and in line labels.
        env["res.lang"]._activate_lang("en_AU")
        company = env["res.company"].create(
            {
                "name": "Southern Cross Communications",
                "country_id": au.id,
                "currency_id": aud.id,
                "street": "12 Harbour Street",
                "city": "Sydney",
                "zip": "2000",
                "state_id": env.ref("base.state_au_2").id,
                "email": "accounts@southerncross.example.com",
                "phone": "+61 2 9000 1234",
                "l10n_au_is_gst_registered": True,
            }
        )
        company.partner_id.lang = "en_AU"
        env["account.chart.template"].try_loading("au", company=company, install_demo=False)
        admin = env.ref("base.user_admin")
        admin.write({"company_ids": [(4, company.id)], "company_id": company.id})
        company.write(
            {
                "rebilling_company_name": "Southern Cross Communications",
                "rebilling_phone": "02 9000 1234",
                "rebilling_abn": "51 824 753 556",
                "rebilling_payment_term_days": 14,
                "rebilling_payment_instructions": "Pay by EFT quoting the invoice number.",
                "rebilling_bank_account_name": "Southern Cross Communications",
                "rebilling_bsb": "062000",
                "rebilling_bank_account_number": "12345678",
                "rebilling_invoice_prefix": "SCC-",
                "rebilling_invoice_start": 1001,
                "rebilling_auto_invoice": True,
                "rebilling_logo": self._demo_logo(),
            }
        )
        # The demo sender address counts as confirmed (no mailbox to click the link in).
        company.write({"rebilling_sender_email": "billing@southerncross.example.com"})
        company.rebilling_sender_confirmed = True
        classes = env["rebilling.customer.class"].create(
            [
                {"name": "Enterprise", "company_id": company.id, "sequence": 1},
                {"name": "SMB", "company_id": company.id, "sequence": 2},
                {"name": "Pilot", "company_id": company.id, "sequence": 3},
            ]
        )
        Product = env["product.product"].with_company(company)
        gst = env["account.tax"].search(
            [("company_id", "=", company.id), ("type_tax_use", "=", "sale"), ("amount", "=", 10)],
            limit=1,
        )
        products = Product.create(
            [
                {
                    "name": name,
                    "list_price": price,
                    "type": "service",
                    "default_code": code,
                    "rebilling_service_type": stype,
                    "company_id": company.id,
                    "taxes_id": [(6, 0, gst.ids)],
                }
                for name, price, stype, code in PRODUCTS
            ]
        )
        charge_products = Product.create(
            [
                {
                    "name": name,
                    "list_price": price,
                    "type": "service",
                    "company_id": company.id,
                    "taxes_id": [(6, 0, gst.ids)],
                }
                for name, price, _kind in CHARGES
            ]
        )
        nsw = env.ref("base.state_au_2")
        partners = env["res.partner"].create(
            [
                {
                    "name": name,
                    "is_company": True,
                    "company_id": company.id,
                    "email": False
                    if name == NO_EMAIL
                    else f"accounts@{name.lower().replace(' ', '')}.example.com",
                    "street": street,
                    "city": town,
                    "zip": postcode,
                    "state_id": nsw.id,
                    "country_id": au.id,
                    "lang": "en_AU",
                    "rebilling_enabled": i != len(CUSTOMERS) - 1,  # the last one is disabled
                    "rebilling_class_id": classes[i % 3].id,
                }
                for i, (name, street, town, postcode) in enumerate(CUSTOMERS)
            ]
        )
        today = date.today()
        this_month = today.replace(day=1)
        services, charges = [], []
        for i, partner in enumerate(partners):
            picks = rng.sample([0, 1, 2, 4, 5], 3)  # any product but voice usage
            for j, pick in enumerate(picks):
                start = this_month - relativedelta(months=rng.randint(1, 18))
                if i % 7 == 3 and j == 0:
                    start = this_month + relativedelta(days=14)  # starts mid-month: prorated
                services.append(
                    {
                        "partner_id": partner.id,
                        "company_id": company.id,
                        "product_id": products[pick].id,
                        "quantity": rng.choice([1, 1, 2, 5]),
                        "identifiers": f"+612{9000 + i:04d}{1000 + j:04d}",
                        "date_start": start,
                    }
                )
            # Every customer has a voice usage service with its phone numbers.
            services.append(
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "product_id": products[3].id,
                    "identifiers": f"+612{9000 + i:04d}0000\n+614{10000 + i:05d}000",
                    "date_start": this_month - relativedelta(months=6),
                }
            )
            recurring = [k for k, charge in enumerate(CHARGES) if charge[2] == "recurring"]
            once = [k for k, charge in enumerate(CHARGES) if charge[2] == "once"]
            picks = [rng.choice(recurring)]
            if i % ONCE_OFF_EVERY == 2:
                picks.append(rng.choice(once))
            for k in picks:
                name, _price, kind = CHARGES[k]
                charges.append(
                    {
                        "partner_id": partner.id,
                        "company_id": company.id,
                        "name": name,
                        "charge_type": kind,
                        "product_id": charge_products[k].id,
                        "date_start": this_month - relativedelta(months=1),
                    }
                )
        env["rebilling.service"].create(services)
        env["rebilling.charge"].create(charges)
        self._demo_portal_user(partners.filtered(lambda p: p.name == PORTAL_CUSTOMER))
        return company

    @api.model
    def _demo_portal_user(self, customer):
        """A contact of ``customer`` who reads its invoices on the portal (login and
        password: PORTAL_LOGIN)."""
        contact = self.env["res.partner"].create(
            {
                "name": "Helen Nguyen",
                "parent_id": customer.id,
                "type": "contact",
                "email": f"helen.nguyen@{customer.email.split('@', 1)[1]}",
                "lang": "en_AU",
            }
        )
        return self.env["res.users"].create(
            {
                "name": contact.name,
                "login": PORTAL_LOGIN,
                "password": PORTAL_LOGIN,
                "lang": "en_AU",
                "partner_id": contact.id,
                "company_id": customer.company_id.id,
                "company_ids": [(6, 0, customer.company_id.ids)],
                "group_ids": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )

    # ------------------------------------------------------------ between two runs
    @api.model
    def _demo_late_service(self, company):
        """A service entered late: it started on the 10th of last month, but was
        entered after last month's run; this month's run bills the missed days as
        catch-up lines. Returns one line of text for the demo's output."""
        partner = self.env["res.partner"].search(
            [("company_id", "=", company.id), ("name", "=", LATE_SERVICE_CUSTOMER)], limit=1
        )
        product = self.env["product.product"].search(
            [("company_id", "=", company.id), ("default_code", "=", "STATICIP")], limit=1
        )
        first = company._rebilling_local_now().date().replace(day=1) - relativedelta(months=1)
        service = self.env["rebilling.service"].create(
            {
                "partner_id": partner.id,
                "company_id": company.id,
                "product_id": product.id,
                "identifiers": "203.0.113.10",
                "date_start": first.replace(day=10),
            }
        )
        return self.env._(
            "entered late : %(service)s for %(partner)s, from %(start)s (catch-up lines)",
            service=service.product_id.name,
            partner=partner.name,
            start=service.date_start,
        )

    # ------------------------------------------------------------ after the month's run
    @api.model
    def _demo_after_run(self, run):
        """What a reseller's month also holds, once the run is billed and sent.

        Extend for more (e.g. a reseller period invoice). Returns one line of
        text per thing done, for the demo's summary.
        """
        sent = run.invoice_ids.filtered(
            lambda m: m.rebilling_send_state == "sent" and m.move_type == "out_invoice"
        )[:1]
        if not sent:
            return [self.env._("credited     : nothing (no invoice was sent)")]
        reversal = (
            self.env["account.move.reversal"]
            .with_company(run.company_id)
            .with_context(active_model="account.move", active_ids=sent.ids)
            .create({"reason": "Service outage credit", "journal_id": sent.journal_id.id})
        )
        credit = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        credit.action_post()
        return [
            self.env._(
                "credited     : %(inv)s %(partner)s by credit note %(credit)s",
                inv=sent.name,
                partner=sent.partner_id.name,
                credit=credit.name,
            )
        ]

    @api.model
    def _demo_summary(self, run):
        """The month in numbers: invoices per send state, under review, failures."""
        moves = run.invoice_ids
        states = {}
        for move in moves:
            states[move.rebilling_send_state] = states.get(move.rebilling_send_state, 0) + 1
        return {
            "invoices": run.invoice_count,
            "errors": run.error_count,
            "states": states,
            "failed": {
                move.partner_id.name: " ".join((move.rebilling_send_error or "").split())
                for move in moves.filtered(lambda m: m.rebilling_send_state == "failed")
            },
            "catch_up": len(
                moves.invoice_line_ids.filtered(
                    lambda line: (
                        line.rebilling_date_to
                        and line.rebilling_date_to < run.period_start
                        and line.rebilling_line_kind in ("service", "recurring")
                    )
                )
            ),
            "credit_notes": self.env["account.move"].search_count(
                [("rebilling_period", "=", run.period_start), ("move_type", "=", "out_refund")]
            ),
        }
