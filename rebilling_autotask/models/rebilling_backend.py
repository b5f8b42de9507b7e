"""The Autotask backend: REST connection, pulls, and the contract charge push.

Built on the connector core of ``rebilling_base`` (see the docstring of its
``rebilling_backend`` module). Autotask specifics:

* the API base URL comes from the zone lookup (``zoneInformation?user=``), which
  needs no authentication; every other call sends ``ApiIntegrationCode``,
  ``UserName`` and ``Secret``;
* queries are POSTs with a filter; more than 500 results come in pages whose
  ``nextPageUrl`` receives the original body again (POST);
* each invoice line of a VoIP utility service becomes one contract charge.
  The binding of the line holds the charge id: a changed line PATCHes its
  charge, or deletes and recreates it when it moved to another contract, as
  long as Autotask has not billed it (``isBilled``).

Exactly once: a charge carries a marker (``notes``) naming the database and
the invoice line. A create is never retried blindly after a timeout (the
server may have created it); a later attempt looks the marker up first.

Override points: ``_autotask_line_unit_cost(line)``, ``_autotask_charge_values(line)``,
``_autotask_lines(moves)``.
"""

import logging
import time

from odoo import api, fields, models
from odoo.addons.rebilling_base.connector.http import ConnectorError, HttpClient, RetryableError
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

ZONE_URL = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"
# Service types billed through Autotask: wholesale service provider, VoIP bundle, SIP trunk.
VOIP_SERVICE_TYPES = ("wholesale", "voip_bundle", "sip_trunk")
MAX_RECORDS = 500
THREAD_LIMIT = 3  # concurrent requests per integration code and entity
HOURLY_LIMIT = 10000


def autotask_error_text(exc):
    """The ``errors`` of an Autotask answer, else the error's own message."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and body.get("errors"):
        return " ".join(str(e) for e in body["errors"])
    return str(exc)


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"

    backend_type = fields.Selection(
        selection_add=[("autotask", "Autotask")], ondelete={"autotask": "cascade"}
    )
    autotask_zone_url = fields.Char(
        "Zone Lookup URL",
        default=ZONE_URL,
        help="Autotask's zoneInformation address; it gives the API URL of your database.",
    )
    autotask_secret = fields.Char("Secret", groups="base.group_system", copy=False)
    autotask_integration_code = fields.Char(
        "Tracking Identifier",
        groups="base.group_system",
        copy=False,
        help="The API tracking identifier (ApiIntegrationCode) of the API user.",
    )
    autotask_zone_name = fields.Char("Zone", readonly=True, copy=False)
    autotask_web_url = fields.Char("Autotask Web URL", readonly=True, copy=False)
    autotask_record_ids = fields.One2many(
        "rebilling.autotask.record", "backend_id", "Autotask Records"
    )

    # ------------------------------------------------------------ lookup
    @api.model
    def _autotask_backend(self, company):
        """The active Autotask backend of ``company`` (empty when none)."""
        return self.search(
            [("backend_type", "=", "autotask"), ("company_id", "=", company.id)], limit=1
        )

    # ------------------------------------------------------------ core overrides
    @api.model
    def _rebilling_type_defaults(self, backend_type):
        if backend_type != "autotask":
            return super()._rebilling_type_defaults(backend_type)
        return {
            "name": "Autotask",
            "autotask_zone_url": ZONE_URL,
            "rate_limit_calls": HOURLY_LIMIT,
            "rate_limit_window": 3600.0,
            "rate_limit_concurrent": THREAD_LIMIT,
        }

    def _rebilling_client_kwargs(self):
        kwargs = super()._rebilling_client_kwargs()
        if self.backend_type != "autotask":
            return kwargs
        secret = self.sudo()
        kwargs["headers"] = dict(
            kwargs.get("headers") or {},
            ApiIntegrationCode=secret.autotask_integration_code or "",
            UserName=secret.username or "",
            Secret=secret.autotask_secret or "",
        )
        kwargs["headers"]["Content-Type"] = "application/json"
        return kwargs

    def _rebilling_check_connection(self):
        if self.backend_type != "autotask":
            return super()._rebilling_check_connection()
        self.ensure_one()
        self._autotask_discover_zone()
        try:
            self._rebilling_client().get("ThresholdInformation", retries=1)
        except ConnectorError as exc:
            raise UserError(
                self.env._("Autotask refused the connection: %s", autotask_error_text(exc))
            ) from None
        return True

    # ------------------------------------------------------------ connection
    def _autotask_check_settings(self):
        secret = self.sudo()
        missing = [
            label
            for label, value in (
                (self.env._("API username"), secret.username),
                (self.env._("Secret"), secret.autotask_secret),
                (self.env._("Tracking Identifier"), secret.autotask_integration_code),
            )
            if not value
        ]
        if missing:
            raise UserError(self.env._("Enter the Autotask %s first.", ", ".join(missing)))

    def _autotask_discover_zone(self):
        """Find the API URL of the user's zone; store it with the zone name."""
        self.ensure_one()
        self._autotask_check_settings()
        client = HttpClient(
            "",
            headers={"Accept": "application/json"},
            timeout=(self.connect_timeout or 5.0, self.read_timeout or 30.0),
            max_retries=1,
            backoff=self.retry_backoff,
            logger=_logger,
        )
        try:
            zone = client.get(
                self.autotask_zone_url or ZONE_URL, params={"user": self.sudo().username}
            )
        except ConnectorError as exc:
            raise UserError(
                self.env._("The Autotask zone lookup failed: %s", autotask_error_text(exc))
            ) from None
        finally:
            client.close()
        if not isinstance(zone, dict) or not zone.get("url"):
            raise UserError(self.env._("Zone information could not be determined."))
        self.write(
            {
                "api_url": zone["url"].rstrip("/") + "/V1.0",
                "autotask_zone_name": zone.get("zoneName") or False,
                "autotask_web_url": zone.get("webUrl") or False,
            }
        )
        return zone

    def action_autotask_connect(self):
        """Save and connect: discover the zone, check the credentials, report it plainly."""
        self.ensure_one()
        try:
            self._rebilling_check_connection()
        except UserError as exc:
            message = exc.args[0]
            self._rebilling_set_error(message)
            return self._rebilling_notify(message, "danger")
        self._rebilling_set_connected(
            self.env._("Connected to Autotask (zone %s).", self.autotask_zone_name or "?")
        )
        return self._rebilling_notify(
            self.env._(
                "The configuration is saved: Autotask (zone %s) is now integrated with your "
                "billing system.",
                self.autotask_zone_name or "?",
            ),
            "success",
        )

    def action_test_connection(self):
        if self.backend_type != "autotask":
            return super().action_test_connection()
        self.ensure_one()
        self._rebilling_check_connection()
        return self._rebilling_notify(
            self.env._("The connection works: zone %s.", self.autotask_zone_name or "?"),
            "success",
        )

    # ------------------------------------------------------------ queries
    def _autotask_query(self, entity, filters=None, client=None):
        """Every record of ``entity`` matching ``filters`` (all pages)."""
        self.ensure_one()
        client = client or self._rebilling_client()
        body = {
            "MaxRecords": MAX_RECORDS,
            "Filter": filters or [{"op": "exist", "field": "id"}],
        }
        data = client.post(f"{entity}/query", json=body) or {}
        items = list(data.get("items") or [])
        pages = 1
        while (data.get("pageDetails") or {}).get("nextPageUrl"):
            # Autotask wants the original query POSTed again to the next page URL.
            data = client.post(data["pageDetails"]["nextPageUrl"], json=body) or {}
            items += data.get("items") or []
            pages += 1
            if pages > 10000:
                raise UserError(self.env._("Autotask returned too many pages."))
        return items

    def _autotask_picklist_value(self, entity, field_name, label, default):
        """The numeric value of a picklist label (e.g. the "Material" use type)."""
        self.ensure_one()
        try:
            data = self._rebilling_client().get(f"{entity}/entityInformation/fields") or {}
        except ConnectorError as exc:
            _logger.info("backend %s: picklist of %s unavailable: %s", self.id, entity, exc)
            return default
        for field_info in data.get("fields") or []:
            if str(field_info.get("name", "")).lower() != field_name.lower():
                continue
            for value in field_info.get("picklistValues") or []:
                if str(value.get("label", "")).lower() == label.lower():
                    try:
                        return int(value["value"])
                    except (KeyError, TypeError, ValueError):
                        return default
        return default

    @staticmethod
    def _autotask_date(value):
        if not value:
            return False
        return fields.Date.to_date(str(value)[:10])

    def _autotask_store(self, kind, items, values):
        """Create or update the records of ``kind`` from ``items``; archive the missing ones."""
        self.ensure_one()
        Record = self.env["rebilling.autotask.record"].with_context(active_test=False)
        existing = {
            r.external_id: r
            for r in Record.search([("backend_id", "=", self.id), ("kind", "=", kind)])
        }
        seen = set()
        to_create = []
        for item in items:
            external_id = int(item["id"])
            seen.add(external_id)
            vals = values(item)
            record = existing.get(external_id)
            if record:
                changes = {
                    k: v
                    for k, v in vals.items()
                    if (record[k].id if isinstance(record[k], models.BaseModel) else record[k]) != v
                }
                if changes:
                    record.write(changes)
            else:
                to_create.append(dict(vals, backend_id=self.id, kind=kind, external_id=external_id))
        Record.create(to_create)
        missing = [r for ext, r in existing.items() if ext not in seen and r.active]
        if missing:
            Record.browse([r.id for r in missing]).write({"active": False})
        return len(items)

    # ------------------------------------------------------------ pulls
    def _rebilling_pull_autotask_companies(self):
        items = self._autotask_query(
            "Companies", [{"op": "eq", "field": "isActive", "value": True}]
        )
        count = self._autotask_store(
            "company",
            items,
            lambda i: {
                "name": i.get("companyName") or str(i["id"]),
                "reference": i.get("companyNumber") or False,
                "active": True,
            },
        )
        suggested = self._autotask_suggest_companies()
        return self.env._(
            "%(count)s companies, %(suggested)s mapping suggestion(s)",
            count=count,
            suggested=suggested,
        )

    def _rebilling_pull_autotask_contracts(self):
        companies = {
            r.external_id: r.id
            for r in self.env["rebilling.autotask.record"]
            .with_context(active_test=False)
            .search([("backend_id", "=", self.id), ("kind", "=", "company")])
        }
        items = self._autotask_query("Contracts", [{"op": "eq", "field": "status", "value": 1}])
        count = self._autotask_store(
            "contract",
            items,
            lambda i: {
                "name": i.get("contractName") or str(i["id"]),
                "reference": i.get("contractNumber") or False,
                "description": i.get("description") or False,
                "parent_id": companies.get(i.get("companyID")) or False,
                "date_start": self._autotask_date(i.get("startDate")),
                "date_end": self._autotask_date(i.get("endDate")),
                "active": True,
            },
        )
        return self.env._("%s contracts", count)

    def _rebilling_pull_autotask_products(self):
        items = self._autotask_query("Products", [{"op": "eq", "field": "isActive", "value": True}])
        count = self._autotask_store("product", items, self._autotask_product_values)
        return self.env._("%s products", count)

    def _rebilling_pull_autotask_billing_codes(self):
        material = self._autotask_picklist_value("BillingCodes", "useType", "Material", 2)
        items = self._autotask_query(
            "BillingCodes",
            [
                {"op": "eq", "field": "useType", "value": material},
                {"op": "eq", "field": "isActive", "value": True},
            ],
        )
        count = self._autotask_store(
            "billing_code",
            items,
            lambda i: {
                "name": i.get("name") or str(i["id"]),
                "reference": i.get("externalNumber") or False,
                "description": i.get("description") or False,
                "unit_cost": i.get("unitCost") or 0.0,
                "unit_price": i.get("unitPrice") or 0.0,
                "active": True,
            },
        )
        return self.env._("%s material codes", count)

    @api.model
    def _autotask_product_values(self, item):
        return {
            "name": item.get("name") or str(item["id"]),
            "reference": item.get("sku") or False,
            "description": item.get("description") or False,
            "unit_cost": item.get("unitCost") or 0.0,
            "unit_price": item.get("unitPrice") or 0.0,
            "is_serialized": bool(item.get("isSerialized")),
            "active": True,
        }

    def _autotask_suggest_companies(self):
        """Suggest an Autotask company for each unmapped customer with the same name."""
        self.ensure_one()
        companies = self.env["rebilling.autotask.record"].search(
            [("backend_id", "=", self.id), ("kind", "=", "company")]
        )
        by_name = {}
        for company in companies:
            by_name.setdefault(" ".join(company.name.casefold().split()), company)
        partners = self.env["res.partner"].search(
            [
                ("rebilling_enabled", "=", True),
                ("rebilling_autotask_company_id", "=", False),
                ("company_id", "in", [False, self.company_id.id]),
            ]
        )
        count = 0
        for partner in partners:
            key = " ".join((partner.name or "").casefold().split())
            match = by_name.get(key)
            if not match:
                match = next(
                    (c for name, c in by_name.items() if key and (key in name or name in key)),
                    False,
                )
            if match and partner.rebilling_autotask_suggested_id != match:
                partner.rebilling_autotask_suggested_id = match
            count += bool(match)
        return count

    def action_autotask_pull(self):
        """Pull companies, contracts, products and material codes now."""
        self.ensure_one()
        if self.state != "connected":
            raise UserError(self.env._("Connect to Autotask first."))
        messages = [
            self._rebilling_pull(what)
            for what in (
                "autotask_companies",
                "autotask_contracts",
                "autotask_products",
                "autotask_billing_codes",
            )
        ]
        return self._rebilling_notify(
            self.env._("Pulled from Autotask: %s.", "; ".join(m for m in messages if m)),
            "success",
        )

    def action_autotask_view_records(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_autotask.action_rebilling_autotask_record"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    # ------------------------------------------------------------ creations (service form)
    def _autotask_create(self, entity, values):
        """Create one ``entity`` record in Autotask; return its id."""
        self.ensure_one()
        if self.state != "connected":
            raise UserError(self.env._("Connect to Autotask first."))
        try:
            data = self._rebilling_client().post(entity, json=values) or {}
        except ConnectorError as exc:
            raise UserError(
                self.env._(
                    "Autotask refused to create the %(entity)s: %(error)s",
                    entity=entity,
                    error=autotask_error_text(exc),
                )
            ) from None
        if not data.get("itemId"):
            raise UserError(self.env._("Autotask answered without an id."))
        return int(data["itemId"])

    # ------------------------------------------------------------ push: lines
    def _autotask_lines(self, moves):
        """Invoice lines of ``moves`` to push: VoIP utility services with a contract."""
        return moves.invoice_line_ids.filtered(
            lambda line: (
                line.display_type == "product"
                and line.rebilling_service_id.service_type in VOIP_SERVICE_TYPES
                and line.rebilling_service_id.autotask_contract_id
            )
        )

    def _autotask_line_unit_cost(self, line):
        """Override point: the unit cost of a charge (the product's cost by default)."""
        service = line.rebilling_service_id
        cost = line.product_id.standard_price
        if not cost:
            cost = (service.autotask_product_id or service.autotask_billing_code_id).unit_cost
        return cost or 0.0

    def _autotask_marker(self, line):
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"rebilling:{uuid[:13]}:{line.id}"

    def _autotask_charge_values(self, line):
        """Override point: the contract charge of ``line`` (an Autotask JSON object)."""
        service = line.rebilling_service_id
        move = line.move_id
        quantity = line.quantity
        price = line.price_unit * (1 - (line.discount or 0.0) / 100.0)
        day = move.invoice_date or move.date
        values = {
            "contractID": service.autotask_contract_id.external_id,
            "name": (line.product_id.name or service.name or line.name or "")[:100],
            "description": (line.name or "")[:2000],
            "datePurchased": f"{day.isoformat()}T00:00:00Z",
            "unitQuantity": quantity,
            "unitCost": round(self._autotask_line_unit_cost(line), 4),
            "unitPrice": round(price, 4),
            "isBillableToCompany": True,
            "purchaseOrderNumber": (move.name or "")[:50],
            "notes": self._autotask_marker(line),
        }
        if service.autotask_product_id:
            values["productID"] = service.autotask_product_id.external_id
        else:
            values["billingCodeID"] = service.autotask_billing_code_id.external_id
        return values

    def _rebilling_push_prepare(self, record):
        if self.backend_type != "autotask" or record._name != "account.move.line":
            return super()._rebilling_push_prepare(record)
        service = record.rebilling_service_id
        if record.move_id.state != "posted":
            raise UserError(self.env._("The invoice %s is not posted.", record.move_id.name))
        if service.service_type not in VOIP_SERVICE_TYPES:
            raise UserError(
                self.env._(
                    "%s is not a VoIP utility service: not billed in Autotask.", service.name
                )
            )
        if not service.autotask_contract_id:
            raise UserError(self.env._("Choose the Autotask contract of %s.", service.name))
        if not (service.autotask_product_id or service.autotask_billing_code_id):
            raise UserError(
                self.env._(
                    "Choose the Autotask product or material code of %s.", service.display_name
                )
            )
        return self._autotask_charge_values(record)

    def _rebilling_push_send(self, res_model, items):
        if self.backend_type != "autotask" or res_model != "account.move.line":
            return super()._rebilling_push_send(res_model, items)
        client = self._rebilling_client()
        results = []
        for line, payload, binding in items:
            try:
                results.append(self._autotask_send_charge(client, line, payload, binding))
            except ConnectorError as exc:
                results.append({"error": autotask_error_text(exc), "retry": exc.retryable})
            except UserError as exc:
                results.append({"error": exc.args[0], "retry": False})
        client.close()
        return results

    def _autotask_send_charge(self, client, line, payload, binding):
        contract_id = payload["contractID"]
        result_data = {"contract_id": contract_id, "move_id": line.move_id.id}
        if binding and binding.external_id:
            charge_id = int(binding.external_id)
            answer = client.get(f"ContractCharges/{charge_id}", ok_statuses=(404,)) or {}
            current = answer.get("item")
            if current and current.get("isBilled"):
                raise UserError(
                    self.env._(
                        "The Autotask charge %s is already billed: it cannot be changed. "
                        "Correct it in Autotask.",
                        charge_id,
                    )
                )
            if current and current.get("contractID") == contract_id:
                client.patch(f"Contracts/{contract_id}/Charges", json={"id": charge_id, **payload})
                return {
                    "external_id": str(charge_id),
                    "data": result_data,
                    "message": self.env._("Charge %s updated.", charge_id),
                }
            if current:
                # Moved to another contract: a charge cannot change contract, replace it.
                client.delete(f"Contracts/{current['contractID']}/Charges/{charge_id}")
            new_id = self._autotask_create_charge(client, payload, lookup=False)
            return {
                "external_id": str(new_id),
                "data": result_data,
                "message": self.env._(
                    "Charge %(old)s replaced by %(new)s.", old=charge_id, new=new_id
                ),
            }
        # A binding without id: an earlier attempt failed, maybe after Autotask created it.
        new_id = self._autotask_create_charge(client, payload, lookup=bool(binding))
        return {"external_id": str(new_id), "data": result_data}

    def _autotask_find_charge(self, client, payload):
        """The id of the charge carrying the marker of ``payload``, else ``None``."""
        found = self._autotask_query(
            "ContractCharges",
            [
                {"op": "eq", "field": "contractID", "value": payload["contractID"]},
                {"op": "eq", "field": "notes", "value": payload["notes"]},
            ],
            client=client,
        )
        return int(found[0]["id"]) if found else None

    def _autotask_create_charge(self, client, payload, lookup):
        """Create the charge exactly once; return its id.

        The POST is never repeated after a timeout (the outcome is unknown: the
        error goes up and the next attempt looks the marker up first). After a
        429 it is repeated after the wait asked; after a 5xx, once the marker
        lookup shows that nothing was created.
        """
        contract_id = payload["contractID"]
        if lookup:
            existing = self._autotask_find_charge(client, payload)
            if existing:
                client.patch(f"Contracts/{contract_id}/Charges", json={"id": existing, **payload})
                return existing
        attempt = 0
        while True:
            try:
                data = client.post(f"Contracts/{contract_id}/Charges", json=payload, retries=0)
                return int((data or {})["itemId"])
            except RetryableError as exc:
                if exc.status is None or attempt >= self.max_retries:
                    raise
                if exc.status == 429:
                    delay = exc.retry_after
                    if delay is None:
                        delay = self.retry_backoff * 2**attempt
                    time.sleep(min(delay, self.max_retry_after))
                else:
                    time.sleep(min(self.retry_backoff * 2**attempt, self.max_retry_after))
                    existing = self._autotask_find_charge(client, payload)
                    if existing:
                        return existing
                attempt += 1
