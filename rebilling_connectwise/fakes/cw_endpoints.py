"""The REST endpoints of the fake ConnectWise: company info, lists (conditions, paging,
fields), count, item GET/PUT/PATCH/DELETE and POST."""

import copy
from urllib.parse import urlencode

from odoo.addons.rebilling_base.fakes.base import FakeResponse, HttpError, get_ci

from .cw_conditions import (
    ConditionError,
    ConditionParser,
    apply_order_by,
)
from .cw_schema import (
    DEFAULT_PAGE_SIZE,
    ENTITIES,
    MAX_PAGE_SIZE,
    _resolve,
)


class ConnectWiseEndpointsMixin:
    """REST endpoints of :class:`.FakeConnectWise`."""

    # -------------------------------------------------------------- endpoints
    def _company_info(self, request):
        if request.params["company"].lower() != self.company_id.lower():
            return FakeResponse(404, self._error_body(404, "Company not found"))
        return {
            "CompanyName": "Fake MSP",
            "Codebase": self.codebase,
            "VersionCode": "v2025.1",
            "VersionNumber": "v4.6.99999",
            "CompanyID": self.company_id,
            "IsCloud": True,
            "SiteUrl": self.base_url,
        }

    def _system_info(self, request):
        return {"version": "v2025.1.99999", "isCloud": True, "serverTimeZone": "UTC"}

    def _scope(self, request, key):
        """Records of ``key`` visible under the URL (additions: those of one agreement)."""
        if key != "additions":
            return self._data[key]
        agreement_id = int(request.params["agreement"])
        if agreement_id not in self._data["agreements"]:
            self._not_found_error(f"Agreement with id {agreement_id}")
        return {
            rid: r for rid, r in self._data[key].items() if r.get("agreementId") == agreement_id
        }

    def _filtered(self, request, key):
        known = {f.lower() for f in ENTITIES[key]["fields"].split()}
        conditions = request.arg("conditions", ignore_case=True)
        try:
            predicate = ConditionParser(conditions or "", known).parse()
        except ConditionError as exc:
            raise HttpError(
                400,
                {"code": "InvalidObject", "message": f"conditions is invalid: {exc}"},
            )
        with self._state_lock:
            items = [copy.deepcopy(r) for r in self._scope(request, key).values() if predicate(r)]
        items.sort(key=lambda r: r["id"])
        return items

    def _count(self, request, key):
        return {"count": len(self._filtered(request, key))}

    def _collection(self, request, key):
        if request.method == "POST":
            return self._create(request, key)
        items = apply_order_by(
            self._filtered(request, key), request.arg("orderBy", ignore_case=True)
        )
        try:
            size = int(request.arg("pageSize", DEFAULT_PAGE_SIZE, ignore_case=True))
            page = int(request.arg("page", 1, ignore_case=True))
            page_id = int(request.arg("pageId", 0, ignore_case=True))
        except ValueError:
            raise HttpError(400, {"code": "InvalidObject", "message": "Invalid paging values"})
        size = min(max(size, 1), MAX_PAGE_SIZE)
        page = max(page, 1)
        forward = (request.header("pagination-type") or "").lower() == "forward-only"
        links = []
        if forward:
            remaining = [r for r in sorted(items, key=lambda r: r["id"]) if r["id"] > page_id]
            chunk = remaining[:size]
            if len(remaining) > size:
                links.append((self._page_url(request, size, pageId=chunk[-1]["id"]), "next"))
        else:
            last = max(1, -(-len(items) // size))
            chunk = items[(page - 1) * size : page * size]
            if last > 1:
                if page > 1:
                    links.append((self._page_url(request, size, page=1), "first"))
                    links.append((self._page_url(request, size, page=min(page - 1, last)), "prev"))
                if page < last:
                    links.append((self._page_url(request, size, page=page + 1), "next"))
                links.append((self._page_url(request, size, page=last), "last"))
        chunk = self._select_fields(request, chunk)
        headers = {}
        if links:
            headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)
        return FakeResponse(200, chunk, headers)

    def _page_url(self, request, size, **paging):
        params = [
            (k, v)
            for k, values in request.query.items()
            if k.lower() not in ("page", "pagesize", "pageid")
            for v in values
        ]
        params.append(("pageSize", size))
        params.extend(paging.items())
        return f"{self.base_url}{request.path}?{urlencode(params)}"

    def _select_fields(self, request, items):
        fields = request.arg("fields", ignore_case=True)
        if not fields:
            return items
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        result = []
        for record in items:
            slim = {}
            for path in wanted:
                value = _resolve(record, path)
                if value is None:
                    continue
                target = slim
                parts = path.split("/")
                for part in parts[:-1]:
                    target = target.setdefault(part, {})
                target[parts[-1]] = value
            result.append(slim)
        return result

    def _item(self, request, key):
        record_id = int(request.params["id"])
        with self._state_lock:
            scope = self._scope(request, key)
            existing = scope.get(record_id)
            if existing is None:
                self._not_found_error(f"{ENTITIES[key]['resource']} with id {record_id}")
            if request.method == "GET":
                return copy.deepcopy(existing)
            if request.method == "DELETE":
                self._delete(key, existing)
                return FakeResponse(204)
            body = request.json
            if request.method == "PATCH":
                record = self._apply_patch(key, copy.deepcopy(existing), body)
            else:
                if not isinstance(body, dict):
                    self._invalid(key, [("InvalidObject", "A JSON object is required.", None)])
                if body.get("id") not in (None, record_id):
                    self._invalid(key, [("InvalidObject", "The id does not match the URL.", "id")])
                record = body
            agreement_id = existing.get("agreementId")
            built = self._build(
                key, record, existing=existing, agreement_id=agreement_id, replace=True
            )
            built["id"] = record_id
            self._data[key][record_id] = built
            return copy.deepcopy(built)

    def _delete(self, key, record):
        if key == "catalog":
            for addition in self._data["additions"].values():
                if (addition.get("product") or {}).get("id") == record["id"]:
                    raise HttpError(
                        409,
                        {
                            "code": "Conflict",
                            "message": "This catalog item is in use by an agreement addition.",
                        },
                    )
        if key == "agreements":
            for rid in [
                rid
                for rid, a in self._data["additions"].items()
                if a["agreementId"] == record["id"]
            ]:
                del self._data["additions"][rid]
        del self._data[key][record["id"]]

    def _apply_patch(self, key, record, operations):
        if not isinstance(operations, list):
            self._invalid(key, [("InvalidObject", "PATCH takes a JSON-Patch array.", None)])
        for operation in operations:
            if not isinstance(operation, dict):
                self._invalid(key, [("InvalidObject", "Invalid patch operation.", None)])
            op = str(get_ci(operation, "op", "")).lower()
            path = str(get_ci(operation, "path", "")).strip("/")
            if not path or op not in ("replace", "add", "remove"):
                self._invalid(key, [("InvalidObject", f"Invalid patch operation {op!r}.", path)])
            parts = path.split("/")
            if parts[0].lower() not in {f.lower() for f in ENTITIES[key]["fields"].split()}:
                self._invalid(key, [("InvalidField", f"Unknown field {path}.", path)])
            target = record
            for part in parts[:-1]:
                nxt = get_ci(target, part)
                if not isinstance(nxt, dict):
                    nxt = {}
                    target[part] = nxt
                target = nxt
            actual = next((k for k in target if k.lower() == parts[-1].lower()), parts[-1])
            if op == "remove":
                target.pop(actual, None)
            else:
                target[actual] = get_ci(operation, "value")
        return record

    def _create(self, request, key):
        body = request.json
        if not isinstance(body, dict):
            self._invalid(key, [("InvalidObject", "A JSON object is required.", None)])
        agreement_id = int(request.params["agreement"]) if key == "additions" else None
        with self._state_lock:
            if key == "additions":
                self._scope(request, key)
            record = self._build(key, body, existing=None, agreement_id=agreement_id)
            return FakeResponse(201, self._store(key, record, agreement_id))
