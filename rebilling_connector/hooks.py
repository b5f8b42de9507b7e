from odoo.addons.rebilling_base.tools import moved_to_connector


def pre_init_hook(env):
    """A database whose rebilling_base held the connector core (up to 19.0.1.1.0): take its
    records over with their ids and rows (see ``rebilling_base/tools/moved_to_connector.py``)."""
    moved_to_connector.hand_over(env.cr)
