"""Numbers as callers dial them, beyond ``phonenumbers``: local dialling.

In Australia a geographic number can be dialled without its area code (8
digits, from a fixed line): it is then in the caller's area. ``LOCAL_DIALLING``
gives, per region, the length of such numbers and the E.164 area prefixes
(country code and area code) in which they are dialled so. Source: ACMA,
Numbering Plan 2015 (area codes 02, 03, 07, 08; 8-digit local numbers).
"""

from odoo.tools import SQL

# region: (digits of a local number, E.164 prefixes of the areas)
LOCAL_DIALLING = {
    "AU": (8, ("+612", "+613", "+617", "+618")),
}


def local_digits_sql(region, raw):
    """SQL of the digits of ``raw`` when they may be a number dialled locally, else NULL.

    Exactly the local length of digits (spaces allowed), not starting with 0 or
    1. ``None`` when the region has no local dialling. The import computes it
    once per distinct number (``rebilling.cdr.import._flag_numbers``).
    """
    rule = LOCAL_DIALLING.get(region)
    if not rule:
        return None
    length = rule[0]
    digits = SQL("replace(%s, ' ', '')", raw)
    # The cheap test of the first character rules out most numbers (0..., +...)
    # before any text is copied.
    return SQL(
        """CASE WHEN left(%(raw)s, 1) IN ('2', '3', '4', '5', '6', '7', '8', '9')
                     AND length(%(raw)s) BETWEEN %(length)s AND %(length)s + 3
                     AND length(%(digits)s) = %(length)s
                     AND translate(%(digits)s, '0123456789', '') = ''
                THEN %(digits)s END""",
        raw=raw,
        digits=digits,
        length=length,
    )


def local_dialling_sql(region, local_digits, caller_e164, called_e164):
    """SQL of the called number in E.164, local dialling taken into account.

    ``local_digits``: SQL of the digits of a called number dialled locally (see
    ``local_digits_sql``), NULL for the others; ``caller_e164``/``called_e164``:
    SQL of the normalized caller and called numbers. A number dialled locally
    from a number of an area is in that area. Otherwise ``called_e164``.
    """
    rule = LOCAL_DIALLING.get(region)
    if not rule:
        return called_e164
    areas = rule[1]
    prefix_len = len(areas[0])
    return SQL(
        """CASE WHEN %(digits)s IS NOT NULL AND left(%(caller)s, %(plen)s) = ANY(%(areas)s)
                THEN left(%(caller)s, %(plen)s) || %(digits)s
                ELSE %(called)s END""",
        digits=local_digits,
        caller=caller_e164,
        plen=prefix_len,
        areas=list(areas),
        called=called_e164,
    )
