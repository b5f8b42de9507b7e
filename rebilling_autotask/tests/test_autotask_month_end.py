from freezegun import freeze_time

from .common import AutotaskCase


class TestAutotaskMonthEnd(AutotaskCase):
    """Month end lists customers with Autotask contracts but no Autotask company mapped:
    their lines would fail at the push."""

    @freeze_time("2026-10-28 10:00:00")
    def test_customer_with_a_contract_but_no_company_is_listed_until_mapped(self):
        self.connect()
        self.seed(map_customers=False)
        self.link_services()

        def check():
            month_end = self.env["rebilling.month.end"]._rebilling_build(self.company)
            return month_end.line_ids.filtered(lambda ln: ln.code == "psa_mapping_autotask")

        line = check()
        self.assertEqual(line.count, 2)
        self.assertIn("Autotask", line.name)
        opened = self.env["res.partner"].search(line.action_open()["domain"])
        self.assertEqual(opened, self.customer_a | self.customer_b)
        self.map_customers()
        self.assertFalse(check())
