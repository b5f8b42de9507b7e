"""The write endpoints of the fake Autotask (POST/PUT/PATCH/DELETE of entities and contract
charges) and the validation of what is written."""

import copy

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    HttpError,
    get_ci,
)

from .at_schema import (
    CHILDREN,
    ENTITIES,
    _iso_now,
    _parse_dt,
)


class AutotaskWritesMixin:
    """Write endpoints and validation of :class:`.FakeAutotask`."""

    # -------------------------------------------------------------- writes
    def _clean(self, key, body, existing):
        """Keep known, writable fields of ``body`` (unknown ones are ignored, like Autotask)."""
        spec = ENTITIES[key]
        names = {n.lower(): n for n in spec["fields"].split()}
        read_only = set(spec.get("read_only", "").split()) | {"id"}
        clean = {}
        for name, value in body.items():
            actual = names.get(name.lower())
            if actual and actual not in read_only:
                clean[actual] = value
            elif name.lower() == "userdefinedfields" and spec["udf"]:
                clean["userDefinedFields"] = value
        return clean

    def _check_refs(self, record):
        refs = {
            "companyID": "companies",
            "parentCompanyID": "companies",
            "billToCompanyID": "companies",
            "productBillingCodeID": "billingcodes",
            "chargeBillingCodeID": "billingcodes",
            "setupFeeBillingCodeID": "billingcodes",
            "productID": "products",
            "billingCodeID": "billingcodes",
            "contractID": "contracts",
        }
        for name, target in refs.items():
            value = record.get(name)
            if value is not None and value not in self._data[target]:
                self._fail(f"{name} {value} does not exist.")

    def _check_required(self, key, record):
        missing = [n for n in ENTITIES[key]["required"] if record.get(n) in (None, "")]
        if missing:
            self._fail(*[f"The field {n} is required." for n in missing])

    def _check_picklists(self, key, record):
        for name, values in ENTITIES[key]["picklists"].items():
            value = record.get(name)
            if value is not None and str(value) not in {str(v) for v, _ in values}:
                self._fail(f"The value {value} is not valid for {name}.")

    def _body(self, request):
        body = request.json
        if not isinstance(body, dict):
            self._fail("The request body must be a JSON object.")
        return body

    def _write(self, request):
        key = self._entity_key(request.params["entity"])
        spec = ENTITIES[key]
        if request.method == "POST" and not spec["create"]:
            return self._method_not_allowed(request, "GET")
        if request.method in ("PATCH", "PUT") and not spec["update"]:
            return self._method_not_allowed(request, "GET")
        body = self._body(request)
        with self._state_lock:
            if request.method == "POST":
                if get_ci(body, "id"):
                    self._fail("The id must not be set on create.")
                record = dict.fromkeys(spec["fields"].split())
                record.update(copy.deepcopy(spec["defaults"]))
                if spec["udf"]:
                    record["userDefinedFields"] = []
                record.update(self._clean(key, body, None))
                if key == "companies":
                    record["createDate"] = _iso_now()
            else:
                record_id = get_ci(body, "id")
                existing = self._data[key].get(record_id) if record_id is not None else None
                if existing is None:
                    self._fail(f"{spec['name']} with id {record_id} was not found.", status=404)
                record = copy.deepcopy(existing)
                changes = self._clean(key, body, existing)
                if request.method == "PUT":
                    for name in spec["fields"].split():
                        if name != "id" and name not in changes:
                            changes.setdefault(name, spec["defaults"].get(name))
                record.update(changes)
            self._check_required(key, record)
            self._check_picklists(key, record)
            self._check_refs(record)
            if key == "contracts":
                self._check_contract_dates(record)
                record["lastModifiedDateTime"] = _iso_now()
            if not record.get("id"):
                record["id"] = next(self._ids)
            self._data[key][record["id"]] = record
            return {"itemId": record["id"]}

    def _check_contract_dates(self, record):
        """Valid start and end dates, the end not before the start (ASSUMED: the
        rule of the contract form)."""
        start, end = _parse_dt(record["startDate"]), _parse_dt(record["endDate"])
        if start is None or end is None:
            self._fail("startDate and endDate must be dates.")
        if end < start:
            self._fail("The contract end date cannot be before its start date.")

    def _delete_root(self, request):
        self._entity_key(request.params["entity"])
        return self._method_not_allowed(request, "GET")

    def _child_target(self, request):
        """``(entity key, parent id)`` of a child collection (``Contracts/{id}/Charges``)."""
        parent = request.params["parent"].lower()
        child_key = CHILDREN.get((parent, request.params["child"].lower()))
        if child_key is None:
            raise HttpError(404, {"errors": ["Child collection not found."]})
        pid = int(request.params["pid"])
        if pid not in self._data[parent]:
            self._fail(f"{ENTITIES[parent]['name']} {pid} was not found.", status=404)
        return child_key, pid

    def _write_child(self, request):
        _child_key, contract_id = self._child_target(request)
        body = self._body(request)
        with self._state_lock:
            if request.method == "POST":
                if get_ci(body, "id"):
                    self._fail("The id must not be set on create.")
                record = self._save_charge(contract_id, body, existing=None)
            else:
                charge_id = get_ci(body, "id")
                existing = self._data["contractcharges"].get(charge_id)
                if existing is None or existing["contractID"] != contract_id:
                    self._fail(f"ContractCharge {charge_id} was not found.", status=404)
                record = self._save_charge(
                    contract_id, body, existing=existing, replace=request.method == "PUT"
                )
        return {"itemId": record["id"]}

    def _child_item(self, request):
        _child_key, contract_id = self._child_target(request)
        charge_id = int(request.params["id"])
        with self._state_lock:
            charge = self._data["contractcharges"].get(charge_id)
            if charge is None or charge["contractID"] != contract_id:
                if request.method == "GET":
                    return FakeResponse(404, {"item": None})
                self._fail(f"ContractCharge {charge_id} was not found.", status=404)
            if request.method == "GET":
                return {"item": copy.deepcopy(charge)}
            if charge["isBilled"]:
                self._fail("A contract charge that is billed (isBilled = true) cannot be deleted.")
            del self._data["contractcharges"][charge_id]
        return {"itemId": charge_id}

    def _save_charge(self, contract_id, body, *, existing, replace=False):
        """Validate, compute and store a charge (state lock held); return the record."""
        key = "contractcharges"
        spec = ENTITIES[key]
        if contract_id not in self._data["contracts"]:
            self._fail(f"Contract {contract_id} was not found.", status=404)
        body_contract = get_ci(body, "contractID")
        if body_contract is not None and body_contract != contract_id:
            self._fail("contractID does not match the contract of the URL.")
        if existing is not None:
            if existing["isBilled"]:
                self._fail("A contract charge that is billed (isBilled = true) cannot be updated.")
            record = copy.deepcopy(existing)
            changes = self._clean(key, body, existing)
            if replace:
                for name in spec["fields"].split():
                    if name not in changes and name not in ("id", "contractID", "createDate"):
                        changes.setdefault(name, spec["defaults"].get(name))
                changes.pop("isBilled", None)
            record.update(changes)
        else:
            record = dict.fromkeys(spec["fields"].split())
            record.update(copy.deepcopy(spec["defaults"]))
            record.update(self._clean(key, body, None))
            record["createDate"] = _iso_now()
        record["contractID"] = contract_id
        self._check_required(key, record)
        if record.get("productID") is None and record.get("billingCodeID") is None:
            self._fail("A contract charge needs a productID or a billingCodeID.")
        self._check_picklists(key, record)
        self._check_refs(record)
        purchased = _parse_dt(record["datePurchased"])
        if purchased is None:
            self._fail("datePurchased is not a valid date.")
        record["datePurchased"] = purchased.strftime("%Y-%m-%dT%H:%M:%SZ")
        source = self._data["products"].get(record.get("productID")) or self._data[
            "billingcodes"
        ].get(record.get("billingCodeID"))
        try:
            quantity = round(float(record["unitQuantity"]), 4)
            price = record.get("unitPrice")
            if price is None:
                price = (source or {}).get("unitPrice") or 0
            cost = record.get("unitCost")
            if cost is None:
                cost = (source or {}).get("unitCost") or 0
            price, cost = round(float(price), 4), round(float(cost), 4)
        except (TypeError, ValueError):
            self._fail("unitQuantity, unitPrice and unitCost must be numbers.")
        # DOCUMENTED [Autotask KB "How can I issue a credit or add a negative charge to an
        # invoice?": "The Quantity of the charge cannot be a negative value, but the Unit
        # Price can be a negative amount."]
        if quantity < 0:
            self._fail("The quantity of a charge cannot be negative.")
        record.update(
            unitQuantity=quantity,
            unitPrice=price,
            unitCost=cost,
            # Stored with four decimals, rounded to the cent when posted [autotask.net
            # help "Contracts and billing system settings"].
            billableAmount=round(quantity * price, 4),
            extendedCost=round(quantity * cost, 4),
            internalCurrencyUnitPrice=price,
            internalCurrencyBillableAmount=round(quantity * price, 4),
        )
        if existing is None or existing.get("status") != record.get("status"):
            record["statusLastModifiedDate"] = _iso_now()
        if not record.get("id"):
            record["id"] = next(self._ids)
        self._data[key][record["id"]] = record
        return record
