"""Seeding and inspection of the fake ConnectWise's records (test helpers)."""

import copy

from odoo.addons.rebilling_base.fakes.base import HttpError

from .cw_schema import (
    ENTITIES,
    _iso_now,
)


class ConnectWiseRecordsMixin:
    """Seeding and inspection helpers of :class:`.FakeConnectWise`."""

    # -------------------------------------------------------------- seeding
    def _store(self, key, record, agreement_id=None):
        with self._state_lock:
            if not record.get("id"):
                record["id"] = next(self._ids[key])
            if key == "additions":
                record["agreementId"] = agreement_id
            self._data[key][record["id"]] = record
        return copy.deepcopy(record)

    def _seed(self, key, fields):
        record = copy.deepcopy(ENTITIES[key]["defaults"])
        record.update(copy.deepcopy(fields))
        now = _iso_now()
        record["_info"] = {"lastUpdated": now, "updatedBy": "FakeApi", "dateEntered": now}
        return record

    def add_company(self, identifier=None, name=None, **fields):
        """Add a company (no validation); return it."""
        if identifier is not None:
            fields["identifier"] = identifier
        if name is not None:
            fields["name"] = name
        return self._store("companies", self._seed("companies", fields))

    def add_agreement(self, name=None, company_id=None, **fields):
        """Add an agreement (``company_id`` becomes ``company: {"id": ..}``); return it."""
        if name is not None:
            fields["name"] = name
        if company_id is not None:
            fields["company"] = {"id": company_id}
        fields.setdefault("type", {"id": 1, "name": "Managed Services"})
        record = self._seed("agreements", fields)
        self._expand_refs("agreements", record)
        return self._store("agreements", record)

    def add_product(self, identifier=None, description=None, **fields):
        """Add a catalog item (no validation); return it."""
        if identifier is not None:
            fields["identifier"] = identifier
        if description is not None:
            fields["description"] = description
            fields.setdefault("customerDescription", description)
        return self._store("catalog", self._seed("catalog", fields))

    def add_subcategory(self, name, **fields):
        """Add a product subcategory (``procurement/subcategories``); return it."""
        return self._store("subcategories", self._seed("subcategories", dict(fields, name=name)))

    def add_type(self, name, **fields):
        """Add a product type (``procurement/types``); return it."""
        return self._store("types", self._seed("types", dict(fields, name=name)))

    def add_addition(self, agreement_id, **fields):
        """Add an agreement addition through the API rules; return it (ValueError if invalid)."""
        if agreement_id not in self._data["agreements"]:
            raise ValueError(f"Agreement {agreement_id} does not exist")
        try:
            with self._state_lock:
                record = self._build("additions", fields, existing=None, agreement_id=agreement_id)
                return self._store("additions", record, agreement_id)
        except HttpError as exc:
            raise ValueError(exc.body.get("message") if isinstance(exc.body, dict) else exc.body)

    # -------------------------------------------------------------- inspection
    def records(self, key):
        with self._state_lock:
            return copy.deepcopy(list(self._data[key].values()))

    def companies(self):
        return self.records("companies")

    def agreements(self):
        return self.records("agreements")

    def products(self):
        return self.records("catalog")

    def additions(self, agreement_id=None):
        items = self.records("additions")
        if agreement_id is not None:
            items = [a for a in items if a["agreementId"] == agreement_id]
        return items

    def edit_addition(self, addition_id, **fields):
        """What a user does to an addition in ConnectWise's UI (its price, its quantity,
        "Bill Customer" set to DoNotBill); ``extPrice`` follows (``Addition.extPrice``
        of ConnectWise's REST API reference)."""
        with self._state_lock:
            addition = self._data["additions"][addition_id]
            addition.update(fields)
            addition["extPrice"] = round(
                (addition.get("quantity") or 0) * (addition.get("unitPrice") or 0), 2
            )
