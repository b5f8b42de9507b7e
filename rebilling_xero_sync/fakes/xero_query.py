"""The ``where`` filter parser and the ``order`` sort of the fake Xero's GET endpoints."""

import re
import uuid
from datetime import UTC, date, datetime

from odoo.addons.rebilling_base.fakes.base import (
    get_ci,
)

from .xero_common import (
    parse_ms_date,
)


# ------------------------------------------------------------------ where / order
class WhereError(ValueError):
    pass


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|>=|<=|&&|\|\||[<>!().,=])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokenize(text):
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise WhereError(f"Unexpected character at {pos} in where clause")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        tokens.append((kind, value))
    return tokens


def _lookup(record, path):
    value = record
    for part in path:
        if isinstance(value, dict):
            value = get_ci(value, part)
        else:
            return None
    return value


def _coerce_pair(left, right):
    """Make two where operands comparable (dates, GUIDs, numbers)."""
    if isinstance(left, date) or isinstance(right, date):

        def as_dt(value):
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=UTC)
            if isinstance(value, date):
                return datetime(value.year, value.month, value.day, tzinfo=UTC)
            parsed = parse_ms_date(value)
            if parsed:
                return parsed
            try:
                return as_dt(datetime.fromisoformat(str(value)))
            except ValueError:
                return None

        return as_dt(left), as_dt(right)
    if isinstance(left, uuid.UUID) or isinstance(right, uuid.UUID):
        return str(left).lower(), str(right).lower()
    return left, right


def _compare(op, left, right):
    left, right = _coerce_pair(left, right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    except TypeError:
        return False


class WhereParser:
    """Parses Xero's C#-like ``where`` into a predicate ``f(record) -> bool``.

    Supports ``== != < <= > >=``, ``AND``/``&&``, ``OR``/``||``, ``NOT``/``!``,
    parentheses, strings, numbers, ``true``/``false``/``null``,
    ``DateTime(y, m, d[, h, mi, s])``, ``Guid("...")``, nested fields (``Contact.ContactID``)
    and the methods ``Contains``, ``StartsWith``, ``EndsWith``, ``ToLower``, ``ToUpper``.
    """

    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.pos = 0

    def parse(self):
        if not self.tokens:
            return lambda record: True
        node = self._or()
        if self.pos != len(self.tokens):
            raise WhereError("Unexpected token in where clause")
        return node

    # token helpers
    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def _accept(self, *values):
        kind, value = self._peek()
        if kind in ("op", "name") and isinstance(value, str) and value.upper() in values:
            self.pos += 1
            return True
        return False

    def _expect(self, value):
        if not self._accept(value):
            raise WhereError(f"Expected {value!r} in where clause")

    # grammar
    def _or(self):
        node = self._and()
        while self._accept("OR", "||"):
            left, right = node, self._and()
            node = lambda r, a=left, b=right: a(r) or b(r)  # noqa: E731
        return node

    def _and(self):
        node = self._not()
        while self._accept("AND", "&&"):
            left, right = node, self._not()
            node = lambda r, a=left, b=right: a(r) and b(r)  # noqa: E731
        return node

    def _not(self):
        if self._accept("NOT", "!"):
            inner = self._not()
            return lambda r: not inner(r)
        return self._comparison()

    def _comparison(self):
        if self._accept("("):
            node = self._or()
            self._expect(")")
            return node
        left = self._operand()
        kind, value = self._peek()
        if kind == "op" and value in ("==", "!=", "<", "<=", ">", ">=", "="):
            self.pos += 1
            op = "==" if value == "=" else value
            right = self._operand()
            return lambda r: _compare(op, left(r), right(r))
        return lambda r: bool(left(r))

    def _operand(self):
        kind, value = self._peek()
        if kind is None:
            raise WhereError("Unexpected end of where clause")
        self.pos += 1
        if kind in ("string", "number"):
            return lambda r: value
        if kind != "name":
            raise WhereError(f"Unexpected {value!r} in where clause")
        upper = value.upper()
        if upper in ("TRUE", "FALSE"):
            flag = upper == "TRUE"
            return lambda r: flag
        if upper == "NULL":
            return lambda r: None
        if upper == "DATETIME" and self._peek() == ("op", "("):
            args = self._args()
            try:
                literal = datetime(*[int(a) for a in args], tzinfo=UTC)
            except (TypeError, ValueError):
                raise WhereError("Invalid DateTime() in where clause")
            return lambda r: literal
        if upper == "GUID" and self._peek() == ("op", "("):
            args = self._args()
            try:
                literal = uuid.UUID(str(args[0]))
            except (IndexError, ValueError):
                raise WhereError("Invalid Guid() in where clause")
            return lambda r: literal
        path = [value]
        calls = []
        while self._accept("."):
            kind, name = self._peek()
            if kind != "name":
                raise WhereError("Expected a name after '.' in where clause")
            self.pos += 1
            if self._peek() == ("op", "("):
                calls.append((name.upper(), self._args()))
            elif calls:
                raise WhereError("Member access after a method call is not supported")
            else:
                path.append(name)

        def evaluate(record):
            current = _lookup(record, path)
            for method, args in calls:
                current = _call(method, current, args)
            return current

        return evaluate

    def _args(self):
        self._expect("(")
        args = []
        if self._accept(")"):
            return args
        while True:
            kind, value = self._peek()
            if kind not in ("string", "number"):
                raise WhereError("Only literal arguments are supported in where clause")
            self.pos += 1
            args.append(value)
            if self._accept(")"):
                return args
            self._expect(",")


def _call(method, value, args):
    if value is None:
        return None if method in ("TOLOWER", "TOUPPER") else False
    text = str(value)
    if method == "TOLOWER":
        return text.lower()
    if method == "TOUPPER":
        return text.upper()
    if method in ("CONTAINS", "STARTSWITH", "ENDSWITH", "EQUALS"):
        if len(args) != 1:
            raise WhereError(f"{method} takes one argument")
        arg = str(args[0])
        return {
            "CONTAINS": arg in text,
            "STARTSWITH": text.startswith(arg),
            "ENDSWITH": text.endswith(arg),
            "EQUALS": text == arg,
        }[method]
    raise WhereError(f"Method {method} is not supported in where clause")


def apply_order(items, order):
    """Sort by ``order`` like ``"Name DESC, UpdatedDateUTC"``."""
    if not order:
        return items
    keys = []
    for part in order.split(","):
        words = part.split()
        if not words:
            continue
        keys.append((words[0].split("."), len(words) > 1 and words[1].upper() == "DESC"))
    for path, descending in reversed(keys):

        def sort_key(record, path=path):
            value = _lookup(record, path)
            dt = parse_ms_date(value) if isinstance(value, str) else None
            value = dt if dt else value
            if isinstance(value, str):
                value = value.lower()
            return (value is None, value if value is not None else 0)

        try:
            items = sorted(items, key=sort_key, reverse=descending)
        except TypeError:
            items = sorted(items, key=lambda r, k=sort_key: str(k(r)), reverse=descending)
    return items
