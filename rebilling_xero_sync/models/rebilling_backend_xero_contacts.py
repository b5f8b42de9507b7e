"""Customers and Xero contacts: a saved binding, else a contact of the same
name, else of the same email, else a contact created through the generic push.
"""

from odoo import models

from ..tools import xero

SEARCH_THRESHOLD = 20  # fewer unbound customers: search Xero by name, else list all contacts


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def action_xero_sync_contacts(self):
        self.ensure_one()
        self._rebilling_check_manage()
        return self._rebilling_notify(self._rebilling_pull("contacts"), "success")

    def _rebilling_pull_contacts(self):
        """Match the rebilling customers with Xero contacts; create the missing ones."""
        partners = self.env["res.partner"].search(
            [
                ("rebilling_enabled", "=", True),
                ("company_id", "in", [self.company_id.id, False]),
            ]
        )
        bound, errors, stats = self._xero_ensure_contacts(partners)
        return self.env._(
            "Contacts: %(matched)s matched, %(created)s created, %(failed)s failed, "
            "%(known)s already linked.",
            matched=stats["matched"],
            created=stats["created"],
            failed=len(errors),
            known=stats["known"],
        )

    def _xero_contact_payload(self, partner):
        email = partner._rebilling_email() if hasattr(partner, "_rebilling_email") else None
        payload = {"Name": partner.name}
        if email:
            payload["EmailAddress"] = email
        if partner.vat:
            payload["TaxNumber"] = partner.vat
        if partner.ref:
            payload["AccountNumber"] = partner.ref
        if partner.street or partner.city or partner.zip:
            payload["Addresses"] = [
                {
                    "AddressType": "POBOX",
                    "AddressLine1": partner.street or "",
                    "AddressLine2": partner.street2 or "",
                    "City": partner.city or "",
                    "Region": partner.state_id.code or "",
                    "PostalCode": partner.zip or "",
                    "Country": partner.country_id.name or "",
                }
            ]
        if partner.phone:
            payload["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": partner.phone}]
        return payload

    def _xero_fetch_contacts(self, partners):
        """Xero contacts that may match ``partners`` (search by name, or list them all)."""
        contacts = []
        if len(partners) <= SEARCH_THRESHOLD:
            for partner in partners:
                terms = [partner.name, partner.rebilling_invoice_email or partner.email]
                for term in filter(None, terms):
                    answer = self._xero_call(
                        "GET", "Contacts", params={"searchTerm": term, "summaryOnly": "true"}
                    )
                    found = (answer or {}).get("Contacts") or []
                    contacts += found
                    if found:
                        break
            return contacts
        page = 1
        while True:
            answer = self._xero_call(
                "GET",
                "Contacts",
                params={"page": page, "pageSize": 100, "summaryOnly": "true"},
            )
            found = (answer or {}).get("Contacts") or []
            contacts += found
            if len(found) < 100:
                return contacts
            page += 1

    def _xero_ensure_contacts(self, partners):
        """Bind ``partners`` to Xero contacts: saved binding, else name, else email, else create.

        Return ``(bound, errors, stats)``: ``{partner id: ContactID}``,
        ``{partner id: message}`` and counters.
        """
        self.ensure_one()
        Binding = self.env["rebilling.binding"]
        bound = Binding._rebilling_external_ids(self, partners)
        stats = {"known": len(bound), "matched": 0, "created": 0}
        errors = {}
        todo = partners.filtered(lambda p: p.id not in bound)
        if not todo:
            return bound, errors, stats
        contacts = [c for c in self._xero_fetch_contacts(todo) if c.get("ContactID")]
        taken = set(
            Binding._rebilling_find(self, "res.partner", {c["ContactID"] for c in contacts})
        )
        by_name, by_email = {}, {}
        for contact in contacts:
            if contact.get("ContactStatus", "ACTIVE") != "ACTIVE":
                continue
            by_name.setdefault(xero.normalize(contact.get("Name")), contact)
            if contact.get("EmailAddress"):
                by_email.setdefault(xero.normalize(contact["EmailAddress"]), contact)
        to_create = []
        for partner in todo:
            email = xero.normalize(partner.rebilling_invoice_email or partner.email)
            contact = by_name.get(xero.normalize(partner.name)) or (email and by_email.get(email))
            if contact and contact["ContactID"] not in taken:
                taken.add(contact["ContactID"])
                Binding._rebilling_bind(
                    self, partner, contact["ContactID"], sync_data={"matched": True}
                )
                self._rebilling_log(
                    "pull",
                    "contacts",
                    "done",
                    partner,
                    external_id=contact["ContactID"],
                    message=self.env._("Matched with the Xero contact %s.", contact.get("Name")),
                )
                bound[partner.id] = contact["ContactID"]
                stats["matched"] += 1
            else:
                to_create.append(partner)
        if to_create:
            self._xero_create_contacts(self.env["res.partner"].concat(*to_create), bound, errors)
            stats["created"] = sum(1 for p in to_create if p.id in bound)
        return bound, errors, stats

    def _xero_create_contacts(self, partners, bound, errors):
        """Create ``partners`` in Xero through the generic push (batches, log, bindings)."""
        self._rebilling_push(partners)
        bindings = self.env["rebilling.binding"]._rebilling_map(self, partners)
        for partner in partners:
            binding = bindings.get(partner.id)
            if binding and binding.external_id:
                bound[partner.id] = binding.external_id
            else:
                errors[partner.id] = (binding and binding.sync_error) or self.env._(
                    "The contact could not be created in Xero."
                )

    def _xero_contacts_cache(self):
        return self.env.cr.cache.setdefault(("rebilling_xero_contacts", self.id), ({}, {}))
