from odoo import fields, models


class RebillingXeroToken(models.Model):
    """The OAuth2 tokens of a Xero backend (system administrators only).

    Kept out of the backend row on purpose: a token refresh is committed in its
    own transaction, and updating the backend row there would make every later
    write of the caller's (REPEATABLE READ) transaction that references the
    backend fail with a serialization error.
    """

    _name = "rebilling.xero.token"
    _description = "Xero OAuth2 Tokens"

    backend_id = fields.Many2one("rebilling.backend", required=True, index=True, ondelete="cascade")
    access_token = fields.Char(groups="base.group_system")
    refresh_token = fields.Char(groups="base.group_system")
    expires_at = fields.Datetime("Access Token Expiry")

    _backend_uniq = models.Constraint("UNIQUE(backend_id)", "A Xero backend has one set of tokens.")
