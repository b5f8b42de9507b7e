"""What the PSA connectors (Autotask, ConnectWise) share: pulls, mapping and the line push.

A PSA module registers its ``backend_type`` in :meth:`_psa_specs` with a small
description of its names, and implements the system-specific methods named
``_<backend_type>_psa_<what>`` (found by :meth:`_psa_impl`). Everything else
lives once, here:

* pulled records are ``rebilling.external.record`` (:meth:`_psa_store`), the
  customers get a company suggested by name (:meth:`_psa_suggest_companies`);
* each invoice line of a service with a contract becomes one item of that
  contract in the PSA (an Autotask contract charge, a ConnectWise agreement
  addition). The binding of the line holds the item id: a changed line is
  updated in place, or deleted and created again when it changed contract;
* exactly once: an item carries a marker naming the database and the invoice
  line (:meth:`_psa_marker`). A create is never retried blindly after a
  timeout (the server may have created it): a later attempt looks the marker
  up first, and a 5xx is retried only when the lookup finds nothing;
* invoices go when they are ready (``account.move._rebilling_external_ready``):
  on billing runs and when a trigger field is written.

Spec keys (:meth:`_psa_specs`, one dict per ``backend_type``):
``label`` (display name), ``defaults`` (``_rebilling_type_defaults``),
``ping`` (path of the cheap authenticated call checking the connection),
``refused`` (message of a refused connection, ``%s`` is the error),
``item`` (name of a pushed item, e.g. "Charge"),
``pulls`` (``_rebilling_pull_<what>`` names of the pull button),
``records_action`` (xml id of the records action), ``partner_field`` and
``suggested_field`` (``res.partner`` fields holding the company),
``contract_field`` (``rebilling.service`` field of the contract),
``cost_fields`` (``rebilling.service`` fields whose record's ``unit_cost`` is
the fallback unit cost), ``service_types`` (service types pushed; ``None``: all).

System-specific methods (``<t>`` is the ``backend_type``):

``_<t>_psa_discover()``
    Find the API URL (zone, codebase...) before the connection check.
``_<t>_psa_headers()``
    Headers of every call (credentials read with ``sudo()``); optionally
    ``_<t>_psa_auth()``: the ``auth`` of the client.
``_<t>_psa_check_line(line)``
    Raise :class:`UserError` when ``line`` cannot be pushed (e.g. no product).
``_<t>_psa_values(line)``
    The payload of ``line``; it holds the marker.
``_<t>_psa_result_data(line, payload)``
    What the binding keeps (``sync_data``) after a push.
``_<t>_psa_find(client, payload)``
    The id of the item carrying the marker of ``payload``, else ``None``.
``_<t>_psa_create(client, payload)``
    One create call without retries (``retries=0``); return the new id.
``_<t>_psa_patch(client, external_id, payload)``
    Write ``payload`` on an existing item.
``_<t>_psa_update(client, external_id, payload, binding)``
    Update the item of a pushed line in place and return ``True``, or delete
    it (when it changed contract) and return ``False``: it is created again.
``_<t>_psa_error_text(exc)``
    The readable text of a :class:`ConnectorError`.

Generic override points: :meth:`_psa_lines`, :meth:`_psa_line_unit_cost`,
:meth:`_psa_line_price`.
"""

import logging
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..connector.http import ConnectorError, HttpClient, RetryableError
from .rebilling_backend import payload_hash

_logger = logging.getLogger(__name__)


def normalized_name(name):
    """``name`` folded for comparison: case and spaces do not count."""
    return " ".join((name or "").casefold().split())


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"

    external_record_ids = fields.One2many(
        "rebilling.external.record", "backend_id", "External Records"
    )

    # ------------------------------------------------------------ registry
    @api.model
    def _psa_specs(self):
        """``{backend_type: spec}`` of the PSA systems (extended by each module)."""
        return {}

    def _psa_spec(self):
        """The spec of this backend's system, ``None`` when it is no PSA."""
        return self._psa_specs().get(self.backend_type) if len(self) == 1 else None

    def _psa_impl(self, what):
        """The system-specific method ``_<backend_type>_psa_<what>`` of this backend."""
        return getattr(self, f"_{self.backend_type}_psa_{what}")

    @api.model
    def _psa_backend(self, company, backend_type):
        """The active backend of ``backend_type`` of ``company`` (empty when none)."""
        return self.search(
            [("backend_type", "=", backend_type), ("company_id", "=", company.id)], limit=1
        )

    # ------------------------------------------------------------ connection
    @api.model
    def _rebilling_type_defaults(self, backend_type):
        spec = self._psa_specs().get(backend_type)
        if not spec:
            return super()._rebilling_type_defaults(backend_type)
        return dict(spec["defaults"], name=spec["label"])

    def _rebilling_client_kwargs(self):
        kwargs = super()._rebilling_client_kwargs()
        if not self._psa_spec():
            return kwargs
        auth = getattr(self, f"_{self.backend_type}_psa_auth", None)
        if auth:
            kwargs["auth"] = auth()
        kwargs["headers"] = dict(kwargs.get("headers") or {}, **self._psa_impl("headers")())
        kwargs["headers"]["Content-Type"] = "application/json"
        return kwargs

    def _rebilling_check_connection(self):
        spec = self._psa_spec()
        if not spec:
            return super()._rebilling_check_connection()
        self._psa_impl("discover")()
        try:
            self._rebilling_client().get(spec["ping"], retries=1)
        except ConnectorError as exc:
            raise UserError(spec["refused"] % self._psa_impl("error_text")(exc)) from None
        return True

    def _psa_check_settings(self, values):
        """Raise when a ``(label, value)`` of ``values`` has no value."""
        missing = [label for label, value in values if not value]
        if missing:
            raise UserError(
                self.env._(
                    "Enter the %(system)s %(missing)s first.",
                    system=self._psa_spec()["label"],
                    missing=", ".join(missing),
                )
            )

    def _psa_public_get(self, base_url, path, error, params=None):
        """GET without authentication (zone or codebase lookup); ``error(text)`` on failure."""
        client = HttpClient(
            base_url,
            headers={"Accept": "application/json"},
            timeout=(self.connect_timeout or 5.0, self.read_timeout or 30.0),
            max_retries=1,
            backoff=self.retry_backoff,
            logger=_logger,
        )
        try:
            return client.get(path, params=params)
        except ConnectorError as exc:
            raise UserError(error(self._psa_impl("error_text")(exc))) from None
        finally:
            client.close()

    def _psa_connect(self, connected_message, success_message):
        """Check the connection; report it plainly (the button "Save and connect")."""
        self.ensure_one()
        try:
            self._rebilling_check_connection()
        except UserError as exc:
            message = exc.args[0]
            self._rebilling_set_error(message)
            return self._rebilling_notify(message, "danger")
        self._rebilling_set_connected(connected_message())
        return self._rebilling_notify(success_message(), "success")

    def _psa_post(self, path, values, entity):
        """Create one ``entity`` record in the PSA (service form); return the answer."""
        self.ensure_one()
        self._psa_check_connected()
        try:
            return self._rebilling_client().post(path, json=values) or {}
        except ConnectorError as exc:
            raise UserError(
                self.env._(
                    "%(system)s refused to create the %(entity)s: %(error)s",
                    system=self._psa_spec()["label"],
                    entity=entity,
                    error=self._psa_impl("error_text")(exc),
                )
            ) from None

    def _psa_check_connected(self):
        if self.state != "connected":
            raise UserError(self.env._("Connect to %s first.", self._psa_spec()["label"]))

    # ------------------------------------------------------------ pulls
    @staticmethod
    def _psa_date(value):
        if not value:
            return False
        return fields.Date.to_date(str(value)[:10])

    def _psa_records(self, kind, active_test=True):
        return (
            self.env["rebilling.external.record"]
            .with_context(active_test=active_test)
            .search([("backend_id", "=", self.id), ("kind", "=", kind)])
        )

    def _psa_store(self, kind, items, values):
        """Create or update the records of ``kind`` from ``items``; archive the missing ones."""
        self.ensure_one()
        Record = self.env["rebilling.external.record"].with_context(active_test=False)
        existing = {r.external_id: r for r in self._psa_records(kind, active_test=False)}
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
        missing = [r.id for ext, r in existing.items() if ext not in seen and r.active]
        Record.browse(missing).write({"active": False})
        return len(items)

    def _psa_companies_by_id(self):
        """``{external id: record id}`` of the pulled companies (archived included)."""
        return {r.external_id: r.id for r in self._psa_records("company", active_test=False)}

    def _psa_suggest_companies(self):
        """Suggest a pulled company for each unmapped customer with the same name."""
        self.ensure_one()
        spec = self._psa_spec()
        by_name = {}
        for company in self._psa_records("company"):
            by_name.setdefault(normalized_name(company.name), company)
        partners = self.env["res.partner"].search(
            [
                ("rebilling_enabled", "=", True),
                (spec["partner_field"], "=", False),
                ("company_id", "in", [False, self.company_id.id]),
            ]
        )
        count = 0
        for partner in partners:
            key = normalized_name(partner.name)
            match = by_name.get(key) or next(
                (c for name, c in by_name.items() if key and (key in name or name in key)),
                False,
            )
            if match and partner[spec["suggested_field"]] != match:
                partner[spec["suggested_field"]] = match
            count += bool(match)
        return count

    def _psa_pulled_companies(self, items, values):
        """Store the companies and suggest them; the text of the sync log."""
        count = self._psa_store("company", items, values)
        suggested = self._psa_suggest_companies()
        return self.env._(
            "%(count)s companies, %(suggested)s mapping suggestion(s)",
            count=count,
            suggested=suggested,
        )

    def action_psa_pull(self):
        """Pull everything the PSA gives (companies, contracts, products...) now."""
        self.ensure_one()
        self._psa_check_connected()
        spec = self._psa_spec()
        messages = [self._rebilling_pull(what) for what in spec["pulls"]]
        return self._rebilling_notify(
            self.env._(
                "Pulled from %(system)s: %(done)s.",
                system=spec["label"],
                done="; ".join(m for m in messages if m),
            ),
            "success",
        )

    def action_psa_view_records(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(self._psa_spec()["records_action"])
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    @api.model
    def _psa_confirm_companies(self, partners, backend_type):
        """Map each of ``partners`` to its suggested company of the PSA ``backend_type``."""
        spec = self._psa_specs()[backend_type]
        todo = partners.filtered(spec["suggested_field"])
        if not todo:
            raise UserError(self.env._("There is no suggestion to confirm."))
        for partner in todo:
            partner.write(
                {
                    spec["partner_field"]: partner[spec["suggested_field"]].id,
                    spec["suggested_field"]: False,
                }
            )
        return True

    @api.model
    def _psa_reject_suggestions(self, partners, backend_type):
        partners.write({self._psa_specs()[backend_type]["suggested_field"]: False})
        return True

    # ------------------------------------------------------------ push: lines
    def _psa_line_source(self, line):
        """Override point: the record holding the PSA fields of ``line`` (contract or
        agreement, product...): its recurring or once-off charge, else its service."""
        return line.rebilling_charge_id or line.rebilling_service_id

    def _psa_line_typed(self, line):
        """Whether ``line`` is of a service type this PSA bills (a charge with its own
        PSA fields always is)."""
        types = self._psa_spec().get("service_types")
        return (
            types is None
            or bool(line.rebilling_charge_id)
            or (line.rebilling_service_id.service_type in types)
        )

    def _psa_lines(self, moves):
        """Override point: the invoice lines of ``moves`` to push (those with a contract)."""
        spec = self._psa_spec()
        return moves.invoice_line_ids.filtered(
            lambda line: (
                line.display_type == "product"
                and self._psa_line_typed(line)
                and self._psa_line_source(line)[spec["contract_field"]]
            )
        )

    def _psa_check_mapping(self, line):
        """A line goes only to a contract of its own customer's PSA company."""
        spec = self._psa_spec()
        partner = line.move_id.partner_id.commercial_partner_id
        mapped = partner[spec["partner_field"]] or line.move_id.partner_id[spec["partner_field"]]
        contract = self._psa_line_source(line)[spec["contract_field"]]
        if not mapped:
            raise UserError(
                self.env._(
                    "Map %(customer)s to a %(system)s company first: its items go to the "
                    "contracts of that company only.",
                    customer=partner.display_name,
                    system=spec["label"],
                )
            )
        if contract.parent_id != mapped:
            raise UserError(
                self.env._(
                    "%(contract)s belongs to %(owner)s, not to %(company)s, the %(system)s "
                    "company of %(customer)s: not pushed.",
                    contract=contract.display_name,
                    owner=contract.parent_id.display_name or self.env._("an unknown company"),
                    company=mapped.display_name,
                    system=spec["label"],
                    customer=partner.display_name,
                )
            )

    def _psa_line_unit_cost(self, line):
        """Override point: the unit cost of an item (the product's cost by default)."""
        cost = line.product_id.standard_price
        if not cost:
            source = self._psa_line_source(line)
            records = [source[name] for name in self._psa_spec()["cost_fields"]]
            cost = next((r for r in records if r), records[-1]).unit_cost
        return cost or 0.0

    def _psa_line_price(self, line):
        """Override point: the unit price of an item (after the line's discount)."""
        return round(line.price_unit * (1 - (line.discount or 0.0) / 100.0), 4)

    def _psa_marker(self, line):
        """The exactly-once marker of ``line``: the database and the line id."""
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"rebilling:{uuid[:13]}:{line.id}"

    def _rebilling_push_prepare(self, record):
        spec = self._psa_spec()
        if not spec or record._name != "account.move.line":
            return super()._rebilling_push_prepare(record)
        if record.move_id.state != "posted":
            raise UserError(self.env._("The invoice %s is not posted.", record.move_id.name))
        service = record.rebilling_service_id
        if not self._psa_line_typed(record):
            raise UserError(
                self.env._(
                    "%(service)s is not a VoIP utility service: not billed in %(system)s.",
                    service=service.name,
                    system=spec["label"],
                )
            )
        self._psa_impl("check_line")(record)
        self._psa_check_mapping(record)
        return self._psa_impl("values")(record)

    def _rebilling_push_send(self, res_model, items):
        if not self._psa_spec() or res_model != "account.move.line":
            return super()._rebilling_push_send(res_model, items)
        client = self._rebilling_client()
        results = []
        postponed = None
        try:
            for line, payload, binding in items:
                if postponed:
                    # The API asked to wait long (hourly or daily limit): no call before then.
                    results.append(dict(postponed))
                    continue
                result = self._psa_send(client, line, payload, binding)
                if result.get("retry") and (result.get("retry_after") or 0) > self.max_retry_after:
                    postponed = {k: result[k] for k in ("error", "retry", "retry_after")}
                results.append(result)
        finally:
            client.close()
        return results

    def _psa_send(self, client, line, payload, binding):
        """Push one line exactly once; its binding is committed before and after the call.

        The intent (``sending`` with the marker) is committed before any
        create; the answer right after it came (``bound`` in the result: the
        caller writes no binding). A binding without external id comes from an
        attempt whose answer is unknown: the marker is looked up first.
        """
        Binding = self.env["rebilling.binding"]
        marker = self._psa_marker(line)
        try:
            result = self._psa_send_item(client, line, payload, binding, marker)
        except (ConnectorError, UserError) as exc:
            retry_after = None
            if isinstance(exc, ConnectorError):
                message, retry = self._psa_impl("error_text")(exc), exc.retryable
                retry_after = exc.retry_after
            else:
                message, retry = exc.args[0], False
            binding_id = Binding._rebilling_write_durable(
                self, line, {"sync_state": "error", "sync_error": message, "sync_marker": marker}
            )
            return {
                "error": message,
                "retry": retry,
                "retry_after": retry_after,
                "bound": binding_id,
            }
        result["bound"] = Binding._rebilling_write_durable(
            self,
            line,
            {
                "external_id": result["external_id"],
                "sync_state": "done",
                "sync_error": False,
                "sync_marker": marker,
                "sync_hash": payload_hash(payload),
                "sync_data": result["data"],
            },
        )
        return result

    def _psa_send_item(self, client, line, payload, binding, marker):
        """Update the line's item, replace it, or create it; the result dict."""
        item = self._psa_spec()["item"]
        data = self._psa_impl("result_data")(line, payload)
        Binding = self.env["rebilling.binding"]
        intent = {"external_id": False, "sync_state": "sending", "sync_marker": marker}
        if binding and binding.external_id:
            old_id = int(binding.external_id)
            if self._psa_impl("update")(client, old_id, payload, binding):
                return {
                    "external_id": str(old_id),
                    "data": data,
                    "message": self.env._("%(item)s %(id)s updated.", item=item, id=old_id),
                }
            Binding._rebilling_write_durable(self, line, intent)
            new_id = self._psa_create_once(client, payload, lookup=True)
            return {
                "external_id": str(new_id),
                "data": data,
                "message": self.env._(
                    "%(item)s %(old)s replaced by %(new)s.", item=item, old=old_id, new=new_id
                ),
            }
        # A binding without id: an earlier attempt died or failed, maybe after the PSA created it.
        lookup = bool(binding)
        Binding._rebilling_write_durable(self, line, intent)
        new_id = self._psa_create_once(client, payload, lookup=lookup)
        return {"external_id": str(new_id), "data": data}

    def _psa_create_once(self, client, payload, lookup):
        """Create the item exactly once; return its id.

        The create is never repeated after a timeout (the outcome is unknown:
        the error goes up and the next attempt looks the marker up first).
        After a 429 it is repeated after the wait asked; after a 5xx, once the
        marker lookup shows that nothing was created.
        """
        find = self._psa_impl("find")
        if lookup:
            existing = find(client, payload)
            if existing:
                self._psa_impl("patch")(client, existing, payload)
                return existing
        create = self._psa_impl("create")
        attempt = 0
        while True:
            try:
                return create(client, payload)
            except RetryableError as exc:
                waits_long = (exc.retry_after or 0) > self.max_retry_after
                if exc.status is None or attempt >= self.max_retries or waits_long:
                    raise
                if exc.status == 429:
                    delay = exc.retry_after
                    if delay is None:
                        delay = self.retry_backoff * 2**attempt
                    time.sleep(min(delay, self.max_retry_after))
                else:
                    time.sleep(min(self.retry_backoff * 2**attempt, self.max_retry_after))
                    existing = find(client, payload)
                    if existing:
                        return existing
                attempt += 1


# The PSA push of invoices stays next to the PSA backend logic it drives.
class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

    def write(self, vals):
        res = super().write(vals)
        if self._rebilling_external_trigger_fields() & set(vals):
            self._rebilling_psa_push()
        return res

    def _rebilling_psa_push(self):
        """Queue the PSA lines of the ready invoices (connected backends with auto push)."""
        Backend = self.env["rebilling.backend"].sudo()
        queued = self.env["account.move.line"]
        specs = Backend._psa_specs()
        if not specs:
            return queued
        moves = self._rebilling_external_ready()
        for backend_type in specs:
            for company, group in moves.grouped("company_id").items():
                backend = Backend._psa_backend(company, backend_type)
                if backend.state != "connected" or not backend.auto_push:
                    continue
                lines = backend._psa_lines(group)
                if lines:
                    queued |= backend._rebilling_enqueue_push(lines)
        return queued

    def _rebilling_psa_push_now(self, backend_type):
        """Push the lines of the ready invoices to the PSA ``backend_type`` now."""
        moves = self._rebilling_external_ready()
        if not moves:
            raise UserError(self.env._("Select posted invoices that are ready to be pushed."))
        if len(moves.company_id) != 1:
            raise UserError(self.env._("Push the invoices of one company at a time."))
        backend = self.env["rebilling.backend"]._psa_backend(moves.company_id, backend_type)
        label = self.env["rebilling.backend"]._psa_specs()[backend_type]["label"]
        if backend.state != "connected":
            raise UserError(self.env._("Connect to %s first.", label))
        lines = backend._psa_lines(moves)
        if not lines:
            raise UserError(self.env._("These invoices have no line for %s.", label))
        return backend._rebilling_push_now_or_later(lines)


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"

    def _rebilling_after_invoices(self, invoices):
        """Queue the PSA lines of the new invoices."""
        res = super()._rebilling_after_invoices(invoices)
        if not self.dry_run:
            invoices._rebilling_psa_push()
        return res


class RebillingService(models.Model):
    _inherit = "rebilling.service"

    def _rebilling_psa_backend_of(self, backend_type):
        """The connected PSA backend of the service's company; UserError if none."""
        self.ensure_one()
        backend = self.env["rebilling.backend"]._psa_backend(self.company_id, backend_type)
        if backend.state != "connected":
            raise UserError(
                self.env._(
                    "Connect %(company)s to %(system)s first.",
                    company=self.company_id.name,
                    system=backend._psa_specs()[backend_type]["label"],
                )
            )
        return backend

    def _rebilling_psa_wizard(self, backend_type, model):
        """The action opening the small creation form ``model`` of the service."""
        self.ensure_one()
        self._rebilling_psa_backend_of(backend_type)
        return {
            "type": "ir.actions.act_window",
            "res_model": model,
            "view_mode": "form",
            "target": "new",
            "context": {"default_service_id": self.id},
        }


class RebillingPsaWizardMixin(models.AbstractModel):
    """The small forms creating a record in a PSA from the service form.

    A wizard sets ``_psa_backend_type``, fills its own fields and calls
    :meth:`_psa_created` once the PSA answered.
    """

    _name = "rebilling.psa.wizard.mixin"
    _description = "PSA Creation Form"
    _psa_backend_type = None

    service_id = fields.Many2one("rebilling.service", required=True, ondelete="cascade")
    backend_id = fields.Many2one(
        "rebilling.backend", compute="_compute_backend_id", store=True, readonly=True
    )

    @api.depends("service_id")
    def _compute_backend_id(self):
        Backend = self.env["rebilling.backend"]
        for wizard in self:
            company = wizard.service_id.company_id
            wizard.backend_id = Backend._psa_backend(company, self._psa_backend_type)

    def _psa_backend_of_service(self):
        """The connected backend of the service's company; UserError if none."""
        return self.service_id._rebilling_psa_backend_of(self._psa_backend_type)

    def _psa_created(self, backend, kind, external_id, values, service_field, path, message):
        """Keep the created record, link it to the service and log it; close the form."""
        record = self.env["rebilling.external.record"].create(
            dict(values, backend_id=backend.id, kind=kind, external_id=external_id)
        )
        self.service_id[service_field] = record
        backend._rebilling_log(
            "push", path, "done", self.service_id, external_id=str(external_id), message=message
        )
        return {"type": "ir.actions.act_window_close"}
