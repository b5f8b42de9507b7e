"""Validation of the records written to the fake ConnectWise (required fields, references,
additions)."""

import copy

from .cw_schema import (
    ENTITIES,
    ENUMS,
    _iso_now,
    _parse_dt,
)


class ConnectWiseValidationMixin:
    """Record building and validation of :class:`.FakeConnectWise`."""

    # -------------------------------------------------------------- validation
    def _expand_refs(self, key, record):
        if key == "agreements":
            company = record.get("company")
            target = self._data["companies"].get((company or {}).get("id"))
            if target is not None:
                record["company"] = {
                    "id": target["id"],
                    "identifier": target.get("identifier"),
                    "name": target.get("name"),
                    "_info": {"company_href": f"{self.api_url}/company/companies/{target['id']}"},
                }

    def _build(self, key, body, *, existing, agreement_id=None, replace=False):
        """Validate ``body`` for ``key`` and return the record to store (state lock held)."""
        spec = ENTITIES[key]
        known = {f.lower(): f for f in spec["fields"].split()}
        record = copy.deepcopy(spec["defaults"]) if existing is None or replace else {}
        errors = []
        for name, value in body.items():
            actual = known.get(name.lower())
            if actual is None or actual in ("id", "_info"):
                continue
            record[actual] = copy.deepcopy(value)
        for name, max_len in spec["required"].items():
            value = record.get(name)
            if value in (None, "") or (isinstance(value, dict) and not value):
                errors.append(("Required", f"The {name} field is required.", name))
            elif max_len and isinstance(value, str) and len(value) > max_len:
                errors.append(
                    (
                        "MaxLengthField",
                        f"The field {name} must be a string with a maximum length of {max_len}.",
                        name,
                    )
                )
        for (entity, name), allowed in ENUMS.items():
            if entity == key and record.get(name) is not None and record[name] not in allowed:
                errors.append(("InvalidValue", f"{record[name]} is not a valid {name}.", name))
        unique = spec["unique"]
        if unique and record.get(unique):
            for other in self._data[key].values():
                if (existing is None or other["id"] != existing["id"]) and str(
                    other.get(unique, "")
                ).casefold() == str(record[unique]).casefold():
                    errors.append(
                        (
                            "ObjectExists",
                            f"The {unique} {record[unique]} is already in use.",
                            unique,
                        )
                    )
        if key == "agreements":
            company = record.get("company")
            if (
                isinstance(company, dict)
                and company.get("id") is not None
                and company["id"] not in self._data["companies"]
            ):
                errors.append(("NotFound", "Company not found.", "company/id"))
            if record.get("type") is not None and not isinstance(record["type"], dict):
                errors.append(("InvalidObject", "type must be a reference.", "type"))
        if key == "additions":
            errors.extend(self._check_addition(record))
        if key == "catalog":
            # ASSUMED: a reference must exist (checked once the fake knows any).
            for name, target in (("subcategory", "subcategories"), ("type", "types")):
                ref = record.get(name)
                known = self._data[target]
                if known and isinstance(ref, dict) and ref.get("id") not in known:
                    errors.append(("NotFound", f"The {name} was not found.", f"{name}/id"))
        if errors:
            self._invalid(key, errors)
        if key == "additions":
            self._compute_addition(record, agreement_id)
        self._expand_refs(key, record)
        now = _iso_now()
        entered = (existing or {}).get("_info", {}).get("dateEntered", now)
        record["_info"] = {"lastUpdated": now, "updatedBy": "FakeApi", "dateEntered": entered}
        if key == "catalog":
            record.setdefault("dateEntered", entered)
        return record

    def _check_addition(self, record):
        product = record.get("product")
        if not isinstance(product, dict) or not (product.get("id") or product.get("identifier")):
            return (
                [] if product in (None, "") else [("Required", "product is required.", "product")]
            )
        item = None
        if product.get("id") is not None:
            item = self._data["catalog"].get(product["id"])
        else:
            item = next(
                (
                    c
                    for c in self._data["catalog"].values()
                    if str(c.get("identifier", "")).casefold()
                    == str(product["identifier"]).casefold()
                ),
                None,
            )
        if item is None:
            return [("NotFound", "Product not found.", "product/id")]
        record["product"] = {"id": item["id"], "identifier": item["identifier"]}
        for name in ("quantity", "lessIncluded", "unitPrice", "unitCost"):
            value = record.get(name)
            if value is not None and not isinstance(value, (int, float)):
                return [("InvalidValue", f"{name} must be a number.", name)]
        errors = []
        dates = {}
        for name in ("effectiveDate", "cancelledDate"):
            value = record.get(name)
            if value not in (None, "") and _parse_dt(value) is None:
                errors.append(("InvalidValue", f"{name} is not a valid date.", name))
            dates[name] = _parse_dt(value)
        # ASSUMED: an addition cannot stop billing before it starts.
        effective, cancelled = dates["effectiveDate"], dates["cancelledDate"]
        if effective and cancelled and cancelled < effective:
            errors.append(
                (
                    "InvalidValue",
                    "The cancelled date cannot be before the effective date.",
                    "cancelledDate",
                )
            )
        return errors

    def _compute_addition(self, record, agreement_id):
        item = self._data["catalog"][record["product"]["id"]]
        if record.get("unitPrice") is None:
            record["unitPrice"] = item.get("price") or 0.0
        if record.get("unitCost") is None:
            record["unitCost"] = item.get("cost") or 0.0
        if record.get("taxableFlag") is None:
            record["taxableFlag"] = bool(item.get("taxableFlag"))
        quantity = float(record.get("quantity") or 0)
        record["extPrice"] = round(quantity * float(record["unitPrice"]), 2)
        record["extCost"] = round(quantity * float(record["unitCost"]), 2)
        record["margin"] = round(record["extPrice"] - record["extCost"], 2)
        record["agreementId"] = agreement_id
        agreement = self._data["agreements"].get(agreement_id) or {}
        record["agreementStatus"] = agreement.get("agreementStatus")
        record.setdefault("billedQuantity", 0)
