"""What a PSA (Autotask, ConnectWise) is: its spec, the registry of specs, its names and calls.

A PSA is described by one spec per ``backend_type`` (:class:`PsaSpec`): its
names, endpoints, rate limits and fields as data, and the names of the methods
making its calls. A PSA module gives its spec by extending :meth:`_psa_specs`
(a dict of the spec's fields, no import needed); the core reads
``self._psa_spec()`` instead of each module overriding each name with an ``if
backend_type`` guard. What the PSA connectors share lives once, one concern a file:

* ``rebilling_backend_psa_connection.py``: the client's headers and auth, the
  connection check and test, the unauthenticated lookups (zone, codebase);
* ``rebilling_backend_psa_pull.py``: pulled records are
  ``rebilling.external.record`` (:meth:`_psa_store`), the customers get a
  company suggested by name (:meth:`_psa_suggest_companies`);
* ``rebilling_backend_psa_push.py``: each invoice line with a contract becomes
  one item of that contract in the PSA, exactly once;
* ``rebilling_backend_reconcile.py``: the month's items read back (the spec's
  ``reconcile_fetch`` and ``reconcile_bad_statuses``).

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
classification, connection test message and reconciliation fetch.
"""

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from odoo import api, models
from odoo.tools import ormcache

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
    "reconcile_fetch",
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
    reconcile_bad_statuses: frozenset = frozenset()  # statuses of an item not billed
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
    reconcile_fetch: str | None = None  # the month's items read back (None: no reconciliation)

    def __post_init__(self):
        for name in ("type_defaults", "sync_data_keys"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        for name in ("pulls", "cost_fields"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "reconcile_bad_statuses", frozenset(self.reconcile_bad_statuses))


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"

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
