"""SQL expressions reading the text fields of a CDR file: dates, durations, costs.

Plain builders of ``odoo.tools.SQL`` (no model): ``rebilling.cdr.import`` types
its staged rows with them, one expression per field, built for the format so
that a layout it does not use costs nothing per row. No regular expressions
(PostgreSQL's are slow): digits are checked with ``translate`` and texts are
read at fixed positions or split on their separators.
"""

from odoo.tools import SQL


def is_int(expr, lo, hi):
    """SQL: ``expr`` is lo to hi digits (no regular expressions: PostgreSQL's are slow)."""
    return SQL(
        "(length(%s) BETWEEN %s AND %s AND translate(%s, '0123456789', '') = '')",
        expr,
        lo,
        hi,
        expr,
    )


def is_dec(expr, maxlen=12):
    """SQL: ``expr`` is an unsigned decimal number, digits with at most one dot."""
    return SQL(
        "(length(%(e)s) BETWEEN 1 AND %(n)s AND %(e)s <> '.' "
        "AND translate(%(e)s, '0123456789.', '') = '' "
        "AND length(%(e)s) - length(replace(%(e)s, '.', '')) <= 1)",
        e=expr,
        n=maxlen,
    )


def days_in_month(y, mo):
    return SQL(
        "CASE WHEN %(mo)s IN (4, 6, 9, 11) THEN 30 WHEN %(mo)s = 2 THEN "
        "CASE WHEN (mod(%(y)s, 4) = 0 AND mod(%(y)s, 100) <> 0) OR mod(%(y)s, 400) = 0 "
        "THEN 29 ELSE 28 END ELSE 31 END",
        y=y,
        mo=mo,
    )


def make_start(ok, y, mo, d, h, mi, sec, tz):
    """SQL of the start: NULL unless ``ok`` (text checks) and the values are in range.

    ``ok`` is tested first (CASE keeps the order): the casts in the values only
    run on text known to be digits.
    """
    ranges = SQL(
        "%(mo)s BETWEEN 1 AND 12 AND %(d)s BETWEEN 1 AND %(days)s AND %(h)s < 24 "
        "AND %(mi)s < 60 AND %(sec)s < 60",
        mo=mo,
        d=d,
        h=h,
        mi=mi,
        sec=sec,
        days=days_in_month(y, mo),
    )
    local = to_utc(SQL("make_timestamp(%s, %s, %s, %s, %s, %s::float8)", y, mo, d, h, mi, sec), tz)
    return SQL("CASE WHEN %s THEN CASE WHEN %s THEN %s END END", ok, ranges, local)


def to_utc(local, tz):
    """SQL of the timestamp ``local`` (in the zone ``tz``) in UTC."""
    if tz and tz != "UTC":
        return SQL("((%s) AT TIME ZONE %s) AT TIME ZONE 'UTC'", local, tz)
    return local


def date_sql(date_format, tz, fast=False, raw="start_raw", prefix=""):
    """([select list of each query level], SQL of the UTC start) from ``start_raw``.

    ``raw``: another column in the same format (answer, release times), its
    level columns named with ``prefix``. One builder per date layout (``DATE_SQL``):
    a file pays only for its own.

    Each level is computed once per row and used by the next (no regular
    expressions: PostgreSQL's are slow). ``fast``: see ``iso_date_sql``.
    """
    return DATE_SQL[date_format](date_format, tz, fast, raw, prefix)


def _raw_sql(raw):
    """``sql(text, *args)``: SQL of ``text`` with ``{raw}`` standing for the column ``raw``."""

    def sql(text, *args):
        # ``raw`` is one of our column names (never user input).
        return SQL(text.replace("{raw}", raw), *args)

    return sql


def epoch_date_sql(_date_format, _tz, _fast, raw, _prefix):
    """Unix timestamps (seconds, decimals cut): always UTC."""
    sql = _raw_sql(raw)
    start = sql(
        "CASE WHEN %s THEN to_timestamp(floor({raw}::numeric)::float8) AT TIME ZONE 'UTC' END",
        is_dec(SQL.identifier(raw), 14),
    )
    return [], start


def iso_date_sql(_date_format, tz, fast, raw, _prefix):
    """ISO dates, T and Z allowed, seconds optional: recognized by their shape.

    The shape (digits turned to 9s) is computed once (the operand of a simple
    CASE), then only text comparisons at fixed positions and PostgreSQL's own
    parser are needed.

    ``fast``: dates of the usual shape ``YYYY-MM-DD HH:MM:SS`` skip the digit
    check (``translate``, the costliest part of the typing): PostgreSQL reads
    them, and they count only if PostgreSQL writes the same text back (so not a
    24th hour or a 60th second, which it would carry over). A letter or a 30
    February makes PostgreSQL's parser raise: the caller types again without
    ``fast``.
    """
    sql = _raw_sql(raw)
    ok = sql(
        """
        CASE WHEN CASE translate({raw}, '0123456789', '9999999999')
             WHEN '9999-99-99 99:99:99' THEN true WHEN '9999-99-99T99:99:99' THEN true
             WHEN '9999-99-99 99:99:99Z' THEN true WHEN '9999-99-99T99:99:99Z' THEN true
             WHEN '9999-99-99 99:99' THEN true WHEN '9999-99-99T99:99' THEN true
             ELSE translate(substr({raw}, 1, 20), '0123456789', '9999999999')
                      IN ('9999-99-99 99:99:99.', '9999-99-99T99:99:99.')
                  AND length({raw}) > 20
                  AND translate(substr({raw}, 21), '0123456789', '') IN ('', 'Z')
             END
        THEN substr({raw}, 1, 4) BETWEEN '1900' AND '2999'
             AND substr({raw}, 6, 2) BETWEEN '01' AND '12'
             AND substr({raw}, 9, 2) BETWEEN '01' AND '31'
             AND substr({raw}, 12, 2) <= '23'
             AND substr({raw}, 15, 2) <= '59'
             AND (length({raw}) < 19 OR substr({raw}, 18, 2) <= '59')
             AND (substr({raw}, 9, 2) <= '28' OR substr({raw}, 9, 2)::int <= %s)
        ELSE false END
        """,
        days_in_month(sql("substr({raw}, 1, 4)::int"), sql("substr({raw}, 6, 2)::int")),
    )
    start = SQL("CASE WHEN %s THEN %s END", ok, to_utc(sql("left({raw}, 19)::timestamp"), tz))
    if fast:
        usual = sql(
            "{raw} LIKE '____-__-__ __:__:__' AND {raw} >= '1900' "
            "AND {raw} < '3' AND {raw}::timestamp::text = {raw}"
        )
        read = to_utc(sql("{raw}::timestamp"), tz)
        start = SQL("CASE WHEN %s THEN %s ELSE %s END", usual, read, start)
    return [], start


def compact_date_sql(_date_format, tz, _fast, raw, _prefix):
    """yyyymmddhhmmss, optionally .fff: digits at fixed positions."""
    sql = _raw_sql(raw)
    ok = sql(
        "(length({raw}) = 14 OR (length({raw}) BETWEEN 16 AND 20 "
        "AND substr({raw}, 15, 1) = '.')) "
        "AND translate(left({raw}, 14) || substr({raw}, 16), '0123456789', '') = '' "
        "AND left({raw}, 4) BETWEEN '1900' AND '2999'"
    )

    def part(first, length):
        return sql("substr({raw}, %s, %s)::int", first, length)

    start = make_start(
        ok, part(1, 4), part(5, 2), part(7, 2), part(9, 2), part(11, 2), part(13, 2), tz
    )
    return [], start


def split_date_sql(date_format, tz, _fast, raw, prefix):
    """Day-first, month-first and year-first dates with /: split on their separators.

    Three query levels: the stamp (T and Z dropped), its date and time parts,
    then each number; the level columns are named with ``prefix``.
    """
    sep = "/"
    order = {"dmy": ("d", "mo", "y"), "mdy": ("mo", "d", "y"), "ymd": ("y", "mo", "d")}[date_format]

    def col(name):
        return SQL.identifier(prefix + name)

    levels = [
        SQL("replace(rtrim(%s, 'Z'), 'T', ' ') AS %s", SQL.identifier(raw), col("stamp")),
        SQL(
            "split_part(%(stamp)s, ' ', 1) AS %(date)s, split_part(%(stamp)s, ' ', 2) AS %(time)s, "
            "split_part(%(stamp)s, ' ', 3) AS %(rest)s",
            stamp=col("stamp"),
            date=col("date_part"),
            time=col("time_part"),
            rest=col("rest"),
        ),
        SQL(", ").join(
            [
                SQL("split_part(%s, %s, %s) AS %s", col("date_part"), sep, i + 1, col(name))
                for i, name in enumerate(order)
            ]
            + [
                SQL("split_part(%s, ':', %s) AS %s", col("time_part"), i + 1, col(name))
                for i, name in enumerate(("h", "mi", "sec"))
            ]
            + [
                SQL(
                    "split_part(%(date)s, %(sep)s, 4) = '' "
                    "AND split_part(%(time)s, ':', 4) = '' AND %(rest)s = '' AS %(ok)s",
                    date=col("date_part"),
                    time=col("time_part"),
                    rest=col("rest"),
                    sep=sep,
                    ok=col("shape_ok"),
                )
            ]
        ),
    ]
    ok = SQL(" AND ").join(
        [
            col("shape_ok"),
            is_int(col("y"), 4, 4),
            is_int(col("mo"), 1, 2),
            is_int(col("d"), 1, 2),
            is_int(col("h"), 1, 2),
            is_int(col("mi"), 1, 2),
            SQL("(%s = '' OR %s)", col("sec"), is_int(col("sec"), 1, 2)),
        ]
    )
    sec = SQL("CASE WHEN %s = '' THEN 0 ELSE %s::int END", col("sec"), col("sec"))

    def num(name):
        return SQL("%s::int", col(name))

    start = make_start(ok, num("y"), num("mo"), num("d"), num("h"), num("mi"), sec, tz)
    return levels, start


# Builder of each date layout of ``rebilling.cdr.format`` (``date_format``).
DATE_SQL = {
    "epoch": epoch_date_sql,
    "iso": iso_date_sql,
    "compact": compact_date_sql,
    "dmy": split_date_sql,
    "mdy": split_date_sql,
    "ymd": split_date_sql,
}


def start_and_duration_sql(date_format, tz, duration_format, answer_column=False, fast=False):
    """``([select list of each query level], SQL of the start, SQL of the duration)``.

    Of a row ``d`` of text fields ``start_raw``, ``duration_raw``, ``answer_raw``
    and ``release_raw`` in the format's ``date_format`` and ``duration_format``
    (see ``rebilling.cdr.format``); ``answer_column``: the format has an answer
    time column (else a call is answered at its start). ``fast``: see
    ``date_sql``. The levels are subqueries around the row (see ``date_sql``).
    """
    levels, start = date_sql(date_format, tz, fast=fast)
    if duration_format == "times":
        release_levels, release = date_sql(date_format, tz, raw="release_raw", prefix="r_")
        levels += release_levels
        answer = start
        if answer_column:
            answer_levels, answer = date_sql(date_format, tz, raw="answer_raw", prefix="a_")
            levels += answer_levels
        return levels, start, answered_seconds_sql(SQL("d.answer_raw"), answer, release)
    if duration_format == "hms":
        return levels, start, hms_seconds_sql(SQL("d.duration_raw"))
    return levels, start, seconds_sql(SQL("d.duration_raw"))


def seconds_sql(raw):
    """SQL of a duration in seconds (decimals rounded up), NULL when ``raw`` is none."""
    return SQL(
        """CASE WHEN length(%(raw)s) <= 9 AND translate(%(raw)s, '0123456789', '') = ''
                THEN %(raw)s::int
                WHEN %(dec)s THEN ceil(%(raw)s::numeric)::int END""",
        raw=raw,
        dec=is_dec(raw),
    )


def hms_seconds_sql(raw):
    """SQL of a duration written hh:mm:ss or mm:ss in seconds, NULL when ``raw`` is none."""
    part = [SQL("split_part(%s, ':', %s)", raw, i) for i in (1, 2, 3, 4)]
    return SQL(
        """CASE WHEN length(%(raw)s) <= 12 AND %(p2)s <> '' AND %(p4)s = ''
                    AND translate(%(raw)s, '0123456789:', '') = ''
                    AND %(p1)s <> '' AND right(%(raw)s, 1) <> ':'
                    AND strpos(%(raw)s, '::') = 0
                THEN CASE WHEN %(p3)s = '' THEN %(p1)s::int * 60 + %(p2)s::int
                          ELSE %(p1)s::int * 3600 + %(p2)s::int * 60 + %(p3)s::int END
           END""",
        raw=raw,
        p1=part[0],
        p2=part[1],
        p3=part[2],
        p4=part[3],
    )


def answered_seconds_sql(answer_raw, answer, release):
    """SQL of the seconds from ``answer`` to ``release`` (timestamps).

    0 when the call was not answered (no ``answer_raw`` text).
    """
    return SQL(
        """CASE WHEN %(answer_raw)s IS NULL THEN CASE WHEN %(release)s IS NOT NULL THEN 0 END
                ELSE GREATEST(0, ceil(extract(epoch FROM %(release)s - %(answer)s)))::int
           END""",
        answer_raw=answer_raw,
        release=release,
        answer=answer,
    )


def cost_sql(raw):
    """SQL of a cost: 0 without one, NULL when ``raw`` is no plain decimal number.

    Digits with at most a leading minus and one dot, checked with one translate.
    """
    return SQL(
        """CASE WHEN %(raw)s IS NULL THEN 0::numeric
                WHEN length(%(raw)s) <= 16
                     AND CASE translate(%(raw)s, '0123456789', '')
                             WHEN '' THEN true
                             WHEN '.' THEN %(raw)s <> '.'
                             WHEN '-' THEN left(%(raw)s, 1) = '-' AND %(raw)s <> '-'
                             WHEN '-.' THEN left(%(raw)s, 1) = '-' AND length(%(raw)s) > 2
                             ELSE false END
                THEN %(raw)s::numeric END""",
        raw=raw,
    )
