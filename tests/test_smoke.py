"""Cross-module smoke test: all rebilling addons installed together.

Every model has access rules, every window action renders its views through
the ORM, every server action behind a menu runs, and every menu loads.
"""

from odoo.tests import TransactionCase, tagged

REBILLING_MODULES = (
    "rebilling_base",
    "rebilling_connector",
    "rebilling_voip",
    "rebilling_review",
    "rebilling_xero_sync",
    "rebilling_autotask",
    "rebilling_connectwise",
)


@tagged("post_install", "-at_install")
class TestSmoke(TransactionCase):
    def _xmlids(self, model):
        return self.env["ir.model.data"].search(
            [("module", "in", REBILLING_MODULES), ("model", "=", model)]
        )

    def test_all_modules_installed(self):
        modules = self.env["ir.module.module"].search([("name", "in", REBILLING_MODULES)])
        self.assertEqual(set(modules.mapped("state")), {"installed"})
        self.assertEqual(len(modules), len(REBILLING_MODULES))

    def test_every_model_has_access_rules(self):
        models = self.env["ir.model"].browse(self._xmlids("ir.model").mapped("res_id"))
        self.assertTrue(models, "the rebilling modules define models")
        missing = [m.model for m in models if not m.access_ids and not self.env[m.model]._abstract]
        self.assertFalse(missing, f"models without ir.model.access: {missing}")

    def test_every_window_action_renders_its_views(self):
        actions = self.env["ir.actions.act_window"].browse(
            self._xmlids("ir.actions.act_window").mapped("res_id")
        )
        self.assertTrue(actions)
        for action in actions:
            with self.subTest(action=action.name):
                model = self.env[action.res_model]
                modes = action.view_mode.split(",")
                views = [(v.view_id.id, v.view_mode) for v in action.view_ids] or [
                    (action.view_id.id if action.view_id.type == mode else False, mode)
                    for mode in modes
                ]
                result = model.get_views(views + [(False, "search")])
                self.assertEqual(set(result["views"]), {m for _v, m in views} | {"search"})

    def test_every_menu_loads_and_its_action_runs(self):
        menus = self.env["ir.ui.menu"].browse(self._xmlids("ir.ui.menu").mapped("res_id"))
        self.assertTrue(menus)
        loaded = self.env["ir.ui.menu"].load_menus(debug=True)
        technical = self.env.ref("base.group_no_one")
        for menu in menus:
            with self.subTest(menu=menu.complete_name):
                if technical not in menu.group_ids:  # developer-mode menus are hidden here
                    self.assertIn(menu.id, loaded, f"{menu.complete_name} is not visible to admin")
                action = menu.action
                if action and action._name == "ir.actions.server":
                    result = action.with_context(active_model=action.model_id.model).run()
                    self.assertIn(result["type"], ("ir.actions.act_window", "ir.actions.client"))
                    if result.get("res_model"):
                        self.env[result["res_model"]].get_views(
                            [(False, m) for m in result["view_mode"].split(",")]
                        )
