"""What Xero's organisation gives: its short code (deep links), tax rates
(TaxType codes) and active revenue accounts (the account code choices).
"""

from odoo import models


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def action_xero_pull(self):
        """Button: pull the organisation's settings, accounts and contacts now."""
        self.ensure_one()
        self._rebilling_check_manage()
        messages = [self._rebilling_pull(what) for what in ("settings", "accounts", "contacts")]
        return self._rebilling_notify(" ".join(m for m in messages if m), "success")

    def action_xero_pull_accounts(self):
        self.ensure_one()
        self._rebilling_check_manage()
        return self._rebilling_notify(self._rebilling_pull("accounts"), "success")

    def _rebilling_pull_settings(self):
        """Organisation short code (deep links) and tax rates (TaxType codes)."""
        organisations = (self._xero_call("GET", "Organisation") or {}).get("Organisations") or []
        rates = (self._xero_call("GET", "TaxRates") or {}).get("TaxRates") or []
        tax_types = {
            rate["Name"]: rate["TaxType"]
            for rate in rates
            if rate.get("Name") and rate.get("TaxType") and rate.get("Status", "ACTIVE") == "ACTIVE"
        }
        vals = {"tax_types": tax_types}
        if organisations:
            vals["short_code"] = organisations[0].get("ShortCode")
        self.xero_tenant_id.sudo().write(vals)
        return self.env._("%s tax rates.", len(tax_types))

    def _rebilling_pull_accounts(self):
        """Active revenue accounts, for the account code choices."""
        answer = self._xero_call("GET", "Accounts", params={"where": 'Status=="ACTIVE"'}) or {}
        accounts = [
            a
            for a in answer.get("Accounts") or []
            if a.get("Code") and (a.get("Class") == "REVENUE" or a.get("Type") in ("REVENUE",))
        ]
        seen = self._xero_upsert(
            "xero_account_ids",
            "account_id",
            [
                (
                    data.get("AccountID"),
                    {
                        "code": data["Code"],
                        "name": data.get("Name") or data["Code"],
                        "account_type": data.get("Type"),
                        "tax_type": data.get("TaxType"),
                        "active": True,
                    },
                )
                for data in accounts
            ],
            gone={"active": False},
        )
        return self.env._("%s revenue accounts.", len(seen))
