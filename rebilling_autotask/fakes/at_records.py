"""Seeding and inspection of the fake Autotask's records, and the billing it does after it
accepted the charges (test helpers)."""

import copy

from odoo.addons.rebilling_base.fakes.base import (
    HttpError,
)

from .at_schema import (
    ENTITIES,
    _iso_now,
    _parse_dt,
)


class AutotaskRecordsMixin:
    """Seeding, billing and inspection helpers of :class:`.FakeAutotask`."""

    # -------------------------------------------------------------- seeding
    def _insert(self, key, fields):
        spec = ENTITIES[key]
        record = dict.fromkeys(spec["fields"].split())
        record.update(copy.deepcopy(spec["defaults"]))
        if spec["udf"]:
            record["userDefinedFields"] = []
        record.update(copy.deepcopy(fields))
        with self._state_lock:
            if not record.get("id"):
                record["id"] = next(self._ids)
            self._data[key][record["id"]] = record
        return copy.deepcopy(record)

    def add_company(self, company_name=None, **fields):
        """Add a company (no validation); return it."""
        if company_name is not None:
            fields["companyName"] = company_name
        fields.setdefault("companyType", 1)
        fields.setdefault("createDate", _iso_now())
        return self._insert("companies", fields)

    def add_contract(self, company_id=None, contract_name=None, **fields):
        """Add a contract (no validation); return it."""
        if company_id is not None:
            fields["companyID"] = company_id
        if contract_name is not None:
            fields["contractName"] = contract_name
        fields.setdefault("contractType", 7)
        fields.setdefault("status", 1)
        fields.setdefault("startDate", "2026-01-01T00:00:00")
        fields.setdefault("endDate", "2027-12-31T00:00:00")
        fields.setdefault("timeReportingRequiresStartAndStopTimes", 0)
        return self._insert("contracts", fields)

    def add_product(self, name=None, **fields):
        """Add a product (no validation); return it."""
        if name is not None:
            fields["name"] = name
        return self._insert("products", fields)

    def add_billing_code(self, name=None, **fields):
        """Add a billing code (``useType`` 2 = Material in this fake's picklist); return it."""
        if name is not None:
            fields["name"] = name
        fields.setdefault("useType", 2)
        return self._insert("billingcodes", fields)

    def add_charge(self, contract_id, **fields):
        """Add a contract charge through the API rules; return it (ValueError if invalid)."""
        try:
            with self._state_lock:
                record = self._save_charge(contract_id, {"chargeType": 1, **fields}, existing=None)
        except HttpError as exc:
            raise ValueError("; ".join(exc.body["errors"]))
        return copy.deepcopy(record)

    def approve_and_post(self, until=None):
        """Approve and Post every billable charge not billed yet (purchased on or before
        the day ``until``, if given); return the invoice (``lines``, ``total``).

        What Autotask does after it accepted the charges: billable charges "appear in
        Approve and Post" [Autotask "ContractCharges" entity page] and are billed
        once: a posted charge is ``isBilled`` (update and delete refused, same page);
        "the amounts for individual billing items are rounded to two decimal places
        when approved and posted"
        [autotask.net help "Contracts and billing system settings"]; a negative unit
        price is a credit on the invoice [KB "How can I issue a credit..."]. One
        invoice for all companies: ASSUMED (the totals are what the tests compare).
        """
        lines = []
        with self._state_lock:
            for charge in self._data["contractcharges"].values():
                if charge["isBilled"] or not charge.get("isBillableToCompany"):
                    continue
                purchased = _parse_dt(charge["datePurchased"])
                if until is not None and purchased.date() > until:
                    continue
                charge["isBilled"] = True
                lines.append(
                    {"chargeID": charge["id"], "amount": round(charge["billableAmount"], 2)}
                )
            invoice = {"lines": lines, "total": round(sum(x["amount"] for x in lines), 2)}
            self._invoices.append(invoice)
        return copy.deepcopy(invoice)

    def billed_total(self):
        """What Approve and Post billed so far."""
        with self._state_lock:
            return round(sum(invoice["total"] for invoice in self._invoices), 2)

    def invoices(self):
        with self._state_lock:
            return copy.deepcopy(self._invoices)

    def set_charge_billed(self, charge_id, billed=True):
        """Mark a charge billed (Autotask does it when an invoice is posted)."""
        with self._state_lock:
            self._data["contractcharges"][charge_id]["isBilled"] = billed

    def edit_charge(self, charge_id, **fields):
        """What a user does to an unbilled charge in Autotask's UI (its price, its
        quantity, "Billable" unticked); ``billableAmount`` follows [Autotask
        "ContractCharges" entity page: unitQuantity * unitPrice]."""
        with self._state_lock:
            charge = self._data["contractcharges"][charge_id]
            if charge["isBilled"]:
                raise ValueError("A billed charge cannot be changed.")
            charge.update(fields)
            charge["billableAmount"] = round(
                (charge.get("unitQuantity") or 0) * (charge.get("unitPrice") or 0), 2
            )

    # -------------------------------------------------------------- inspection
    def records(self, entity):
        """All records of an entity (``"Companies"``, ``"ContractCharges"``, ...)."""
        with self._state_lock:
            return copy.deepcopy(list(self._data[self._entity_key(entity)].values()))

    def get(self, entity, record_id):
        with self._state_lock:
            return copy.deepcopy(self._data[self._entity_key(entity)].get(int(record_id)))

    def companies(self):
        return self.records("companies")

    def contracts(self):
        return self.records("contracts")

    def products(self):
        return self.records("products")

    def billing_codes(self):
        return self.records("billingcodes")

    def charges(self, contract_id=None):
        items = self.records("contractcharges")
        if contract_id is not None:
            items = [c for c in items if c["contractID"] == contract_id]
        return items
