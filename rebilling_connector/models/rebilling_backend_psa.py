"""What the PSA connectors (Autotask, ConnectWise) share: pulls, mapping and the line push.

A PSA is described by one spec per ``backend_type`` (:class:`PsaSpec`): its
names, endpoints, rate limits and fields as data, and the names of the methods
making its calls. A PSA module gives its spec by extending :meth:`_psa_specs`
(a dict of the spec's fields, no import needed); the core reads
``self._psa_spec()`` instead of each module overriding each name with an ``if
backend_type`` guard. Everything else lives once, here:

* pulled records are ``rebilling.external.record`` (:meth:`_psa_store`), the
  customers get a company suggested by name (:meth:`_psa_suggest_companies`);
* each invoice line with a contract (its charge's, else its service's) becomes
  one item of that contract in the PSA (an Autotask contract charge, a
  ConnectWise agreement addition), only when the contract belongs to the
  customer's mapped company (:meth:`_psa_check_mapping`). The binding of the
  line holds the item id: a changed line is updated in place, or deleted and
  created again when it changed contract;
* exactly once: an item carries a marker naming the database and the invoice
  line (:meth:`_psa_marker`). Before a create the binding is committed as an
  intent (``sending``) in its own transaction, and the answer right after;
  an intent without id is looked up by marker before anything is created;
* invoices go when they are ready (``account.move._rebilling_external_ready``):
  on billing runs and when a trigger field is written.

Names of a PSA (from its spec; extend one only for what a spec cannot say):
:meth:`_psa_label`, :meth:`_psa_type_defaults`, :meth:`_psa_ping_path`,
:meth:`_psa_refused_message`, :meth:`_psa_item_label`, :meth:`_psa_pulls`,
:meth:`_psa_records_action`, :meth:`_psa_partner_field`,
:meth:`_psa_suggested_field`, :meth:`_psa_contract_field`,
:meth:`_psa_cost_fields`, :meth:`_psa_service_types`, :meth:`_psa_result_data`.

Its calls (the methods its spec names): :meth:`_psa_discover`,
:meth:`_psa_headers`, :meth:`_psa_auth`, :meth:`_psa_check_line`,
:meth:`_psa_values`, :meth:`_psa_find`, :meth:`_psa_create`, :meth:`_psa_patch`,
:meth:`_psa_update`, :meth:`_psa_error_text`, and optionally its own error
classification and connection test message.

Generic override points: :meth:`_psa_lines`, :meth:`_psa_line_source`,
:meth:`_psa_line_unit_cost`, :meth:`_psa_line_price`, :meth:`_psa_line_amounts`.
"""

import dataclasses
import logging
import time
from collections.abc import Mapping
from types import MappingProxyType

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, ormcache

from ..connector.http import ConnectorError, HttpClient, RetryableError
from .rebilling_backend import payload_hash

_logger = logging.getLogger(__name__)

# The calls of a PSA: spec fields naming a method of ``rebilling.backend``.
PSA_METHODS = (
    "discover",
    "headers",
    "auth",
    "error_text",
    "classify_error",
    "tested_message",
    "check_line",
    "values",
    "find",
    "create",
    "patch",
    "update",
)


@dataclasses.dataclass(frozen=True, eq=False)
class PsaSpec:
    """What tells one PSA from another, as data (OCA connector's binder keeps its
    per-system settings so). Texts shown to users are lazy translations (``_lt``).

    The method fields (:data:`PSA_METHODS`) hold the name of a ``rebilling.backend``
    method of the PSA's module; ``None``: the default of the core.
    """

    code: str  # the backend_type
    label: str  # the system's display name
    ping_path: str  # the cheap authenticated call checking the connection
    records_action: str  # xml id of the action listing the pulled records
    partner_field: str  # res.partner field of the mapped company
    suggested_field: str  # res.partner field of the suggested company
    contract_field: str  # contract field of services and charges
    type_defaults: Mapping = dataclasses.field(default_factory=dict)  # of a new backend
    item_label: object = None  # name of a pushed item (default "Item")
    refused_message: object = None  # "...: %s" of a refused connection (default generic)
    pulls: tuple = ()  # the _rebilling_pull_<what> names of the pull button, in order
    cost_fields: tuple = ()  # source fields whose record's unit_cost is the fallback cost
    service_types: tuple | None = None  # the service types pushed (None: all)
    sync_data_keys: Mapping = dataclasses.field(default_factory=dict)  # binding key: payload key
    # the calls (method names)
    discover: str | None = None  # find the API URL before connecting (zone, codebase)
    headers: str | None = None  # headers of every call (credentials read with sudo)
    auth: str | None = None  # the client's ``auth``
    error_text: str | None = None  # readable text of a ConnectorError
    classify_error: str | None = None  # (retryable, retry_after) of a failed answer, or None
    tested_message: str | None = None  # message of a working connection test
    check_line: str | None = None  # raise UserError when a line cannot be pushed
    values: str | None = None  # payload of a line (holds the marker); required
    find: str | None = None  # id of the item carrying the marker, else None; required
    create: str | None = None  # one create call without retries: the new id; required
    patch: str | None = None  # write the payload on an existing item; required
    update: str | None = None  # update in place (True) or delete (False); required

    def __post_init__(self):
        for name in ("type_defaults", "sync_data_keys"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        for name in ("pulls", "cost_fields"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


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
        """Extend for a PSA connector: ``{backend_type: spec}``, each spec a dict of the
        fields of :class:`PsaSpec` but ``code`` (``{**super()._psa_specs(), "x": {...}}``)."""
        return {}

    @api.model
    @ormcache("backend_type")
    def _psa_spec_of(self, backend_type):
        """The :class:`PsaSpec` of ``backend_type`` (``None`` when it is no PSA)."""
        values = self._psa_specs().get(backend_type)
        if values is None:
            return None
        spec = PsaSpec(code=backend_type, **values)
        for hook in PSA_METHODS:
            name = getattr(spec, hook)
            if name and not callable(getattr(self, name, None)):
                raise TypeError(f"{backend_type}: the {hook} method {name} does not exist")
        return spec

    @api.model
    def _psa_types(self):
        """The ``backend_type`` values that are PSAs (those with a spec)."""
        return list(self._psa_specs())

    def _psa_is(self):
        """Whether this backend is a PSA (one record)."""
        return len(self) == 1 and self.backend_type in self._psa_types()

    @api.model
    def _psa_of_type(self, backend_type):
        """A record of ``backend_type`` in memory, to read the names of that PSA."""
        return self.new({"backend_type": backend_type})

    def _psa_spec(self):
        """The spec of this backend's PSA (one record)."""
        spec = self._psa_spec_of(self.backend_type)
        if spec is None:
            raise NotImplementedError(f"{self.backend_type}: not a PSA (no spec)")
        return spec

    def _psa_method(self, hook):
        """The method the spec names for ``hook`` (bound), ``None`` when it names none."""
        name = getattr(self._psa_spec(), hook)
        return getattr(self, name) if name else None

    def _psa_call(self, hook, *args):
        """Call the method the spec names for ``hook``, which a PSA must have."""
        method = self._psa_method(hook)
        if method is None:
            self._psa_missing(hook)
        return method(*args)

    def _psa_missing(self, what):
        raise NotImplementedError(f"{self.backend_type}: {what} is not implemented")

    def _psa_text(self, text):
        """A text of the spec in the user's language (a lazy translation or a plain str)."""
        return text if isinstance(text, str) else self.env._(text)

    # ------------------------------------------------------------ names of a PSA
    def _psa_label(self):
        """Extend for a PSA connector: the system's display name (spec ``label``)."""
        return self._psa_spec().label

    def _psa_type_defaults(self):
        """Extend for a PSA connector: field values of a new backend (spec ``type_defaults``)."""
        return dict(self._psa_spec().type_defaults)

    def _psa_ping_path(self):
        """Extend for a PSA connector: the cheap authenticated call checking the connection
        (spec ``ping_path``)."""
        return self._psa_spec().ping_path

    def _psa_refused_message(self, error):
        """Extend for a PSA connector: the message of a refused connection (spec
        ``refused_message``, a ``%s`` text, else a generic one)."""
        template = self._psa_spec().refused_message
        if template:
            return self._psa_text(template) % error
        return self.env._(
            "%(system)s refused the connection: %(error)s", system=self._psa_label(), error=error
        )

    def _psa_item_label(self):
        """Extend for a PSA connector: the name of a pushed item (spec ``item_label``)."""
        label = self._psa_spec().item_label
        return self._psa_text(label) if label else self.env._("Item")

    def _psa_pulls(self):
        """Extend for a PSA connector: the ``_rebilling_pull_<what>`` names of the pull
        button (spec ``pulls``)."""
        return self._psa_spec().pulls

    def _psa_records_action(self):
        """Extend for a PSA connector: xml id of the action listing the pulled records
        (spec ``records_action``)."""
        return self._psa_spec().records_action

    def _psa_partner_field(self):
        """Extend for a PSA connector: the ``res.partner`` field of the mapped company
        (spec ``partner_field``)."""
        return self._psa_spec().partner_field

    def _psa_suggested_field(self):
        """Extend for a PSA connector: the ``res.partner`` field of the suggested company
        (spec ``suggested_field``)."""
        return self._psa_spec().suggested_field

    def _psa_contract_field(self):
        """Extend for a PSA connector: the contract field of services and charges (spec
        ``contract_field``)."""
        return self._psa_spec().contract_field

    def _psa_cost_fields(self):
        """Extend for a PSA connector: fields whose record's ``unit_cost`` is the fallback
        cost (spec ``cost_fields``)."""
        return self._psa_spec().cost_fields

    def _psa_service_types(self):
        """Extend for a PSA connector: the service types pushed (spec ``service_types``;
        ``None``: all)."""
        return self._psa_spec().service_types

    def _psa_result_data(self, line, payload):
        """Extend for a PSA connector: what the binding keeps (``sync_data``) after a push:
        the invoice, and the payload's values named by the spec's ``sync_data_keys``."""
        keys = self._psa_spec().sync_data_keys
        return {**{key: payload[name] for key, name in keys.items()}, "move_id": line.move_id.id}

    # ------------------------------------------------------------ calls of a PSA
    def _psa_discover(self):
        """Extend for a PSA connector: find the API URL (zone, codebase) before connecting
        (spec ``discover``)."""
        method = self._psa_method("discover")
        return method() if method else True

    def _psa_headers(self):
        """Extend for a PSA connector: headers of every call, credentials read with sudo
        (spec ``headers``)."""
        method = self._psa_method("headers")
        return method() if method else {}

    def _psa_auth(self):
        """Extend for a PSA connector: the ``auth`` of the client (spec ``auth``; ``None``:
        none)."""
        method = self._psa_method("auth")
        return method() if method else None

    def _psa_check_line(self, line):
        """Extend for a PSA connector: raise UserError when ``line`` cannot be pushed
        (spec ``check_line``)."""
        method = self._psa_method("check_line")
        return method(line) if method else True

    def _psa_values(self, line):
        """Extend for a PSA connector: the payload of ``line``; it holds the marker
        (spec ``values``)."""
        return self._psa_call("values", line)

    def _psa_find(self, client, payload):
        """Extend for a PSA connector: the id of the item carrying the marker, else ``None``
        (spec ``find``)."""
        return self._psa_call("find", client, payload)

    def _psa_create(self, client, payload):
        """Extend for a PSA connector: one create call without retries; the new id
        (spec ``create``)."""
        return self._psa_call("create", client, payload)

    def _psa_patch(self, client, external_id, payload):
        """Extend for a PSA connector: write ``payload`` on an existing item (spec
        ``patch``)."""
        return self._psa_call("patch", client, external_id, payload)

    def _psa_update(self, client, external_id, payload, binding):
        """Extend for a PSA connector: update the item in place (``True``), or delete it
        when it changed contract (``False``: it is created again) (spec ``update``)."""
        return self._psa_call("update", client, external_id, payload, binding)

    def _psa_error_text(self, exc):
        """Extend for a PSA connector: the readable text of a ConnectorError (spec
        ``error_text``)."""
        method = self._psa_method("error_text")
        return method(exc) if method else str(exc)

    @api.model
    def _psa_backend(self, company, backend_type):
        """The active backend of ``backend_type`` of ``company`` (empty when none)."""
        return self.search(
            [("backend_type", "=", backend_type), ("company_id", "=", company.id)], limit=1
        )

    # ------------------------------------------------------------ connection
    @api.model
    def _rebilling_type_defaults(self, backend_type):
        if backend_type not in self._psa_types():
            return super()._rebilling_type_defaults(backend_type)
        psa = self._psa_of_type(backend_type)
        return dict(psa._psa_type_defaults(), name=psa._psa_label())

    def _rebilling_client_kwargs(self):
        kwargs = super()._rebilling_client_kwargs()
        if not self._psa_is():
            return kwargs
        auth = self._psa_auth()
        if auth:
            kwargs["auth"] = auth
        kwargs["headers"] = dict(kwargs.get("headers") or {}, **self._psa_headers())
        kwargs["headers"]["Content-Type"] = "application/json"
        return kwargs

    def _rebilling_check_connection(self):
        if not self._psa_is():
            return super()._rebilling_check_connection()
        self._psa_discover()
        try:
            self._rebilling_client().get(self._psa_ping_path(), retries=1)
        except ConnectorError as exc:
            raise UserError(self._psa_refused_message(self._psa_error_text(exc))) from None
        return True

    def _rebilling_classify_error(self, response, body):
        """A PSA whose spec names a ``classify_error`` method reads its own failed
        answers first; ``None`` from it keeps the default rule."""
        method = self._psa_method("classify_error") if self._psa_is() else None
        found = method(response, body) if method else None
        return super()._rebilling_classify_error(response, body) if found is None else found

    def action_test_connection(self):
        """A PSA whose spec names a ``tested_message`` method says it when the
        connection works (e.g. the Autotask zone)."""
        method = self._psa_method("tested_message") if self._psa_is() else None
        if method is None:
            return super().action_test_connection()
        self._rebilling_check_manage()
        self._rebilling_check_connection()
        return self._rebilling_notify(method(), "success")

    def _psa_check_settings(self, values):
        """Raise when a ``(label, value)`` of ``values`` has no value."""
        missing = [label for label, value in values if not value]
        if missing:
            raise UserError(
                self.env._(
                    "Enter the %(system)s %(missing)s first.",
                    system=self._psa_label(),
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
            raise UserError(error(self._psa_error_text(exc))) from None
        finally:
            client.close()

    def _psa_connect(self, connected_message, success_message):
        """Check the connection; report it plainly (the button "Save and connect")."""
        self.ensure_one()
        self._rebilling_check_manage()
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
                    system=self._psa_label(),
                    entity=entity,
                    error=self._psa_error_text(exc),
                )
            ) from None

    def _psa_check_connected(self):
        if self.state != "connected":
            raise UserError(self.env._("Connect to %s first.", self._psa_label()))

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
        by_name = {}
        for company in self._psa_records("company"):
            by_name.setdefault(normalized_name(company.name), company)
        partners = self.env["res.partner"].search(
            [
                ("rebilling_enabled", "=", True),
                (self._psa_partner_field(), "=", False),
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
            suggested = self._psa_suggested_field()
            if match and partner[suggested] != match:
                partner[suggested] = match
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
        self._rebilling_check_manage()
        self._psa_check_connected()
        messages = [self._rebilling_pull(what) for what in self._psa_pulls()]
        return self._rebilling_notify(
            self.env._(
                "Pulled from %(system)s: %(done)s.",
                system=self._psa_label(),
                done="; ".join(m for m in messages if m),
            ),
            "success",
        )

    def action_psa_view_records(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(self._psa_records_action())
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    @api.model
    def _psa_confirm_companies(self, partners, backend_type):
        """Map each of ``partners`` to its suggested company of the PSA ``backend_type``."""
        partners._rebilling_check_user()
        psa = self._psa_of_type(backend_type)
        suggested, mapped = psa._psa_suggested_field(), psa._psa_partner_field()
        todo = partners.filtered(suggested)
        if not todo:
            raise UserError(self.env._("There is no suggestion to confirm."))
        for partner in todo:
            partner.write({mapped: partner[suggested].id, suggested: False})
        return True

    @api.model
    def _psa_reject_suggestions(self, partners, backend_type):
        partners._rebilling_check_user()
        partners.write({self._psa_of_type(backend_type)._psa_suggested_field(): False})
        return True

    # ------------------------------------------------------------ push: lines
    def _psa_line_source(self, line):
        """Override point: the record holding the PSA fields of ``line`` (contract or
        agreement, product...): its recurring or once-off charge, else its service;
        a credit note's line has those of the invoice line it credits."""
        if not (line.rebilling_charge_id or line.rebilling_service_id):
            line = self._psa_credited_line(line) or line
        return line.rebilling_charge_id or line.rebilling_service_id

    def _psa_credited_line(self, line):
        """Override point: the invoice line that the credit note line ``line`` credits.

        Odoo's reversal copies an invoice's lines without their service or
        charge: the credited line is the line of the reversed invoice with the
        same product and label, in the same order (empty when there is none).
        """
        move = line.move_id
        invoice = move.reversed_entry_id
        empty = self.env["account.move.line"]
        if move.move_type != "out_refund" or not invoice:
            return empty

        def same(lines):
            return lines.filtered(
                lambda other: (
                    other.display_type == "product"
                    and other.product_id == line.product_id
                    and other.name == line.name
                )
            )

        rank = list(same(move.invoice_line_ids)).index(line)
        credited = same(invoice.invoice_line_ids)
        return credited[rank] if rank < len(credited) else empty

    def _psa_line_typed(self, line):
        """Whether ``line`` is of a service type this PSA bills (a charge with its own
        PSA fields always is)."""
        types = self._psa_service_types()
        source = self._psa_line_source(line)
        return types is None or source._name == "rebilling.charge" or (source.service_type in types)

    def _psa_lines(self, moves):
        """Override point: the invoice lines of ``moves`` to push (those with a contract)."""
        contract_field = self._psa_contract_field()
        return moves.invoice_line_ids.filtered(
            lambda line: (
                line.display_type == "product"
                and self._psa_line_typed(line)
                and self._psa_line_source(line)[contract_field]
            )
        )

    def _psa_check_mapping(self, line):
        """A line goes only to a contract of its own customer's PSA company."""
        field = self._psa_partner_field()
        partner = line.move_id.partner_id.commercial_partner_id
        mapped = partner[field] or line.move_id.partner_id[field]
        contract = self._psa_line_source(line)[self._psa_contract_field()]
        if not mapped:
            raise UserError(
                self.env._(
                    "Map %(customer)s to a %(system)s company first: its items go to the "
                    "contracts of that company only.",
                    customer=partner.display_name,
                    system=self._psa_label(),
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
                    system=self._psa_label(),
                    customer=partner.display_name,
                )
            )

    def _psa_line_unit_cost(self, line):
        """Override point: the unit cost of an item (the product's cost by default)."""
        cost = line.product_id.standard_price
        if not cost:
            source = self._psa_line_source(line)
            records = [source[name] for name in self._psa_cost_fields()]
            cost = next((r for r in records if r), records[-1]).unit_cost
        return cost or 0.0

    def _psa_line_price(self, line):
        """Override point: the unit price of an item (after the line's discount)."""
        return round(line.price_unit * (1 - (line.discount or 0.0) / 100.0), 4)

    def _psa_line_amounts(self, line):
        """Override point: ``(quantity, unit price, unit cost)`` of the item of ``line``.

        The PSA bills ``quantity x unit price`` rounded to the cent, so the pair
        sent always makes the line's own subtotal: when the line's quantity times
        its unit price (after discount) is not exactly its subtotal, the item is
        one unit at the subtotal. A credit note's line credits: a negative unit
        price with a positive quantity, the way both PSAs take credits (Autotask:
        "the Quantity of the charge cannot be a negative value, but the Unit
        Price can be a negative amount", KB "How can I issue a credit or add a
        negative charge to an invoice?"), and no cost.
        """
        currency = line.move_id.currency_id
        sign = -1 if line.move_id.move_type == "out_refund" else 1
        subtotal = sign * line.price_subtotal
        quantity, price = line.quantity, sign * self._psa_line_price(line)
        cost = self._psa_line_unit_cost(line) if sign > 0 else 0.0
        if quantity < 0:
            quantity, price = -quantity, -price
        if float_compare(quantity * price, subtotal, precision_digits=6) != 0:
            cost = cost * quantity
            quantity, price = 1.0, currency.round(subtotal)
        return quantity, price, round(cost, 4)

    def _psa_marker(self, line):
        """The exactly-once marker of ``line``: the database and the line id."""
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"rebilling:{uuid[:13]}:{line.id}"

    def _rebilling_push_prepare(self, record):
        if not self._psa_is() or record._name != "account.move.line":
            return super()._rebilling_push_prepare(record)
        if record.move_id.state != "posted":
            raise UserError(self.env._("The invoice %s is not posted.", record.move_id.name))
        service = self._psa_line_source(record)
        if not self._psa_line_typed(record):
            raise UserError(
                self.env._(
                    "%(service)s is not a VoIP utility service: not billed in %(system)s.",
                    service=service.name,
                    system=self._psa_label(),
                )
            )
        self._psa_check_line(record)
        self._psa_check_mapping(record)
        return self._psa_values(record)

    def _rebilling_push_failed(self, record, binding, message):
        """A PSA line's binding is only ever written in its own transaction: a failure
        before the send too, so that the job's transaction never holds (and never waits
        on) a binding row that a later send of the same line writes on the side."""
        if not self._psa_is() or record._name != "account.move.line":
            return super()._rebilling_push_failed(record, binding, message)
        self.env["rebilling.binding"]._rebilling_write_durable(
            self, record, {"sync_state": "error", "sync_error": message}
        )
        return self._rebilling_record_failed(record, message)

    def _rebilling_push_send(self, res_model, items):
        if not self._psa_is() or res_model != "account.move.line":
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
                message, retry = self._psa_error_text(exc), exc.retryable
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
        item = self._psa_item_label()
        data = self._psa_result_data(line, payload)
        Binding = self.env["rebilling.binding"]
        intent = {"external_id": False, "sync_state": "sending", "sync_marker": marker}
        if binding and binding.external_id:
            old_id = int(binding.external_id)
            if self._psa_update(client, old_id, payload, binding):
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
        if lookup:
            existing = self._psa_find(client, payload)
            if existing:
                self._psa_patch(client, existing, payload)
                return existing
        attempt = 0
        while True:
            try:
                return self._psa_create(client, payload)
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
                    existing = self._psa_find(client, payload)
                    if existing:
                        return existing
                attempt += 1
