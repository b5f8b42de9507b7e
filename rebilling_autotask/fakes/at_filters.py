"""The query filter parser of the fake Autotask: the ``filter`` items (``op``, ``field``,
``value``, ``udf``, nested ``and``/``or``) compiled into predicates on records."""

from odoo.addons.rebilling_base.fakes.base import (
    get_ci,
)

from .at_schema import (
    ENTITIES,
    _parse_dt,
)

FILTER_OPS = {
    "eq",
    "noteq",
    "gt",
    "gte",
    "lt",
    "lte",
    "beginswith",
    "endswith",
    "contains",
    "exist",
    "notexist",
    "in",
    "notin",
}


def _norm_pair(left, right):
    """Make a record value and a filter value comparable."""
    if isinstance(left, bool) or isinstance(right, bool):

        def as_bool(v):
            if isinstance(v, str):
                return v.strip().lower() == "true"
            return bool(v) if v is not None else None

        return as_bool(left), as_bool(right)
    left_dt, right_dt = _parse_dt(left), _parse_dt(right)
    if left_dt and right_dt:
        return left_dt, right_dt
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            return str(left), str(right)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    return left, right


def _match_op(op, value, target):
    if op == "exist":
        return value is not None and value != ""
    if op == "notexist":
        return value is None or value == ""
    if op in ("in", "notin"):
        targets = target if isinstance(target, list) else [target]
        found = False
        for candidate in targets:
            if value is not None and candidate is not None:
                a, b = _norm_pair(value, candidate)
                found = found or a == b
        return found if op == "in" else not found
    if op == "eq":
        if value is None or target is None:
            return value is None and target is None
        a, b = _norm_pair(value, target)
        return a == b
    if op == "noteq":
        return not _match_op("eq", value, target)
    if value is None or target is None:
        return False
    if op in ("beginswith", "endswith", "contains"):
        text, part = str(value).casefold(), str(target).casefold()
        return {
            "beginswith": text.startswith(part),
            "endswith": text.endswith(part),
            "contains": part in text,
        }[op]
    a, b = _norm_pair(value, target)
    try:
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    except TypeError:
        return False


class AutotaskFiltersMixin:
    """Filter compilation of :class:`.FakeAutotask`."""

    def _compile(self, key, items):
        spec = ENTITIES[key]
        names = {n.lower(): n for n in spec["fields"].split()}
        predicates = []
        for item in items:
            if not isinstance(item, dict):
                self._fail("Each filter must be an object.")
            op = str(get_ci(item, "op", "")).lower()
            if op in ("and", "or"):
                subs = get_ci(item, "items") or []
                if not isinstance(subs, list) or not subs:
                    self._fail(f"The '{op}' filter needs items.")
                compiled = self._compile(key, subs)
                if op == "and":
                    predicates.append(lambda r, c=compiled: all(p(r) for p in c))
                else:
                    predicates.append(lambda r, c=compiled: any(p(r) for p in c))
                continue
            if op not in FILTER_OPS:
                self._fail(f"Unknown filter operation '{op}'.")
            field_name = get_ci(item, "field")
            if not field_name:
                self._fail("A filter needs a field.")
            value = get_ci(item, "value")
            if op in ("in", "notin") and not isinstance(value, list):
                self._fail(f"The '{op}' filter needs a list value.")
            if op not in ("exist", "notexist", "in", "notin") and value is None:
                self._fail(f"The '{op}' filter on {field_name} needs a value.")
            if get_ci(item, "udf"):
                udf_name = str(field_name).lower()

                def getter(record, udf=udf_name):
                    for entry in record.get("userDefinedFields") or []:
                        if str(entry.get("name", "")).lower() == udf:
                            return entry.get("value")
                    return None

            else:
                actual = names.get(str(field_name).lower())
                if actual is None:
                    self._fail(f"Unable to find {field_name} in the {spec['name']} entity.")

                def getter(record, actual=actual):
                    return record.get(actual)

            predicates.append(lambda r, g=getter, o=op, v=value: _match_op(o, g(r), v))
        return predicates
