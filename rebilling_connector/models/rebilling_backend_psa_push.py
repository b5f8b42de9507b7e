"""The push of invoice lines to a PSA, exactly once.

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

Override points: :meth:`_psa_lines`, :meth:`_psa_line_source`,
:meth:`_psa_credited_line`, :meth:`_psa_line_unit_cost`, :meth:`_psa_line_price`,
:meth:`_psa_line_amounts`.
"""

import time

from odoo import models
from odoo.exceptions import UserError
from odoo.tools import float_compare

from ..connector.http import ConnectorError, RetryableError
from .rebilling_backend import payload_hash


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

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
