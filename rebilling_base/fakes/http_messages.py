"""Requests, responses and JSON helpers of the fake servers (:mod:`.base` serves them):
the request a handler receives, the response it returns or the :class:`HttpError` it
raises, the recorded request of the log, and case-insensitive key and paging helpers.
"""

import json
import math
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit


# ------------------------------------------------------------------ request / response
class FakeRequest:
    """One request as seen by a route handler."""

    def __init__(self, method, target, headers, body):
        parts = urlsplit(target)
        self.method = method
        self.target = target
        self.path = unquote(parts.path) or "/"
        self.query_string = parts.query
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers
        self.body = body or b""
        self.params = {}
        self.received = time.monotonic()
        self.context = {}
        self._json = None
        self._json_parsed = False

    def arg(self, name, default=None, *, ignore_case=False):
        """First value of query parameter ``name``."""
        if ignore_case:
            lowered = name.lower()
            for key, values in self.query.items():
                if key.lower() == lowered and values:
                    return values[0]
            return default
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name, default=None):
        value = self.headers.get(name)
        return default if value is None else value

    @property
    def json(self):
        """The parsed JSON body (``None`` when empty); a bad body raises HttpError(400)."""
        if not self._json_parsed:
            self._json_parsed = True
            if self.body.strip():
                try:
                    self._json = json.loads(self.body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise HttpError(400, {"error": "The request body is not valid JSON."})
        return self._json

    @property
    def form(self):
        """The form-encoded body as a dict of first values."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}


class FakeResponse:
    """What a handler returns: a status, a body (dict/list → JSON, str, bytes, None), headers."""

    def __init__(self, status=200, body=None, headers=None, content_type=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type

    def encode(self):
        body = self.body
        content_type = self.content_type
        if body is None:
            return b"", content_type
        if isinstance(body, bytes):
            return body, content_type or "application/octet-stream"
        if isinstance(body, str):
            return body.encode("utf-8"), content_type or "text/plain; charset=utf-8"
        return json.dumps(body).encode("utf-8"), content_type or "application/json; charset=utf-8"


def json_response(status, body, headers=None):
    return FakeResponse(status, body, headers)


class HttpError(Exception):
    """Raise from a handler to answer at once with ``status`` and ``body``."""

    def __init__(self, status, body=None, headers=None):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self):
        return FakeResponse(self.status, self.body, self.headers)


@dataclass
class RecordedRequest:
    """A request in the server's log (``FakeServer.requests``)."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    time: float
    status: int = None
    fault: str = None
    route: str = None
    extra: dict = field(default_factory=dict)

    @property
    def json(self):
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default


# ------------------------------------------------------------------ small shared helpers
def paginate(items, page, page_size):
    """Slice ``items`` for a 1-based ``page``; return ``(page_items, page_count)``."""
    page = max(1, int(page))
    page_size = max(1, int(page_size))
    count = len(items)
    page_count = max(1, math.ceil(count / page_size)) if count else 0
    start = (page - 1) * page_size
    return items[start : start + page_size], page_count


def get_ci(record, name, default=None):
    """``record[name]`` with a case-insensitive key; ``default`` when missing."""
    if not isinstance(record, dict):
        return default
    if name in record:
        return record[name]
    lowered = name.lower()
    for key, value in record.items():
        if key.lower() == lowered:
            return value
    return default


def find_key_ci(record, name):
    """The actual key of ``record`` matching ``name`` case-insensitively, or ``None``."""
    if name in record:
        return name
    lowered = name.lower()
    for key in record:
        if key.lower() == lowered:
            return key
    return None
