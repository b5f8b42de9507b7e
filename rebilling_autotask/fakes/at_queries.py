"""The query endpoints of the fake Autotask: ``query`` (GET/POST), ``query/next``,
``query/count`` and GET by id, with paging and ``IncludeFields``."""

import copy
import hashlib
import json
from urllib.parse import quote

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    find_key_ci,
    get_ci,
)

from .at_schema import (
    ENTITIES,
    MAX_RECORDS,
)


class AutotaskQueriesMixin:
    """Query endpoints of :class:`.FakeAutotask`."""

    # -------------------------------------------------------------- queries
    def _query_target(self, request):
        """``(entity key, extra predicate, url path of the query)`` of a query request."""
        if "parent" in request.params:
            child_key, pid = self._child_target(request)
            parent = ENTITIES[request.params["parent"].lower()]["name"]
            path = f"{parent}/{pid}/{request.params['child']}"
            return child_key, (lambda r: r.get("contractID") == pid), path
        key = self._entity_key(request.params["entity"])
        return key, None, ENTITIES[key]["name"]

    def _query_spec(self, request):
        if request.method == "GET":
            raw = request.arg("search", ignore_case=True)
            if raw is None:
                return {}
            try:
                spec = json.loads(raw)
            except ValueError:
                self._fail("The search parameter is not valid JSON.")
        else:
            spec = request.json
        if spec is None:
            return {}
        if not isinstance(spec, dict):
            self._fail("The query body must be a JSON object.")
        return spec

    def _run_query(self, key, spec, extra=None, after=0):
        filters = get_ci(spec, "Filter") or get_ci(spec, "filter") or []
        if not isinstance(filters, list):
            self._fail("Filter must be a list.")
        predicates = self._compile(key, filters)
        with self._state_lock:
            records = sorted(self._data[key].values(), key=lambda r: r["id"])
            matching = [
                copy.deepcopy(r)
                for r in records
                if r["id"] > after and (extra is None or extra(r)) and all(p(r) for p in predicates)
            ]
        return matching

    def _max_records(self, spec):
        value = get_ci(spec, "MaxRecords")
        if value is None:
            return MAX_RECORDS
        try:
            value = int(value)
        except (TypeError, ValueError):
            self._fail("MaxRecords must be a number.")
        if not 1 <= value <= MAX_RECORDS:
            self._fail(f"MaxRecords must be between 1 and {MAX_RECORDS}.")
        return value

    def _include(self, key, spec, records):
        fields = get_ci(spec, "IncludeFields")
        if not fields:
            return records
        result = []
        for record in records:
            slim = {"id": record["id"]}
            for name in fields:
                actual = find_key_ci(record, name)
                if actual is None:
                    self._fail(f"Unable to find {name} in the {ENTITIES[key]['name']} entity.")
                slim[actual] = record[actual]
            result.append(slim)
        return result

    @staticmethod
    def _filter_hash(spec):
        filters = get_ci(spec, "Filter") or []
        return hashlib.sha1(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]

    def _page_response(self, request, key, spec, extra, path, after, history):
        size = self._max_records(spec)
        matching = self._run_query(key, spec, extra, after)
        page = matching[:size]
        from_get = request.method == "GET"

        def link(token):
            base = self.page_link_base or self.api_url
            url = f"{base}/{path}/query/next?paging={quote(json.dumps(token))}"
            if from_get:
                url += f"&search={quote(json.dumps(spec))}"
            return url

        base_token = {"pageSize": size, "filter": self._filter_hash(spec)}
        next_url = prev_url = None
        if len(matching) > size:
            next_url = link({**base_token, "after": page[-1]["id"], "history": [*history, after]})
        if history:
            prev_url = link({**base_token, "after": history[-1], "history": history[:-1]})
        return {
            "items": self._include(key, spec, page),
            "pageDetails": {
                "count": len(page),
                "requestCount": size,
                "prevPageUrl": prev_url,
                "nextPageUrl": next_url,
            },
        }

    def _query(self, request):
        key, extra, path = self._query_target(request)
        spec = self._query_spec(request)
        return self._page_response(request, key, spec, extra, path, 0, [])

    def _query_next(self, request):
        if request.method == "GET" and request.arg("search", ignore_case=True) is None:
            return self._method_not_allowed(request, "POST")
        key, extra, path = self._query_target(request)
        try:
            token = json.loads(request.arg("paging", ignore_case=True) or "")
            after = int(token["after"])
            history = [int(h) for h in token.get("history", [])]
            size = int(token["pageSize"])
        except (ValueError, KeyError, TypeError):
            self._fail("The paging parameter is invalid.")
        spec = self._query_spec(request)
        if not spec:
            self._fail("The query of the next page must be sent again in the request body.")
        if self._filter_hash(spec) != token.get("filter"):
            self._fail("The query does not match the paging parameter.")
        spec = {**spec, "MaxRecords": size}
        return self._page_response(request, key, spec, extra, path, after, history)

    def _count(self, request):
        key, extra, _path = self._query_target(request)
        spec = self._query_spec(request)
        return {"queryCount": len(self._run_query(key, spec, extra))}

    def _get(self, request):
        key = self._entity_key(request.params["entity"])
        with self._state_lock:
            record = self._data[key].get(int(request.params["id"]))
        if record is None:
            return FakeResponse(404, {"item": None})
        return {"item": copy.deepcopy(record)}
