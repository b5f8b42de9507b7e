from odoo import models

# Window actions of rebilling modules that open even before the configuration is
# complete (the configuration itself). Extend with ``_rebilling_ungated_xmlids``.
UNGATED = {"rebilling_base.action_rebilling_configuration"}


class IrActionsActWindow(models.Model):
    _inherit = "ir.actions.act_window"

    def _get_action_dict(self):
        """Configuration gate on every rebilling window action, menus and direct URLs alike.

        While the company's rebilling configuration is incomplete, a user who can
        edit it gets the configuration form; anyone else an error naming who can.
        """
        if len(self) == 1 and self._rebilling_gated():
            gate = self.env.company._rebilling_gate_action()
            if gate:
                return gate
        return super()._get_action_dict()

    def _rebilling_gated(self):
        self.ensure_one()
        xmlid = self.sudo().get_external_id().get(self.id) or ""
        module = xmlid.split(".", 1)[0]
        return module.startswith("rebilling_") and xmlid not in self._rebilling_ungated_xmlids()

    def _rebilling_ungated_xmlids(self):
        """Extend for window actions that must open before the configuration is complete."""
        return set(UNGATED)
