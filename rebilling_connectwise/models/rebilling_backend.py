"""The ConnectWise PSA backend: REST connection, pulls and the agreement addition push.

Built on ``rebilling_connector`` (see the docstring of its ``rebilling_backend``
module). ConnectWise specifics:

* the API lives at ``{site}/{codebase}apis/3.0``; the codebase comes from
  ``{site}/login/companyinfo/{companyId}`` (no authentication);
* every call sends Basic ``{companyId}+{publicKey}:{privateKey}`` and ``clientId``;
* lists are paged (``page``/``pageSize``, at most 1000) and the ``Link`` header
  names the next page;
* each invoice line of a service with an agreement becomes one agreement
  addition, pushed exactly once by the shared PSA push of ``rebilling_connector``
  (see ``rebilling_backend_psa_push``): a changed line PATCHes its addition
  (JSON-Patch), or deletes and recreates it when the agreement changed. The
  marker ends the addition's ``description`` in parentheses (no SQL LIKE
  wildcard: the lookup after a lost answer matches it only);
* ConnectWise bills an addition on every agreement cycle from its
  ``effectiveDate`` until its ``cancelledDate``: each addition is effective and
  cancelled within the month of its invoice or credit note, so it is billed
  once; a credit note's lines are additions with a negative unit price.

The spec of ``connectwise`` (:data:`CONNECTWISE_SPEC`, see
``rebilling_backend_psa``) holds its names, endpoints and limits, and names the
methods of its calls: ``_connectwise_addition_values(line)`` (the addition),
``_connectwise_find_addition``, ``_connectwise_create_addition``,
``_connectwise_patch_addition``, ``_connectwise_update_addition`` and
``_connectwise_reconcile_fetch`` (in ``rebilling_backend_reconcile.py``); the generic
override points ``_psa_lines(moves)`` and ``_psa_line_unit_cost(line)`` apply.
"""

import logging

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import date_utils
from odoo.tools.translate import LazyTranslate

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

PAGE_SIZE = 1000
# Fields of an addition sent again (JSON-Patch "replace") when a line changes.
PATCHED_FIELDS = (
    "product",
    "quantity",
    "unitPrice",
    "unitCost",
    "effectiveDate",
    "cancelledDate",
    "billCustomer",
    "description",
    "invoiceDescription",
)


# What tells ConnectWise from another PSA (rebilling_backend_psa.PsaSpec): data,
# and the names of the methods making its calls.
CONNECTWISE_SPEC = {
    "label": "ConnectWise",
    "type_defaults": {
        "connectwise_site_url": "https://api-au.myconnectwise.net",
        "rate_limit_calls": 60,
        "rate_limit_window": 60.0,
        "rate_limit_concurrent": 4,
    },
    "ping_path": "system/info",
    "refused_message": _lt(
        "ConnectWise refused the connection (check the company id, the keys and the client id): %s"
    ),
    "item_label": _lt("Addition"),
    "pulls": (
        "connectwise_companies",
        "connectwise_agreements",
        "connectwise_catalog_setup",
        "connectwise_products",
    ),
    "records_action": "rebilling_connectwise.action_rebilling_connectwise_record",
    "partner_field": "rebilling_connectwise_company_id",
    "suggested_field": "rebilling_connectwise_suggested_id",
    "contract_field": "connectwise_agreement_id",
    "cost_fields": ("connectwise_product_id",),
    "service_types": None,
    "sync_data_keys": {"agreement_id": "agreementId"},
    "auth": "_connectwise_auth",
    "headers": "_connectwise_headers",
    "discover": "_connectwise_discover_codebase",
    "error_text": "_connectwise_error_text",
    "check_line": "_connectwise_check_line",
    "values": "_connectwise_addition_values",
    "find": "_connectwise_find_addition",
    "create": "_connectwise_create_addition",
    "patch": "_connectwise_patch_addition",
    "update": "_connectwise_update_addition",
    "reconcile_fetch": "_connectwise_reconcile_fetch",
    "reconcile_bad_statuses": ("DoNotBill", "NoCharge"),
}


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"

    backend_type = fields.Selection(
        selection_add=[("connectwise", "ConnectWise")], ondelete={"connectwise": "cascade"}
    )
    connectwise_company_id = fields.Char(
        "ConnectWise Company ID", help="The company id you log in to ConnectWise with."
    )
    connectwise_site_url = fields.Char(
        "Site URL",
        help="Your ConnectWise API site, e.g. https://api-au.myconnectwise.net.",
    )
    connectwise_public_key = fields.Char("Public Key", groups="base.group_system", copy=False)
    connectwise_private_key = fields.Char("Private Key", groups="base.group_system", copy=False)
    connectwise_codebase = fields.Char("Codebase", readonly=True, copy=False)
    connectwise_subcategory_id = fields.Many2one(
        "rebilling.external.record",
        "Default Product Subcategory",
        domain="[('backend_id', '=', id), ('kind', '=', 'subcategory')]",
        ondelete="set null",
        help="Subcategory of the catalog products created from a service (pulled from "
        "ConnectWise).",
    )
    connectwise_type_id = fields.Many2one(
        "rebilling.external.record",
        "Default Product Type",
        domain="[('backend_id', '=', id), ('kind', '=', 'product_type')]",
        ondelete="set null",
        help="Type of the catalog products created from a service (pulled from ConnectWise).",
    )

    @api.model
    def _rebilling_endpoint_fields(self):
        return super()._rebilling_endpoint_fields() | {"connectwise_site_url"}

    @api.model
    def _psa_specs(self):
        return {**super()._psa_specs(), "connectwise": CONNECTWISE_SPEC}

    # ------------------------------------------------------------ connection
    def _connectwise_auth(self):
        """Basic ``{companyId}+{publicKey}:{privateKey}`` (read with sudo)."""
        secret = self.sudo()
        return (
            f"{secret.connectwise_company_id or ''}+{secret.connectwise_public_key or ''}",
            secret.connectwise_private_key or "",
        )

    def _connectwise_headers(self):
        return {"clientId": self.sudo().client_id or ""}

    @api.model
    def _connectwise_error_text(self, exc):
        """The message (and field errors) of a ConnectWise answer, else the error's own text."""
        body = getattr(exc, "body", None)
        if isinstance(body, dict) and body.get("message"):
            details = [e.get("message") for e in body.get("errors") or [] if isinstance(e, dict)]
            return " ".join([str(body["message"])] + [str(d) for d in details if d])
        return str(exc)

    def _connectwise_check_settings(self):
        secret = self.sudo()
        self._psa_check_settings(
            [
                (self.env._("Company ID"), secret.connectwise_company_id),
                (self.env._("Site URL"), secret.connectwise_site_url),
                (self.env._("Public Key"), secret.connectwise_public_key),
                (self.env._("Private Key"), secret.connectwise_private_key),
                (self.env._("Client ID"), secret.client_id),
            ]
        )

    def _connectwise_site(self):
        site = (self.connectwise_site_url or "").strip().rstrip("/")
        if site and not site.startswith(("http://", "https://")):
            site = "https://" + site
        return site

    def _connectwise_discover_codebase(self):
        """Find the codebase of the company (``/login/companyinfo``); set the API URL."""
        self.ensure_one()
        self._connectwise_check_settings()
        site = self._connectwise_site()
        info = self._psa_public_get(
            site,
            f"login/companyinfo/{self.connectwise_company_id.strip()}",
            lambda error: self.env._(
                "The ConnectWise company %(company)s was not found on %(site)s: %(error)s",
                company=self.connectwise_company_id,
                site=site,
                error=error,
            ),
        )
        codebase = (info or {}).get("Codebase") if isinstance(info, dict) else None
        if not codebase:
            raise UserError(self.env._("ConnectWise did not give the codebase of the company."))
        codebase = codebase.strip("/") + "/"
        # The API URL follows the site (set by a system administrator).
        self.sudo().write(
            {"connectwise_codebase": codebase, "api_url": f"{site}/{codebase}apis/3.0"}
        )
        return codebase

    def action_connectwise_connect(self):
        """Save and connect: find the codebase, check the keys, report it plainly."""
        return self._psa_connect(
            lambda: self.env._(
                "Connected to ConnectWise (codebase %s).", self.connectwise_codebase
            ),
            lambda: self.env._(
                "The configuration is saved: ConnectWise is now integrated with your billing "
                "system."
            ),
        )

    # ------------------------------------------------------------ lists
    def _connectwise_list(self, path, conditions=None, client=None, fields=None):
        """Every record of the collection ``path`` (all pages, ``Link: rel="next"``);
        only ``fields`` (a comma list) when given."""
        self.ensure_one()
        client = client or self._rebilling_client()
        params = {"pageSize": PAGE_SIZE, "page": 1, "orderBy": "id asc"}
        if conditions:
            params["conditions"] = conditions
        if fields:
            params["fields"] = fields
        response = client.request("GET", path, params=params)
        items = list(response.json() or [])
        pages = 1
        while response.links.get("next", {}).get("url"):
            response = client.request("GET", response.links["next"]["url"])
            items += response.json() or []
            pages += 1
            if pages > 10000:
                raise UserError(self.env._("ConnectWise returned too many pages."))
        return items

    # ------------------------------------------------------------ pulls
    def _rebilling_pull_connectwise_companies(self):
        items = self._connectwise_list("company/companies", "deletedFlag=false")
        return self._psa_pulled_companies(
            items,
            lambda i: {
                "name": i.get("name") or i.get("identifier") or str(i["id"]),
                "reference": i.get("identifier") or False,
                "active": True,
            },
        )

    def _rebilling_pull_connectwise_agreements(self):
        companies = self._psa_companies_by_id()
        items = self._connectwise_list("finance/agreements", 'agreementStatus="Active"')
        count = self._psa_store(
            "agreement",
            items,
            lambda i: {
                "name": i.get("name") or str(i["id"]),
                "parent_id": companies.get((i.get("company") or {}).get("id")) or False,
                "date_start": self._psa_date(i.get("startDate")),
                "date_end": self._psa_date(i.get("endDate")),
                "active": True,
            },
        )
        return self.env._("%s agreements", count)

    def _rebilling_pull_connectwise_catalog_setup(self):
        """The subcategories and product types a catalog product must name."""
        count = 0
        for path, kind in (
            ("procurement/subcategories", "subcategory"),
            ("procurement/types", "product_type"),
        ):
            items = self._connectwise_list(path, "inactiveFlag=false")
            count += self._psa_store(
                kind,
                items,
                lambda i: {"name": i.get("name") or str(i["id"]), "active": True},
            )
        return self.env._("%s subcategories and product types", count)

    def _rebilling_pull_connectwise_products(self):
        items = self._connectwise_list("procurement/catalog", "inactiveFlag=false")
        count = self._psa_store("product", items, self._connectwise_product_values)
        return self.env._("%s catalog products", count)

    @api.model
    def _connectwise_product_values(self, item):
        return {
            "name": item.get("description") or item.get("identifier") or str(item["id"]),
            "reference": item.get("identifier") or False,
            "description": item.get("customerDescription") or False,
            "unit_price": item.get("price") or 0.0,
            "unit_cost": item.get("cost") or 0.0,
            "active": True,
        }

    def action_connectwise_pull(self):
        """Pull companies, agreements and catalog products now."""
        return self.action_psa_pull()

    # ------------------------------------------------------------ catalog product
    def _connectwise_create_product(self, values):
        """Create a catalog item; return the created record (dict)."""
        return self._psa_post("procurement/catalog", values, self.env._("product"))

    # ------------------------------------------------------------ agreement additions (the push)
    def _connectwise_check_line(self, line):
        source = self._psa_line_source(line)
        if not source.connectwise_agreement_id:
            raise UserError(
                self.env._("Choose the ConnectWise agreement of %s.", source.display_name)
            )
        if not source.connectwise_product_id:
            raise UserError(
                self.env._("Choose the ConnectWise product of %s.", source.display_name)
            )

    def _connectwise_billing_period(self, line):
        """Override point: ``(first, last)`` day of the agreement billing cycle that bills
        ``line``: the month of its invoice's (or credit note's) date. Extend for
        agreements billed on other cycles."""
        move = line.move_id
        day = move.invoice_date or move.date
        return date_utils.start_of(day, "month"), date_utils.end_of(day, "month")

    @staticmethod
    def _connectwise_marker(marker):
        """The text ending an addition's description: the marker in parentheses.

        ``conditions`` ``contains`` runs as SQL Server LIKE on the server: the
        text has none of its wildcard characters (``[ ] % _ ^``), and the closing
        parenthesis keeps line 42 from matching line 420.
        """
        return f"({marker})"

    @staticmethod
    def _connectwise_legacy_marker(marker):
        """The marker of the additions pushed before (``[...]``), escaped for LIKE:
        ``[[]`` is a literal ``[``; a ``]`` outside a set is literal."""
        return f"[{marker}]", f"[[]{marker}]"

    def _connectwise_addition_values(self, line):
        """The agreement addition of ``line`` (plus ``agreementId``).

        An addition is billed on every agreement cycle from its effective date
        until its cancelled date: it is effective and cancelled within the cycle
        of its invoice, so it is billed once (ConnectWise's one-time addition).
        """
        service = self._psa_line_source(line)
        first, last = self._connectwise_billing_period(line)
        marker = self._connectwise_marker(self._psa_marker(line))
        text = line.name or service.name or ""
        quantity, price, cost = self._psa_line_amounts(line)
        return {
            "agreementId": service.connectwise_agreement_id.external_id,
            "product": {"id": service.connectwise_product_id.external_id},
            "quantity": quantity,
            "unitPrice": price,
            "unitCost": cost,
            "effectiveDate": f"{first.isoformat()}T00:00:00Z",
            "cancelledDate": f"{last.isoformat()}T00:00:00Z",
            "billCustomer": "Billable",
            "description": f"{text[: 200 - len(marker) - 1]} {marker}",
            "invoiceDescription": text[:6000],
        }

    @staticmethod
    def _connectwise_additions(agreement_id):
        return f"finance/agreements/{agreement_id}/additions"

    @staticmethod
    def _connectwise_patch_body(payload):
        return [{"op": "replace", "path": k, "value": payload[k]} for k in PATCHED_FIELDS]

    def _connectwise_update_addition(self, client, external_id, payload, binding):
        agreement_id = payload["agreementId"]
        old_agreement = (binding.sync_data or {}).get("agreement_id") or agreement_id
        path = f"{self._connectwise_additions(old_agreement)}/{external_id}"
        if old_agreement != agreement_id:
            client.request("DELETE", path, ok_statuses=(404,))
            return False
        patch = self._connectwise_patch_body(payload)
        response = client.request("PATCH", path, json=patch, ok_statuses=(404,))
        return response.status_code != 404

    def _connectwise_patch_addition(self, client, external_id, payload):
        path = f"{self._connectwise_additions(payload['agreementId'])}/{external_id}"
        client.patch(path, json=self._connectwise_patch_body(payload))

    def _connectwise_find_addition(self, client, payload):
        marker = payload["description"].rsplit(" ", 1)[-1]
        legacy, legacy_pattern = self._connectwise_legacy_marker(marker[1:-1])
        found = self._connectwise_list(
            self._connectwise_additions(payload["agreementId"]),
            f'description contains "{marker}" or description contains "{legacy_pattern}"',
            client=client,
        )
        found = [
            a
            for a in found
            if marker in (a.get("description") or "") or legacy in (a.get("description") or "")
        ]
        return int(found[0]["id"]) if found else None

    def _connectwise_create_addition(self, client, payload):
        body = {k: v for k, v in payload.items() if k != "agreementId"}
        path = self._connectwise_additions(payload["agreementId"])
        return int(client.post(path, json=body, retries=0)["id"])
