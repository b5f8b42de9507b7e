from odoo import fields, models

from .account_move import NO_EMAIL_ADDRESS


class ResCompany(models.Model):
    """The notification email: run summaries and failed invoice emails, to one address."""

    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    rebilling_notification_email = fields.Char(
        "Notification Email", help="Receives the summary of each billing run."
    )

    # ------------------------------------------------------------ notification email
    def _rebilling_notification_partner(self):
        """The contact of the configuration's notification email (created once)."""
        self.ensure_one()
        email = self.rebilling_notification_email
        if not email:
            return self.env["res.partner"]
        Partner = self.env["res.partner"].sudo()
        partner = Partner.search(
            [("email", "=ilike", email), ("company_id", "in", [self.id, False])], limit=1
        )
        return partner or Partner.create(
            {"name": email, "email": email, "company_id": self.id, "type": "contact"}
        )

    def _rebilling_notify_email(self, record, subject, body):
        """Email the configuration's notification address about ``record``.

        The message is kept on ``record`` (an invoice or a billing run), so it
        is listed in the Email Summary with its delivery state.
        """
        self.ensure_one()
        partner = self._rebilling_notification_partner()
        if not partner:
            return self.env["mail.message"]
        return record.sudo().message_notify(
            partner_ids=partner.ids,
            subject=subject,
            body=body,
            email_from=self._rebilling_notification_from(),
            email_layout_xmlid="mail.mail_notification_light",
        )

    def _rebilling_notification_from(self):
        """Sender of the notification emails (the confirmed invoice sender when any)."""
        self.ensure_one()
        sender = self.rebilling_sender_email if self.rebilling_sender_confirmed else False
        return sender or self.email or self.env.user.email_formatted

    def _rebilling_notify_run_done(self, run):
        """Email the notification address that ``run`` finished, with its counts."""
        self.ensure_one()
        if run.dry_run:
            return self.env["mail.message"]  # a preview bills and emails nobody
        moves = run.invoice_ids
        no_address = moves.partner_id.filtered(lambda p: not p._rebilling_email())
        unwarned = moves.filtered(
            lambda m: m.partner_id in no_address and m.rebilling_send_error != NO_EMAIL_ADDRESS
        ).partner_id
        if unwarned:
            # Queuing warned about the others; these wait for a manual send or a review.
            run.message_post(body=moves._rebilling_no_address_message(unwarned))
        body = self.env._(
            "%(run)s finished: %(inv)s invoices, %(err)s errors, %(queued)s queued for email, "
            "%(failed)s failed to send.",
            run=run.name,
            inv=run.invoice_count,
            err=run.error_count,
            queued=len(moves.filtered(lambda m: m.rebilling_send_state == "queued")),
            failed=len(moves.filtered(lambda m: m.rebilling_send_state == "failed")),
        )
        if no_address:
            body += " " + moves._rebilling_no_address_message(no_address)
        return self._rebilling_notify_email(
            run, self.env._("Billing run %s finished", run.name), body
        )
