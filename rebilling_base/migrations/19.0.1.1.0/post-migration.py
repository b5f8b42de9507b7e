from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    """Rebilling numbers from a PostgreSQL sequence, and the journal that holds them.

    The sequences become 'standard' (taking numbers locks no row). A company
    whose rebilling invoices sit in a journal of Odoo's keeps that journal as
    its rebilling journal, so Odoo's numbering there follows the rebilling one.
    """
    env = api.Environment(cr, SUPERUSER_ID, {})
    companies = env["res.company"].search([("rebilling_sequence_id", "!=", False)])
    companies._rebilling_sync_sequence()
    for company in companies.filtered(lambda c: not c.rebilling_journal_id):
        last = env["account.move"].search(
            [("company_id", "=", company.id), ("rebilling_period", "!=", False)],
            order="id desc",
            limit=1,
        )
        if last:
            company.rebilling_journal_id = last.journal_id
    # The invoice template (noupdate) takes its From header from the company,
    # built with email.utils.formataddr.
    template = env.ref("rebilling_base.mail_template_rebilling_invoice", raise_if_not_found=False)
    if template:
        template.email_from = "{{ object.company_id.rebilling_email_from }}"
