"""The Autotask backend: REST connection, pulls, and the contract charge push.

Built on ``rebilling_connector`` (see the docstring of its ``rebilling_backend``
module). Autotask specifics:

* the API base URL comes from the zone lookup (``zoneInformation?user=``), which
  needs no authentication; every other call sends ``ApiIntegrationCode``,
  ``UserName`` and ``Secret``;
* queries are POSTs with a filter; more than 500 results come in pages whose
  ``nextPageUrl`` receives the original body again (POST);
* each invoice line of a VoIP utility service becomes one contract charge,
  pushed exactly once by the shared PSA push of ``rebilling_connector`` (see
  ``rebilling_backend_psa_push``): a changed line PATCHes its charge, or deletes
  and recreates it when it moved to another contract, as long as Autotask has
  not billed it (``isBilled``). The marker is the charge's ``notes``.

The spec of ``autotask`` (:data:`AUTOTASK_SPEC`, see ``rebilling_backend_psa``)
holds its names, endpoints and limits, and names the methods of its calls:
``_autotask_charge_values(line)`` (the charge), ``_autotask_find_charge``,
``_autotask_create_charge``, ``_autotask_patch_charge`` and
``_autotask_update_charge``, and ``_autotask_reconcile_fetch`` (in
``rebilling_backend_reconcile.py``); the generic override points ``_psa_lines(moves)`` and
``_psa_line_unit_cost(line)`` apply.
"""

import logging
from urllib.parse import urlsplit

from odoo import api, fields, models
from odoo.addons.rebilling_connector.connector.http import ConnectorError
from odoo.exceptions import UserError
from odoo.tools.translate import LazyTranslate

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

ZONE_URL = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"
# Service types billed through Autotask: wholesale service provider, VoIP bundle, SIP trunk.
VOIP_SERVICE_TYPES = ("wholesale", "voip_bundle", "sip_trunk")
MAX_RECORDS = 500
THREAD_LIMIT = 3  # concurrent requests per integration code and entity
HOURLY_LIMIT = 10000
# The status of a contract charge read back that Autotask will not bill (reconciliation).
NOT_BILLABLE = "not billable"

# What tells Autotask from another PSA (rebilling_backend_psa.PsaSpec): data, and
# the names of the methods making its calls.
AUTOTASK_SPEC = {
    "label": "Autotask",
    "type_defaults": {
        "autotask_zone_url": ZONE_URL,
        "rate_limit_calls": HOURLY_LIMIT,
        "rate_limit_window": 3600.0,
        "rate_limit_concurrent": THREAD_LIMIT,
    },
    "ping_path": "ThresholdInformation",
    "item_label": _lt("Charge"),
    "pulls": (
        "autotask_companies",
        "autotask_contracts",
        "autotask_products",
        "autotask_billing_codes",
    ),
    "records_action": "rebilling_autotask.action_rebilling_autotask_record",
    "partner_field": "rebilling_autotask_company_id",
    "suggested_field": "rebilling_autotask_suggested_id",
    "contract_field": "autotask_contract_id",
    "cost_fields": ("autotask_product_id", "autotask_billing_code_id"),
    "service_types": VOIP_SERVICE_TYPES,
    "sync_data_keys": {"contract_id": "contractID"},
    "headers": "_autotask_headers",
    "discover": "_autotask_discover_zone",
    "error_text": "_autotask_error_text",
    "classify_error": "_autotask_classify_error",
    "tested_message": "_autotask_tested_message",
    "check_line": "_autotask_check_line",
    "values": "_autotask_charge_values",
    "find": "_autotask_find_charge",
    "create": "_autotask_create_charge",
    "patch": "_autotask_patch_charge",
    "update": "_autotask_update_charge",
    "reconcile_fetch": "_autotask_reconcile_fetch",
    "reconcile_bad_statuses": (NOT_BILLABLE,),
}


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

    @api.model
    def _rebilling_endpoint_fields(self):
        return super()._rebilling_endpoint_fields() | {"autotask_zone_url"}

    @api.model
    def _psa_specs(self):
        return {**super()._psa_specs(), "autotask": AUTOTASK_SPEC}

    # ------------------------------------------------------------ connection
    def _autotask_headers(self):
        """The credentials sent with every call (read with sudo)."""
        secret = self.sudo()
        return {
            "ApiIntegrationCode": secret.autotask_integration_code or "",
            "UserName": secret.username or "",
            "Secret": secret.autotask_secret or "",
        }

    def _autotask_check_settings(self):
        secret = self.sudo()
        self._psa_check_settings(
            [
                (self.env._("API username"), secret.username),
                (self.env._("Secret"), secret.autotask_secret),
                (self.env._("Tracking Identifier"), secret.autotask_integration_code),
            ]
        )

    def _autotask_discover_zone(self):
        """Find the API URL of the user's zone; store it with the zone name."""
        self.ensure_one()
        self._autotask_check_settings()
        zone = self._psa_public_get(
            "",
            self.autotask_zone_url or ZONE_URL,
            lambda error: self.env._("The Autotask zone lookup failed: %s", error),
            params={"user": self.sudo().username},
        )
        if not isinstance(zone, dict) or not zone.get("url"):
            raise UserError(self.env._("Zone information could not be determined."))
        if not self._autotask_trusted_zone(zone["url"]):
            raise UserError(
                self.env._(
                    "The Autotask zone lookup answered an address that is not an Autotask "
                    "zone (https://…autotask.net): %s. The credentials are not sent there.",
                    urlsplit(zone["url"]).netloc or zone["url"],
                )
            )
        # The API URL follows the zone lookup's answer (set by a system administrator).
        self.sudo().write(
            {
                "api_url": zone["url"].rstrip("/") + "/V1.0",
                "autotask_zone_name": zone.get("zoneName") or False,
                "autotask_web_url": zone.get("webUrl") or False,
            }
        )
        return zone

    def _autotask_trusted_zone(self, url):
        """Whether the zone ``url`` may receive the credentials: an https Autotask host,
        or the host of the configured zone lookup itself (a test or proxy setup)."""
        parts = urlsplit(url)
        lookup = urlsplit(self.autotask_zone_url or ZONE_URL)
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" and (host == "autotask.net" or host.endswith(".autotask.net")):
            return True
        return (parts.scheme, host, parts.port) == (
            lookup.scheme,
            (lookup.hostname or "").lower(),
            lookup.port,
        )

    def _autotask_same_zone(self, url):
        """Whether ``url`` (a page link) is on the discovered zone's host."""
        parts, zone = urlsplit(url), urlsplit(self.api_url or "")
        return (parts.scheme, parts.hostname, parts.port) == (
            zone.scheme,
            zone.hostname,
            zone.port,
        ) and parts.path.lower().startswith(zone.path.lower())

    def action_autotask_connect(self):
        """Save and connect: discover the zone, check the credentials, report it plainly."""
        return self._psa_connect(
            lambda: self.env._("Connected to Autotask (zone %s).", self.autotask_zone_name or "?"),
            lambda: self.env._(
                "The configuration is saved: Autotask (zone %s) is now integrated with your "
                "billing system.",
                self.autotask_zone_name or "?",
            ),
        )

    def _autotask_tested_message(self):
        return self.env._("The connection works: zone %s.", self.autotask_zone_name or "?")

    # ------------------------------------------------------------ queries
    def _autotask_query(self, entity, filters=None, client=None, include_fields=None):
        """Every record of ``entity`` matching ``filters`` (all pages); only the
        ``include_fields`` (and ``id``) when given."""
        self.ensure_one()
        client = client or self._rebilling_client()
        body = {
            "MaxRecords": MAX_RECORDS,
            "Filter": filters or [{"op": "exist", "field": "id"}],
        }
        if include_fields:
            body["IncludeFields"] = ["id", *include_fields]
        data = client.post(f"{entity}/query", json=body) or {}
        items = list(data.get("items") or [])
        pages = 1
        while (data.get("pageDetails") or {}).get("nextPageUrl"):
            # Autotask wants the original query POSTed again to the next page URL.
            next_url = data["pageDetails"]["nextPageUrl"]
            if not self._autotask_same_zone(next_url):
                raise UserError(
                    self.env._(
                        "Autotask sent a next page on another host (%s): not followed, the "
                        "credentials go to the zone's host only.",
                        urlsplit(next_url).netloc,
                    )
                )
            data = client.post(next_url, json=body) or {}
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

    # ------------------------------------------------------------ pulls
    def _rebilling_pull_autotask_companies(self):
        items = self._autotask_query(
            "Companies", [{"op": "eq", "field": "isActive", "value": True}]
        )
        return self._psa_pulled_companies(
            items,
            lambda i: {
                "name": i.get("companyName") or str(i["id"]),
                "reference": i.get("companyNumber") or False,
                "active": True,
            },
        )

    def _rebilling_pull_autotask_contracts(self):
        companies = self._psa_companies_by_id()
        items = self._autotask_query("Contracts", [{"op": "eq", "field": "status", "value": 1}])
        count = self._psa_store(
            "contract",
            items,
            lambda i: {
                "name": i.get("contractName") or str(i["id"]),
                "reference": i.get("contractNumber") or False,
                "description": i.get("description") or False,
                "parent_id": companies.get(i.get("companyID")) or False,
                "date_start": self._psa_date(i.get("startDate")),
                "date_end": self._psa_date(i.get("endDate")),
                "active": True,
            },
        )
        return self.env._("%s contracts", count)

    def _rebilling_pull_autotask_products(self):
        items = self._autotask_query("Products", [{"op": "eq", "field": "isActive", "value": True}])
        count = self._psa_store("product", items, self._autotask_product_values)
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
        count = self._psa_store(
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

    def action_autotask_pull(self):
        """Pull companies, contracts, products and material codes now."""
        return self.action_psa_pull()

    # ------------------------------------------------------------ errors
    def _autotask_classify_error(self, response, body):
        """Autotask answers a refused write or query with HTTP 500 and an ``errors`` list.

        Such a business-rule error is permanent (the same payload is refused
        again); the thread and hourly thresholds stay transient. A 500 without
        ``errors`` (an outage, an HTML page) keeps the default rule (``None``).
        """
        if response.status_code == 500 and isinstance(body, dict) and body.get("errors"):
            text = " ".join(str(e) for e in body["errors"]).lower()
            return ("threshold" in text, None)
        return None

    @api.model
    def _autotask_error_text(self, exc):
        """The ``errors`` of an Autotask answer, else the error's own message."""
        body = getattr(exc, "body", None)
        if isinstance(body, dict) and body.get("errors"):
            return " ".join(str(e) for e in body["errors"])
        return str(exc)

    # ------------------------------------------------------------ creations (service form)
    def _autotask_create(self, entity, values, filters=None):
        """Create one ``entity`` record in Autotask exactly once; return its id.

        ``filters`` find the record an earlier attempt created (the answer of a
        create can be lost): it is looked up first and used when found.
        """
        if filters:
            self._psa_check_connected()
            try:
                found = self._autotask_query(entity, filters)
            except ConnectorError as exc:
                raise UserError(
                    self.env._("Autotask could not be searched: %s", self._psa_error_text(exc))
                ) from None
            if found:
                return int(found[0]["id"])
        data = self._psa_post(entity, values, entity)
        if not data.get("itemId"):
            raise UserError(self.env._("Autotask answered without an id."))
        return int(data["itemId"])

    def _autotask_charge_type(self):
        """The ``chargeType`` value of an operational charge (read once per transaction)."""
        key = ("rebilling_autotask_charge_type", self.id)
        if key not in self.env.cr.cache:
            self.env.cr.cache[key] = self._autotask_picklist_value(
                "ContractCharges", "chargeType", "Operational", 1
            )
        return self.env.cr.cache[key]

    # ------------------------------------------------------------ contract charges (the push)
    def _autotask_check_line(self, line):
        source = self._psa_line_source(line)
        if not source.autotask_contract_id:
            raise UserError(self.env._("Choose the Autotask contract of %s.", source.display_name))
        if not (source.autotask_product_id or source.autotask_billing_code_id):
            raise UserError(
                self.env._(
                    "Choose the Autotask product or material code of %s.", source.display_name
                )
            )

    def _autotask_charge_values(self, line):
        """The contract charge of ``line`` (an Autotask JSON object)."""
        service = self._psa_line_source(line)
        move = line.move_id
        day = move.invoice_date or move.date
        # A credit note's line is a credit: a negative unit price (see _psa_line_amounts).
        quantity, price, cost = self._psa_line_amounts(line)
        values = {
            "contractID": service.autotask_contract_id.external_id,
            "name": (line.product_id.name or service.name or line.name or "")[:100],
            "description": (line.name or "")[:2000],
            "datePurchased": f"{day.isoformat()}T00:00:00Z",
            "unitQuantity": quantity,
            "unitCost": cost,
            "unitPrice": price,
            "isBillableToCompany": True,
            "chargeType": self._autotask_charge_type(),
            "purchaseOrderNumber": (move.name or "")[:50],
            "notes": self._psa_marker(line),
        }
        if service.autotask_product_id:
            values["productID"] = service.autotask_product_id.external_id
        else:
            values["billingCodeID"] = service.autotask_billing_code_id.external_id
        return values

    def _autotask_update_charge(self, client, external_id, payload, binding):
        answer = client.get(f"ContractCharges/{external_id}", ok_statuses=(404,)) or {}
        current = answer.get("item")
        if current and current.get("isBilled"):
            raise UserError(
                self.env._(
                    "The Autotask charge %s is already billed: it cannot be changed. "
                    "Correct it in Autotask.",
                    external_id,
                )
            )
        if current and current.get("contractID") == payload["contractID"]:
            self._psa_patch(client, external_id, payload)
            return True
        if current:
            # Moved to another contract: a charge cannot change contract, replace it.
            client.delete(f"Contracts/{current['contractID']}/Charges/{external_id}")
        return False

    def _autotask_patch_charge(self, client, external_id, payload):
        client.patch(
            f"Contracts/{payload['contractID']}/Charges", json={"id": external_id, **payload}
        )

    def _autotask_find_charge(self, client, payload):
        found = self._autotask_query(
            "ContractCharges",
            [
                {"op": "eq", "field": "contractID", "value": payload["contractID"]},
                {"op": "eq", "field": "notes", "value": payload["notes"]},
            ],
            client=client,
        )
        return int(found[0]["id"]) if found else None

    def _autotask_create_charge(self, client, payload):
        path = f"Contracts/{payload['contractID']}/Charges"
        return int((client.post(path, json=payload, retries=0) or {})["itemId"])
