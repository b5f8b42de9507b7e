"""The fake Autotask enforces the documented rules (over real HTTP on 127.0.0.1, no database)."""

import threading
import unittest
from datetime import date

import requests

from odoo.addons.rebilling_connector.connector.http import (
    HttpClient,
    PermanentError,
    RetryableError,
)
from odoo.addons.rebilling_connector.tests.common_http import TIMEOUT

from ..fakes import FakeAutotask


class TestFakeAutotask(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.at = FakeAutotask()
        self.at.start()
        self.addCleanup(self.at.stop)
        zone = requests.get(self.at.zone_url, params={"user": self.at.username}, timeout=TIMEOUT)
        self.assertEqual(zone.status_code, 200)
        self.client = HttpClient(
            zone.json()["url"] + "V1.0",
            headers=self.at.auth_headers(),
            max_retries=0,
            timeout=TIMEOUT,
        )
        self.addCleanup(self.client.close)

    def test_zone_lookup_and_authentication(self):
        unknown = requests.get(self.at.zone_url, params={"user": "nobody"}, timeout=TIMEOUT)
        self.assertEqual(unknown.status_code, 500)
        self.assertEqual(unknown.json(), {"errors": ["Zone information could not be determined"]})
        bad_code = HttpClient(
            self.at.api_url,
            headers={**self.at.auth_headers(), "ApiIntegrationCode": "WRONG"},
            max_retries=0,
            timeout=TIMEOUT,
        )
        self.addCleanup(bad_code.close)
        with self.assertRaises(RetryableError) as caught:
            bad_code.get("Companies/1")
        self.assertEqual(caught.exception.body, {"errors": ["IntegrationCode is invalid."]})
        bad_secret = HttpClient(
            self.at.api_url,
            headers={**self.at.auth_headers(), "Secret": "nope"},
            max_retries=0,
            timeout=TIMEOUT,
        )
        self.addCleanup(bad_secret.close)
        with self.assertRaises(PermanentError) as caught:
            bad_secret.get("Companies/1")
        self.assertEqual(caught.exception.status, 401)

    def test_paging_posts_the_original_body_to_next_page_url(self):
        for i in range(12):
            self.at.add_company(f"Customer {i:02d}")
        self.at.add_company("Vendor")
        body = {
            "MaxRecords": 5,
            "IncludeFields": ["id", "companyName"],
            "Filter": [{"op": "beginsWith", "field": "companyName", "value": "customer"}],
        }
        page = self.client.post("companies/query", json=body)
        names = [c["companyName"] for c in page["items"]]
        details = page["pageDetails"]
        self.assertEqual(details["count"], 5)
        self.assertIn("/query/next?paging=", details["nextPageUrl"])
        self.assertIsNone(details["prevPageUrl"])
        self.assertEqual(set(page["items"][0]), {"id", "companyName"})

        with self.assertRaises(PermanentError) as caught:
            self.client.get(details["nextPageUrl"])
        self.assertEqual(caught.exception.status, 405)

        pages = 1
        while details["nextPageUrl"]:
            page = self.client.post(details["nextPageUrl"], json=body)
            details = page["pageDetails"]
            names += [c["companyName"] for c in page["items"]]
            pages += 1
        self.assertEqual(pages, 3)
        self.assertEqual(names, [f"Customer {i:02d}" for i in range(12)])
        self.assertTrue(details["prevPageUrl"])
        count = self.client.post("Companies/query/count", json=body)
        self.assertEqual(count, {"queryCount": 12})

    def test_filters(self):
        acme = self.at.add_company("Acme Pty Ltd", companyType=1, city="Sydney")
        self.at.add_company("Beta Corp", companyType=3, city=None)
        self.at.add_company("Gamma Ltd", companyType=1, city="Perth", isActive=False)

        def names(*filters):
            body = {"Filter": list(filters)}
            return sorted(
                c["companyName"] for c in self.client.post("Companies/query", json=body)["items"]
            )

        self.assertEqual(
            names({"op": "endsWith", "field": "companyname", "value": "LTD"}),
            ["Acme Pty Ltd", "Gamma Ltd"],
        )
        self.assertEqual(names({"op": "notExist", "field": "city"}), ["Beta Corp"])
        self.assertEqual(names({"op": "in", "field": "companyType", "value": [3]}), ["Beta Corp"])
        self.assertEqual(
            names(
                {"op": "eq", "field": "isActive", "value": True},
                {
                    "op": "or",
                    "items": [
                        {"op": "contains", "field": "companyName", "value": "corp"},
                        {"op": "eq", "field": "id", "value": acme["id"]},
                    ],
                },
            ),
            ["Acme Pty Ltd", "Beta Corp"],
        )
        self.assertEqual(
            names({"op": "notIn", "field": "city", "value": ["Sydney", "Perth"]}), ["Beta Corp"]
        )
        with self.assertRaises(RetryableError) as caught:  # Autotask answers 500 here
            names({"op": "eq", "field": "noSuchField", "value": 1})
        self.assertIn("noSuchField", caught.exception.body["errors"][0])

    def test_contract_charges_rules(self):
        company = self.at.add_company("Acme")
        contract = self.at.add_contract(company["id"], "Managed services")
        code = self.at.add_billing_code("Hardware", unitPrice=12.5, unitCost=7)
        base = {"name": "Licences", "datePurchased": "2026-01-31", "unitQuantity": 4}
        with self.assertRaises(RetryableError) as caught:
            self.client.post(
                f"Contracts/{contract['id']}/Charges", json={**base, "billingCodeID": code["id"]}
            )
        self.assertEqual(caught.exception.body["errors"], ["The field chargeType is required."])
        base["chargeType"] = 1
        with self.assertRaises(RetryableError) as caught:
            self.client.post(f"Contracts/{contract['id']}/Charges", json=base)
        self.assertIn("productID", caught.exception.body["errors"][0])

        created = self.client.post(
            f"Contracts/{contract['id']}/Charges", json={**base, "billingCodeID": code["id"]}
        )
        charge_id = created["itemId"]
        charge = self.client.get(f"ContractCharges/{charge_id}")["item"]
        self.assertEqual(charge["billableAmount"], 50.0)
        self.assertFalse(charge["isBilled"])
        self.client.patch(
            f"Contracts/{contract['id']}/Charges", json={"id": charge_id, "unitQuantity": 5}
        )
        self.assertEqual(self.at.get("ContractCharges", charge_id)["billableAmount"], 62.5)
        found = self.client.post(
            "ContractCharges/query",
            json={"Filter": [{"op": "eq", "field": "contractID", "value": contract["id"]}]},
        )
        self.assertEqual([c["id"] for c in found["items"]], [charge_id])

        self.at.set_charge_billed(charge_id)
        with self.assertRaises(RetryableError):
            self.client.patch(
                f"Contracts/{contract['id']}/Charges", json={"id": charge_id, "unitQuantity": 6}
            )
        with self.assertRaises(RetryableError):
            self.client.delete(f"Contracts/{contract['id']}/Charges/{charge_id}")
        with self.assertRaises(PermanentError) as caught:  # BillingCodes are read-only
            self.client.post("BillingCodes", json={"name": "New"})
        self.assertEqual(caught.exception.status, 405)

    def test_contract_required_fields(self):
        """A contract needs its name, company, type, start and end dates, status and
        time-reporting flag (Autotask's field info)."""
        company = self.at.add_company("Acme")
        with self.assertRaises(RetryableError) as caught:
            self.client.post(
                "Contracts",
                json={"contractName": "MSA", "companyID": company["id"], "contractType": 7},
            )
        self.assertEqual(
            caught.exception.body["errors"],
            [
                "The field startDate is required.",
                "The field endDate is required.",
                "The field status is required.",
                "The field timeReportingRequiresStartAndStopTimes is required.",
            ],
        )
        complete = {
            "contractName": "MSA",
            "companyID": company["id"],
            "contractType": 7,
            "status": 1,
            "startDate": "2026-01-01T00:00:00",
            "endDate": "2025-12-31T00:00:00",
            "timeReportingRequiresStartAndStopTimes": 0,
        }
        with self.assertRaises(RetryableError) as caught:
            self.client.post("Contracts", json=complete)
        self.assertIn("end date", caught.exception.body["errors"][0])
        complete["endDate"] = "2026-12-31T00:00:00"
        self.assertTrue(self.client.post("Contracts", json=complete)["itemId"])

    def test_approve_and_post_bills_each_charge_once(self):
        company = self.at.add_company("Acme")
        contract = self.at.add_contract(company["id"], "Managed services")
        code = self.at.add_billing_code("Hardware")
        path = f"Contracts/{contract['id']}/Charges"
        base = {"name": "Calls", "chargeType": 1, "billingCodeID": code["id"]}
        with self.assertRaises(RetryableError) as caught:
            self.client.post(path, json={**base, "datePurchased": "2026-11-01", "unitQuantity": -1})
        self.assertIn("cannot be negative", caught.exception.body["errors"][0])
        for day, quantity, price in (
            ("2026-11-01", 3, 0.3333),  # 0.9999: stored with 4 decimals, posted 1.00
            ("2026-11-01", 1, -25.0),  # a credit
            ("2026-12-01", 2, 10.0),
        ):
            self.client.post(
                path,
                json={**base, "datePurchased": day, "unitQuantity": quantity, "unitPrice": price},
            )
        self.assertEqual(
            sorted(c["billableAmount"] for c in self.at.charges()), [-25.0, 0.9999, 20.0]
        )
        november = self.at.approve_and_post(until=date(2026, 11, 30))
        self.assertEqual(november["total"], -24.0)
        self.assertEqual(self.at.approve_and_post()["total"], 20.0)
        self.assertEqual(self.at.approve_and_post()["lines"], [], "each charge posted once")
        self.assertEqual(self.at.billed_total(), -4.0)

    def test_thread_limit(self):
        fake = FakeAutotask(thread_limit=3, latency=0.5)
        fake.start()
        self.addCleanup(fake.stop)
        statuses = []

        def call():
            response = requests.post(
                f"{fake.api_url}/Companies/query",
                json={"Filter": []},
                headers=fake.auth_headers(),
                timeout=TIMEOUT,
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=call) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(statuses), [200, 200, 200, 429, 429])
        self.assertLessEqual(fake.max_in_flight, 3)


# ---------------------------------------------------------------------------- ConnectWise
