"""The client actions that answer a button with a notification (one shape for all)."""

SOFT_RELOAD = {"type": "ir.actions.client", "tag": "soft_reload"}
CLOSE = {"type": "ir.actions.act_window_close"}


def notification(message, kind="success", sticky=None, next_action=None):
    """A ``display_notification`` client action.

    ``kind``: success, info, warning or danger; ``sticky``: stays until closed
    (Odoo's default when ``None``); ``next_action``: run after it, e.g.
    ``SOFT_RELOAD`` (reload the view) or ``CLOSE`` (close the dialog).
    """
    params = {"message": message, "type": kind}
    if sticky is not None:
        params["sticky"] = sticky
    if next_action:
        params["next"] = next_action
    return {"type": "ir.actions.client", "tag": "display_notification", "params": params}
