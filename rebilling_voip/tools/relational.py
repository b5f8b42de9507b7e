"""Relational fields for tables written in bulk by SQL."""

from odoo import fields


class Many2oneNoForeignKey(fields.Many2one):
    """A ``Many2one`` whose column has no database foreign key.

    For columns that set-based SQL writes on millions of rows: PostgreSQL checks
    a foreign key with a lookup and a row lock per row written. The model keeps
    the references sound itself (``ondelete`` hooks on the referenced models).
    """

    def update_db_foreign_key(self, model, column):
        return
