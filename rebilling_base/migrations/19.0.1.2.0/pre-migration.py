"""The connector core moved to its own addon, rebilling_connector.

Upgrading rebilling_base while a connector (Xero, Autotask, ConnectWise) is installed
installs rebilling_connector in the same update (the connectors depend on it): the
connector's models, fields, views and rules are handed over to it before anything is
loaded, so that they are kept with their rows. Without any connector, the connector's
records of rebilling_base are removed by the upgrade like any record a module no longer
has (their tables held nothing: no connector added a system to them).
"""

from odoo.addons.rebilling_base.tools import moved_to_connector


def migrate(cr, version):
    if not version:
        return
    if moved_to_connector.connector_coming(cr):
        moved_to_connector.hand_over(cr)
    else:
        moved_to_connector.retire_extension_views(cr)
