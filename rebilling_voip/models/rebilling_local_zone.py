from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools import phone


class RebillingLocalZone(models.Model):
    """A local calling zone: calls between two numbers of one zone are local.

    Australian area codes cover several zones (02: Sydney, Canberra, Newcastle,
    ...): a call from Sydney to Canberra is national although both are 02. The
    rating decides "local" by the zones of the caller and the called number
    (longest prefix wins) when either has one; a number in no zone falls back to
    the area code (the "same area" prefixes of the local destination group). A
    call matched by its trunk (caller withheld) is in the zone of its service's
    first number that has one.
    """

    _name = "rebilling.local.zone"
    _inherit = ["rebilling.company.mixin"]
    _description = "Local Calling Zone"
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", index=True, help="Empty: shared by all companies.")
    prefixes = fields.Text(
        required=True,
        help="E.164 prefixes of the zone's numbers, one per line, e.g. +6128 and +6129 for "
        "Sydney. The longest prefix of a number gives its zone.",
    )

    @api.constrains("prefixes")
    def _check_prefixes(self):
        for zone in self:
            for prefix in zone._prefix_list():
                if not prefix.startswith("+") or not prefix[1:].isdigit():
                    raise ValidationError(
                        self.env._(
                            "%(zone)s: %(prefix)s is not an E.164 prefix (a plus and digits).",
                            zone=zone.name,
                            prefix=prefix,
                        )
                    )

    def _prefix_list(self):
        self.ensure_one()
        return [p.replace(" ", "") for p in (self.prefixes or "").splitlines() if p.strip()]

    @api.model
    def _zone_prefixes(self, company):
        """``{prefix: zone id}`` of the company's zones and the shared ones (its own win)."""
        zones = self.sudo().search(
            [("company_id", "in", [company.id, False])], order="company_id desc, id desc"
        )
        result = {}
        for zone in zones:
            for prefix in zone._prefix_list():
                result[prefix] = zone.id
        return result

    @api.model
    def _zone_of(self, number, prefixes):
        """Zone id of the E.164 ``number`` by its longest prefix in ``prefixes`` (or None)."""
        for n in range(len(number or ""), 1, -1):
            zone = prefixes.get(number[:n])
            if zone:
                return zone
        return None

    @api.model
    def _service_zones(self, services, prefixes, region):
        """``{service id: zone id}``: the zone of each service's first number having one."""
        result = {}
        for service in services:
            for ident in service._identifier_list():
                zone = self._zone_of(phone.normalize(ident, region), prefixes)
                if zone:
                    result[service.id] = zone
                    break
        return result

    @api.model
    def _zone_sql(self, number, prefixes):
        """SQL of the zone id of the E.164 ``number`` (SQL), longest prefix (NULL: none)."""
        if not prefixes:
            return SQL("NULL::int")
        values = SQL(", ").join(SQL("(%s, %s)", p, z) for p, z in prefixes.items())
        return SQL(
            "(SELECT z.zone FROM (VALUES %s) z (prefix, zone) "
            "WHERE left(%s, length(z.prefix)) = z.prefix ORDER BY length(z.prefix) DESC LIMIT 1)",
            values,
            number,
        )
