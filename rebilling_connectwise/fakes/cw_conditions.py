"""The ``conditions`` parser (with SQL Server LIKE) and the ``orderBy`` sort of the fake
ConnectWise's list endpoints."""

import re
from datetime import datetime

from .cw_schema import (
    _parse_dt,
    _resolve,
)


# ------------------------------------------------------------------ conditions
class ConditionError(ValueError):
    pass


_COND_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<date>\[[^\]]*\])
      | (?P<number>-?\d+(?:\.\d+)?(?![\w/]))
      | (?P<op>!=|<>|<=|>=|[=<>(),])
      | (?P<word>[A-Za-z_][\w/.]*)
    )""",
    re.VERBOSE,
)

_KEYWORDS = {"and", "or", "not", "contains", "like", "in", "true", "false", "null"}


def _tokenize(text):
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _COND_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ConditionError(f"Unexpected character at position {pos}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "date":
            parsed = _parse_dt(value[1:-1].strip())
            if parsed is None:
                raise ConditionError(f"Invalid date {value}")
            value = parsed
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        elif kind == "word" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        tokens.append((kind, value))
    return tokens


def _norm(left, right):
    if isinstance(right, datetime) or isinstance(left, datetime):
        return _parse_dt(left), _parse_dt(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(right, (int, float)) and not isinstance(left, (int, float)):
        try:
            return float(left), right
        except (TypeError, ValueError):
            return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    return left, right


def _compare(op, left, right):
    if op in ("=", "!="):
        if right is None or left is None:
            equal = left is None and right is None
        else:
            a, b = _norm(left, right)
            equal = a == b
        return equal if op == "=" else not equal
    if left is None or right is None:
        return False
    if op in ("contains", "like"):
        return sql_like(str(left), str(right), op)
    a, b = _norm(left, right)
    try:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:
        return False


def sql_like_regex(pattern):
    """The regex of a SQL Server LIKE ``pattern``.

    DOCUMENTED [Microsoft Learn "LIKE (Transact-SQL)", wildcard characters]:
    ``%`` any string of zero or more characters, ``_`` any single character,
    ``[a-f]``/``[abc]`` any single character of the range or set, ``[^...]``
    any single character not in it; a wildcard inside brackets is literal
    (``[%]``, ``[_]``, ``[[]``). ASSUMED: a ``[`` without its ``]`` is literal.
    """
    parts = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        elif char == "[" and pattern.find("]", pos + 2) != -1:
            end = pattern.find("]", pos + 2)
            body = pattern[pos + 1 : end]
            negate = body.startswith("^") and len(body) > 1
            if negate:
                body = body[1:]
            items = []
            i = 0
            while i < len(body):
                if i + 2 < len(body) and body[i + 1] == "-":
                    items.append(f"{re.escape(body[i])}-{re.escape(body[i + 2])}")
                    i += 3
                else:
                    items.append(re.escape(body[i]))
                    i += 1
            parts.append(("[^" if negate else "[") + "".join(items) + "]")
            pos = end
        else:
            parts.append(re.escape(char))
        pos += 1
    return "".join(parts)


def sql_like(text, value, op="like"):
    """Whether ``text`` matches the condition ``op`` (``like``/``contains``) ``value``.

    The server runs both as SQL Server LIKE, case-insensitive (the default
    collation; ASSUMED): ``like`` takes ``*`` as its wildcard (DOCUMENTED:
    ConnectWise Developer Guide, conditions, ``name like "Ac*"``) besides LIKE's
    own; ``contains`` is ``LIKE '%value%'`` and does not escape the value's
    wildcards, so ``[ ]``, ``%`` and ``_`` are wildcards there (ASSUMED: no
    ConnectWise page says how ``contains`` is run; client reports agree).
    """
    value = value.replace("*", "%") if op == "like" else f"%{value}%"
    regex = sql_like_regex(value.casefold())
    return re.fullmatch(regex, text.casefold(), re.DOTALL) is not None


class ConditionParser:
    """Parses ConnectWise ``conditions`` into a predicate ``f(record) -> bool``.

    Operators ``= != < <= > >= contains like in`` (each may follow ``not``),
    ``and``/``or``, parentheses, ``"strings"``, ``[dates]``, numbers,
    ``true``/``false``/``null`` and nested fields (``company/id``).
    ``known_fields`` (lower-case top-level names) rejects unknown fields.
    """

    def __init__(self, text, known_fields=None):
        self.tokens = _tokenize(text)
        self.pos = 0
        self.known = known_fields

    def parse(self):
        if not self.tokens:
            return lambda record: True
        node = self._or()
        if self.pos != len(self.tokens):
            raise ConditionError(f"Unexpected {self.tokens[self.pos][1]!r}")
        return node

    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def _accept(self, kind, value=None):
        token = self._peek()
        if token[0] == kind and (value is None or token[1] == value):
            self.pos += 1
            return True
        return False

    def _or(self):
        node = self._and()
        while self._accept("kw", "or"):
            left, right = node, self._and()
            node = lambda r, a=left, b=right: a(r) or b(r)  # noqa: E731
        return node

    def _and(self):
        node = self._factor()
        while self._accept("kw", "and"):
            left, right = node, self._factor()
            node = lambda r, a=left, b=right: a(r) and b(r)  # noqa: E731
        return node

    def _factor(self):
        if self._accept("op", "("):
            node = self._or()
            if not self._accept("op", ")"):
                raise ConditionError("Missing ')'")
            return node
        if self._accept("kw", "not"):
            inner = self._factor()
            return lambda r: not inner(r)
        return self._comparison()

    def _literal(self):
        kind, value = self._peek()
        self.pos += 1
        if kind in ("string", "number", "date"):
            return value
        if kind == "kw" and value in ("true", "false"):
            return value == "true"
        if kind == "kw" and value == "null":
            return None
        raise ConditionError(f"Expected a value, found {value!r}")

    def _comparison(self):
        kind, field_name = self._peek()
        if kind != "word":
            raise ConditionError(f"Expected a field name, found {field_name!r}")
        self.pos += 1
        top = field_name.split("/")[0].lower()
        if self.known is not None and top not in self.known:
            raise ConditionError(f"Unknown field {field_name}")
        negate = self._accept("kw", "not")
        kind, op = self._peek()
        self.pos += 1
        if kind == "op" and op in ("=", "!=", "<>", "<", "<=", ">", ">="):
            op = "!=" if op == "<>" else op
            value = self._literal()
            test = lambda r: _compare(op, _resolve(r, field_name), value)  # noqa: E731
        elif kind == "kw" and op in ("contains", "like"):
            value = self._literal()
            test = lambda r: _compare(op, _resolve(r, field_name), value)  # noqa: E731
        elif kind == "kw" and op == "in":
            if not self._accept("op", "("):
                raise ConditionError("Expected '(' after in")
            values = [self._literal()]
            while self._accept("op", ","):
                values.append(self._literal())
            if not self._accept("op", ")"):
                raise ConditionError("Missing ')' after the in list")

            def test(r):
                actual = _resolve(r, field_name)
                return any(_compare("=", actual, v) for v in values)

        else:
            raise ConditionError(f"Unknown operator {op!r}")
        if negate:
            return lambda r: not test(r)
        return test


def apply_order_by(items, order_by):
    """Sort by ``"name asc, _info/lastUpdated desc"``."""
    if not order_by:
        return items
    for part in reversed([p for p in order_by.split(",") if p.strip()]):
        words = part.split()
        path, descending = words[0], len(words) > 1 and words[1].lower() == "desc"

        def key(record, path=path):
            value = _resolve(record, path)
            if isinstance(value, str):
                value = _parse_dt(value) or value.casefold()
            return (value is None, value if value is not None else 0)

        try:
            items = sorted(items, key=key, reverse=descending)
        except TypeError:
            items = sorted(items, key=lambda r, k=key: str(k(r)), reverse=descending)
    return items
