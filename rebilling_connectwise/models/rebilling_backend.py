"""The ConnectWise PSA backend: REST connection, pulls and the agreement addition push.

Built on the connector core of ``rebilling_base`` (see the docstring of its
``rebilling_backend`` module). ConnectWise specifics:

* the API lives at ``{site}/{codebase}apis/3.0``; the codebase comes from
  ``{site}/login/companyinfo/{companyId}`` (no authentication);
* every call sends Basic ``{companyId}+{publicKey}:{privateKey}`` and ``clientId``;
* lists are paged (``page``/``pageSize``, at most 1000) and the ``Link`` header
  names the next page;
* each invoice line of a service with an agreement becomes one agreement
  addition. The binding of the line holds the addition id: a changed line
  PATCHes it (JSON-Patch), or deletes and recreates it when the agreement changed.

Exactly once: an addition's ``description`` ends with a marker naming the
database and the invoice line. A create is never retried blindly after a
timeout; a later attempt looks the marker up first.

Override points: ``_connectwise_lines(moves)``, ``_connectwise_addition_values(line)``,
``_connectwise_line_unit_cost(line)``.
"""

import logging
import time

from odoo import api, fields, models
from odoo.addons.rebilling_base.connector.http import ConnectorError, HttpClient, RetryableError
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

PAGE_SIZE = 1000
# Fields of an addition sent again (JSON-Patch "replace") when a line changes.
PATCHED_FIELDS = (
    "product",
    "quantity",
    "unitPrice",
    "unitCost",
    "effectiveDate",
    "billCustomer",
    "description",
    "invoiceDescription",
)


def connectwise_error_text(exc):
    """The message (and field errors) of a ConnectWise answer, else the error's own text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and body.get("message"):
        details = [e.get("message") for e in body.get("errors") or [] if isinstance(e, dict)]
        return " ".join([str(body["message"])] + [str(d) for d in details if d])
    return str(exc)


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
    connectwise_subcategory_ref = fields.Integer(
        "Default Product Subcategory ID",
        help="Subcategory id of the catalog products created from a service.",
    )
    connectwise_type_ref = fields.Integer(
        "Default Product Type ID", help="Type id of the catalog products created from a service."
    )
    connectwise_record_ids = fields.One2many(
        "rebilling.connectwise.record", "backend_id", "ConnectWise Records"
    )

    @api.model
    def _connectwise_backend(self, company):
        """The active ConnectWise backend of ``company`` (empty when none)."""
        return self.search(
            [("backend_type", "=", "connectwise"), ("company_id", "=", company.id)], limit=1
        )

    # ------------------------------------------------------------ core overrides
    @api.model
    def _rebilling_type_defaults(self, backend_type):
        if backend_type != "connectwise":
            return super()._rebilling_type_defaults(backend_type)
        return {
            "name": "ConnectWise",
            "connectwise_site_url": "https://api-au.myconnectwise.net",
            "rate_limit_calls": 60,
            "rate_limit_window": 60.0,
            "rate_limit_concurrent": 4,
        }

    def _rebilling_client_kwargs(self):
        kwargs = super()._rebilling_client_kwargs()
        if self.backend_type != "connectwise":
            return kwargs
        secret = self.sudo()
        kwargs["auth"] = (
            f"{secret.connectwise_company_id or ''}+{secret.connectwise_public_key or ''}",
            secret.connectwise_private_key or "",
        )
        kwargs["headers"] = dict(
            kwargs.get("headers") or {},
            clientId=secret.client_id or "",
        )
        kwargs["headers"]["Content-Type"] = "application/json"
        return kwargs

    def _rebilling_check_connection(self):
        if self.backend_type != "connectwise":
            return super()._rebilling_check_connection()
        self.ensure_one()
        self._connectwise_discover_codebase()
        try:
            self._rebilling_client().get("system/info", retries=1)
        except ConnectorError as exc:
            raise UserError(
                self.env._(
                    "ConnectWise refused the connection (check the company id, the keys and "
                    "the client id): %s",
                    connectwise_error_text(exc),
                )
            ) from None
        return True

    # ------------------------------------------------------------ connection
    def _connectwise_check_settings(self):
        secret = self.sudo()
        missing = [
            label
            for label, value in (
                (self.env._("Company ID"), secret.connectwise_company_id),
                (self.env._("Site URL"), secret.connectwise_site_url),
                (self.env._("Public Key"), secret.connectwise_public_key),
                (self.env._("Private Key"), secret.connectwise_private_key),
                (self.env._("Client ID"), secret.client_id),
            )
            if not value
        ]
        if missing:
            raise UserError(self.env._("Enter the ConnectWise %s first.", ", ".join(missing)))

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
        client = HttpClient(
            site,
            headers={"Accept": "application/json"},
            timeout=(self.connect_timeout or 5.0, self.read_timeout or 30.0),
            max_retries=1,
            backoff=self.retry_backoff,
            logger=_logger,
        )
        try:
            info = client.get(f"login/companyinfo/{self.connectwise_company_id.strip()}")
        except ConnectorError as exc:
            raise UserError(
                self.env._(
                    "The ConnectWise company %(company)s was not found on %(site)s: %(error)s",
                    company=self.connectwise_company_id,
                    site=site,
                    error=connectwise_error_text(exc),
                )
            ) from None
        finally:
            client.close()
        codebase = (info or {}).get("Codebase") if isinstance(info, dict) else None
        if not codebase:
            raise UserError(self.env._("ConnectWise did not give the codebase of the company."))
        codebase = codebase.strip("/") + "/"
        self.write({"connectwise_codebase": codebase, "api_url": f"{site}/{codebase}apis/3.0"})
        return codebase

    def action_connectwise_connect(self):
        """Save and connect: find the codebase, check the keys, report it plainly."""
        self.ensure_one()
        try:
            self._rebilling_check_connection()
        except UserError as exc:
            message = exc.args[0]
            self._rebilling_set_error(message)
            return self._rebilling_notify(message, "danger")
        self._rebilling_set_connected(
            self.env._("Connected to ConnectWise (codebase %s).", self.connectwise_codebase)
        )
        return self._rebilling_notify(
            self.env._(
                "The configuration is saved: ConnectWise is now integrated with your billing "
                "system."
            ),
            "success",
        )

    # ------------------------------------------------------------ lists
    def _connectwise_list(self, path, conditions=None, client=None):
        """Every record of the collection ``path`` (all pages, ``Link: rel="next"``)."""
        self.ensure_one()
        client = client or self._rebilling_client()
        params = {"pageSize": PAGE_SIZE, "page": 1, "orderBy": "id asc"}
        if conditions:
            params["conditions"] = conditions
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

    def _connectwise_store(self, kind, items, values):
        """Create or update the records of ``kind``; archive the ones not listed."""
        self.ensure_one()
        Record = self.env["rebilling.connectwise.record"].with_context(active_test=False)
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
                record.write(vals)
            else:
                to_create.append(dict(vals, backend_id=self.id, kind=kind, external_id=external_id))
        Record.create(to_create)
        missing = Record.browse(
            [r.id for ext, r in existing.items() if ext not in seen and r.active]
        )
        missing.write({"active": False})
        return len(items)

    @staticmethod
    def _connectwise_date(value):
        if not value:
            return False
        return fields.Date.to_date(str(value)[:10])

    # ------------------------------------------------------------ pulls
    def _rebilling_pull_connectwise_companies(self):
        items = self._connectwise_list("company/companies", "deletedFlag=false")
        count = self._connectwise_store(
            "company",
            items,
            lambda i: {
                "name": i.get("name") or i.get("identifier") or str(i["id"]),
                "identifier": i.get("identifier") or False,
                "active": True,
            },
        )
        suggested = self._connectwise_suggest_companies()
        return self.env._(
            "%(count)s companies, %(suggested)s mapping suggestion(s)",
            count=count,
            suggested=suggested,
        )

    def _rebilling_pull_connectwise_agreements(self):
        companies = {
            r.external_id: r.id
            for r in self.env["rebilling.connectwise.record"]
            .with_context(active_test=False)
            .search([("backend_id", "=", self.id), ("kind", "=", "company")])
        }
        items = self._connectwise_list("finance/agreements", 'agreementStatus="Active"')
        count = self._connectwise_store(
            "agreement",
            items,
            lambda i: {
                "name": i.get("name") or str(i["id"]),
                "parent_id": companies.get((i.get("company") or {}).get("id")) or False,
                "date_start": self._connectwise_date(i.get("startDate")),
                "date_end": self._connectwise_date(i.get("endDate")),
                "active": True,
            },
        )
        return self.env._("%s agreements", count)

    def _rebilling_pull_connectwise_products(self):
        items = self._connectwise_list("procurement/catalog", "inactiveFlag=false")
        count = self._connectwise_store("product", items, self._connectwise_product_values)
        return self.env._("%s catalog products", count)

    @api.model
    def _connectwise_product_values(self, item):
        return {
            "name": item.get("description") or item.get("identifier") or str(item["id"]),
            "identifier": item.get("identifier") or False,
            "description": item.get("customerDescription") or False,
            "price": item.get("price") or 0.0,
            "cost": item.get("cost") or 0.0,
            "active": True,
        }

    def _connectwise_suggest_companies(self):
        """Suggest a ConnectWise company for each unmapped customer with the same name."""
        self.ensure_one()
        companies = self.env["rebilling.connectwise.record"].search(
            [("backend_id", "=", self.id), ("kind", "=", "company")]
        )
        by_name = {}
        for company in companies:
            by_name.setdefault(" ".join(company.name.casefold().split()), company)
        partners = self.env["res.partner"].search(
            [
                ("rebilling_enabled", "=", True),
                ("rebilling_connectwise_company_id", "=", False),
                ("company_id", "in", [False, self.company_id.id]),
            ]
        )
        count = 0
        for partner in partners:
            key = " ".join((partner.name or "").casefold().split())
            match = by_name.get(key) or next(
                (c for name, c in by_name.items() if key and (key in name or name in key)),
                False,
            )
            if match and partner.rebilling_connectwise_suggested_id != match:
                partner.rebilling_connectwise_suggested_id = match
            count += bool(match)
        return count

    def action_connectwise_pull(self):
        """Pull companies, agreements and catalog products now."""
        self.ensure_one()
        if self.state != "connected":
            raise UserError(self.env._("Connect to ConnectWise first."))
        messages = [
            self._rebilling_pull(what)
            for what in (
                "connectwise_companies",
                "connectwise_agreements",
                "connectwise_products",
            )
        ]
        return self._rebilling_notify(
            self.env._("Pulled from ConnectWise: %s.", "; ".join(m for m in messages if m)),
            "success",
        )

    def action_connectwise_view_records(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_connectwise.action_rebilling_connectwise_record"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    # ------------------------------------------------------------ catalog product
    def _connectwise_create_product(self, values):
        """Create a catalog item; return the created record (dict)."""
        self.ensure_one()
        if self.state != "connected":
            raise UserError(self.env._("Connect to ConnectWise first."))
        try:
            return self._rebilling_client().post("procurement/catalog", json=values)
        except ConnectorError as exc:
            raise UserError(
                self.env._(
                    "ConnectWise refused to create the product: %s", connectwise_error_text(exc)
                )
            ) from None

    # ------------------------------------------------------------ push: lines
    def _connectwise_lines(self, moves):
        """Override point: invoice lines of ``moves`` to push (services with an agreement)."""
        return moves.invoice_line_ids.filtered(
            lambda line: (
                line.display_type == "product"
                and line.rebilling_service_id.connectwise_agreement_id
            )
        )

    def _connectwise_line_unit_cost(self, line):
        """Override point: unit cost of an addition (the product's cost by default)."""
        cost = line.product_id.standard_price
        if not cost:
            cost = line.rebilling_service_id.connectwise_product_id.cost
        return cost or 0.0

    def _connectwise_marker(self, line):
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"[rebilling:{uuid[:13]}:{line.id}]"

    def _connectwise_addition_values(self, line):
        """Override point: the agreement addition of ``line`` (plus ``agreementId``)."""
        service = line.rebilling_service_id
        move = line.move_id
        day = move.invoice_date or move.date
        marker = self._connectwise_marker(line)
        text = line.name or service.name or ""
        return {
            "agreementId": service.connectwise_agreement_id.external_id,
            "product": {"id": service.connectwise_product_id.external_id},
            "quantity": line.quantity,
            "unitPrice": round(line.price_unit * (1 - (line.discount or 0.0) / 100.0), 4),
            "unitCost": round(self._connectwise_line_unit_cost(line), 4),
            "effectiveDate": f"{day.isoformat()}T00:00:00Z",
            "billCustomer": "Billable",
            "description": f"{text[: 200 - len(marker) - 1]} {marker}",
            "invoiceDescription": text[:6000],
        }

    def _rebilling_push_prepare(self, record):
        if self.backend_type != "connectwise" or record._name != "account.move.line":
            return super()._rebilling_push_prepare(record)
        service = record.rebilling_service_id
        if record.move_id.state != "posted":
            raise UserError(self.env._("The invoice %s is not posted.", record.move_id.name))
        if not service.connectwise_agreement_id:
            raise UserError(self.env._("Choose the ConnectWise agreement of %s.", service.name))
        if not service.connectwise_product_id:
            raise UserError(self.env._("Choose the ConnectWise product of %s.", service.name))
        return self._connectwise_addition_values(record)

    def _rebilling_push_send(self, res_model, items):
        if self.backend_type != "connectwise" or res_model != "account.move.line":
            return super()._rebilling_push_send(res_model, items)
        client = self._rebilling_client()
        results = []
        for line, payload, binding in items:
            try:
                results.append(self._connectwise_send_addition(client, line, payload, binding))
            except ConnectorError as exc:
                results.append({"error": connectwise_error_text(exc), "retry": exc.retryable})
        client.close()
        return results

    def _connectwise_send_addition(self, client, line, payload, binding):
        agreement_id = payload["agreementId"]
        body = {k: v for k, v in payload.items() if k != "agreementId"}
        data = {"agreement_id": agreement_id, "move_id": line.move_id.id}
        if binding and binding.external_id:
            addition_id = int(binding.external_id)
            old_agreement = (binding.sync_data or {}).get("agreement_id") or agreement_id
            base = f"finance/agreements/{old_agreement}/additions/{addition_id}"
            if old_agreement == agreement_id:
                patch = [{"op": "replace", "path": k, "value": body[k]} for k in PATCHED_FIELDS]
                response = client.request("PATCH", base, json=patch, ok_statuses=(404,))
                if response.status_code != 404:
                    return {
                        "external_id": str(addition_id),
                        "data": data,
                        "message": self.env._("Addition %s updated.", addition_id),
                    }
            else:
                client.request("DELETE", base, ok_statuses=(404,))
            new_id = self._connectwise_create_addition(client, agreement_id, body, lookup=False)
            return {
                "external_id": str(new_id),
                "data": data,
                "message": self.env._(
                    "Addition %(old)s replaced by %(new)s.", old=addition_id, new=new_id
                ),
            }
        new_id = self._connectwise_create_addition(client, agreement_id, body, lookup=bool(binding))
        return {"external_id": str(new_id), "data": data}

    def _connectwise_find_addition(self, client, agreement_id, body):
        marker = body["description"].rsplit(" ", 1)[-1].replace('"', "")
        found = self._connectwise_list(
            f"finance/agreements/{agreement_id}/additions",
            f'description contains "{marker}"',
            client=client,
        )
        return int(found[0]["id"]) if found else None

    def _connectwise_create_addition(self, client, agreement_id, body, lookup):
        """Create the addition exactly once; return its id (see the module docstring)."""
        path = f"finance/agreements/{agreement_id}/additions"
        if lookup:
            existing = self._connectwise_find_addition(client, agreement_id, body)
            if existing:
                patch = [{"op": "replace", "path": k, "value": body[k]} for k in PATCHED_FIELDS]
                client.patch(f"{path}/{existing}", json=patch)
                return existing
        attempt = 0
        while True:
            try:
                return int(client.post(path, json=body, retries=0)["id"])
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
                    existing = self._connectwise_find_addition(client, agreement_id, body)
                    if existing:
                        return existing
                attempt += 1
