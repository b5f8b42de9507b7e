"""Shared plumbing of the fake Xero / Autotask / ConnectWise servers.

A :class:`FakeServer` is a threaded HTTP server on 127.0.0.1 and a free port,
with an in-memory state held by the subclass. This module gives it:

* routing (``route(methods, regex, handler)``, 404 / 405 answers),
* request and response objects with JSON helpers (they live in :mod:`.http_messages`
  and are importable from here too),
* fault switches: :meth:`FakeServer.fail_next`, :meth:`FakeServer.timeout_next`,
  :meth:`FakeServer.set_rate_limit`, :meth:`FakeServer.set_concurrency_limit`,
  :meth:`FakeServer.set_latency`,
* a log of every request received (:attr:`FakeServer.requests`), for assertions.

Use it from a test::

    with FakeXero() as xero:
        url = xero.base_url
        ...

Subclasses customise it through hooks: ``_authenticate``, ``_rate_key``,
``_check_rate``, ``_concurrency_key``, ``_after_route`` and ``_error_body``.
"""

import contextlib
import logging
import math
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The request/response objects and JSON helpers live in .http_messages; importing them
# from here keeps working.
from .http_messages import (
    FakeRequest,
    FakeResponse,
    HttpError,
    RecordedRequest,
    find_key_ci,
    get_ci,
    json_response,
    paginate,
)

_logger = logging.getLogger(__name__)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


# ------------------------------------------------------------------ sliding window counter
class SlidingWindow:
    """Counts accepted hits per key in a sliding window of ``window`` seconds."""

    def __init__(self, limit, window):
        self.limit = limit
        self.window = float(window)
        self._hits = {}
        self._lock = threading.Lock()

    def hit(self, key, now=None):
        """Count one hit; return ``(allowed, remaining, wait_seconds)``.

        A refused hit is not counted; ``wait_seconds`` is how long until a slot frees.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            horizon = now - self.window
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= self.limit:
                return False, 0, max(hits[0] + self.window - now, 0.0)
            hits.append(now)
            return True, self.limit - len(hits), 0.0

    def remaining(self, key, now=None):
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key, ())
            return self.limit - sum(1 for t in hits if t > now - self.window)


# ------------------------------------------------------------------ HTTP plumbing
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "RebillingFake/1.0"
    timeout = 60  # idle keep-alive connections end after this

    def setup(self):
        result = super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._srv_track(self.connection, add=True)
        return result

    def finish(self):
        try:
            return super().finish()
        finally:
            self.server.fake._srv_track(self.connection, add=False)

    def log_message(self, format, *args):
        _logger.debug("%s: %s", self.server.fake.name, format % args)

    def _dispatch(self):
        self.server.fake._srv_handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


@dataclass
class _Fault:
    kind: str
    remaining: int
    status: int = 500
    body: object = None
    headers: dict = None
    seconds: float = 0.0
    path: object = None
    method: str = None


def _format_seconds(value):
    if isinstance(value, str):
        return value
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:g}"


class FakeServer:
    """Base of the fake servers: routing, fault switches, rate limit, request log.

    :param host: interface to bind (127.0.0.1).
    :param port: 0 picks a free port.
    :param rate_limit: requests allowed per ``rate_window`` seconds (``None``: unlimited).
    :param rate_window: length of the sliding window in seconds.
    :param retry_after: ``Retry-After`` sent with a 429; ``None`` computes the whole
        seconds until a slot frees (at least 1). A float such as ``0.2`` keeps tests fast.
    :param latency: seconds every request waits before being handled.
    """

    name = "fake"
    case_insensitive_paths = False

    def __init__(
        self,
        *,
        host="127.0.0.1",
        port=0,
        rate_limit=None,
        rate_window=60.0,
        retry_after=None,
        latency=0.0,
    ):
        self.host = host
        self.port = port
        self.latency = latency
        self._routes = []
        self._faults = []
        self._log = []
        self._lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._sockets = set()
        self._rate = None
        self._rate_retry_after = None
        self.set_rate_limit(rate_limit, rate_window, retry_after=retry_after)
        self._concurrency_limit = None
        self._concurrency_status = 429
        self._concurrency_retry_after = None
        self._in_flight = {}
        self.max_in_flight = 0
        self._total_in_flight = 0
        self.base_url = None

    # -- lifecycle
    def start(self):
        """Start serving in a background thread; return the base URL (no trailing slash)."""
        if self._server is not None:
            return self.base_url
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-server",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self):
        """Stop serving and close every open connection."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def _srv_track(self, sock, add):
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    # -- routing
    def route(self, methods, pattern, handler, name=None):
        """Register ``handler(request)`` for ``methods`` on paths fully matching ``pattern``.

        Named groups of the pattern land in ``request.params``.
        """
        if isinstance(methods, str):
            methods = (methods,)
        flags = re.IGNORECASE if self.case_insensitive_paths else 0
        self._routes.append(
            (
                tuple(m.upper() for m in methods),
                re.compile(pattern, flags),
                handler,
                name or handler.__name__,
            )
        )

    def _srv_match(self, request):
        allowed = set()
        for methods, regex, handler, name in self._routes:
            match = regex.fullmatch(request.path)
            if not match:
                continue
            if request.method in methods or (request.method == "HEAD" and "GET" in methods):
                request.params = {k: v for k, v in match.groupdict().items() if v is not None}
                return handler, name
            allowed.update(methods)
        if allowed:
            return "405", ", ".join(sorted(allowed))
        return None, None

    # -- fault switches
    def fail_next(
        self,
        n=1,
        status=500,
        *,
        body=None,
        headers=None,
        retry_after=None,
        path=None,
        method=None,
    ):
        """Answer the next ``n`` requests (matching ``path`` regex / ``method``) with ``status``.

        The request is not processed. ``retry_after`` adds a ``Retry-After`` header.
        """
        headers = dict(headers or {})
        if retry_after is not None:
            headers["Retry-After"] = _format_seconds(retry_after)
        with self._lock:
            self._faults.append(
                _Fault(
                    "fail", n, status=status, body=body, headers=headers, path=path, method=method
                )
            )

    def timeout_next(self, n=1, seconds=1.0, *, path=None, method=None):
        """Delay the next ``n`` matching requests by ``seconds`` before handling them.

        The request is then processed normally (like a slow server whose client
        gave up), so a client retry may meet the side effects of the first try.
        """
        with self._lock:
            self._faults.append(_Fault("timeout", n, seconds=seconds, path=path, method=method))

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def set_rate_limit(self, limit, window=60.0, *, retry_after=None):
        """At most ``limit`` requests per sliding ``window`` seconds, else 429 (``None``: off)."""
        self._rate = SlidingWindow(limit, window) if limit else None
        self._rate_retry_after = retry_after

    def set_concurrency_limit(self, limit, *, status=429, retry_after=None):
        """At most ``limit`` requests in progress per concurrency key, else ``status``."""
        self._concurrency_limit = limit
        self._concurrency_status = status
        self._concurrency_retry_after = retry_after

    def set_latency(self, seconds):
        """Every request waits ``seconds`` before being handled."""
        self.latency = seconds

    def _take_fault(self, request):
        flags = re.IGNORECASE if self.case_insensitive_paths else 0
        with self._lock:
            for fault in self._faults:
                if fault.method and fault.method.upper() != request.method:
                    continue
                if fault.path and not re.search(fault.path, request.path, flags):
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- request log
    @property
    def requests(self):
        """A copy of the request log (oldest first)."""
        with self._lock:
            return list(self._log)

    def requests_matching(self, method=None, path=None, *, status=None):
        """Logged requests with this method, whose path matches the ``path`` regex."""
        flags = re.IGNORECASE if self.case_insensitive_paths else 0
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path is None or re.search(path, r.path, flags))
            and (status is None or r.status == status)
        ]

    def request_count(self, method=None, path=None, *, status=None):
        return len(self.requests_matching(method, path, status=status))

    @property
    def last_request(self):
        with self._lock:
            return self._log[-1] if self._log else None

    def clear_requests(self):
        with self._lock:
            self._log.clear()

    # -- hooks for subclasses
    def _error_body(self, status, message):
        """The body of an error built by the base class (fault, 404, 405, 429)."""
        return {"error": message}

    def _authenticate(self, request):
        """Return a response to refuse the request, or ``None`` to go on."""
        return None

    def _rate_key(self, request):
        """Key the generic rate limit counts by; ``None`` exempts the request."""
        return "all"

    def _rate_limited_response(self, request, retry_after):
        return FakeResponse(
            429,
            self._error_body(429, "Rate limit exceeded"),
            {"Retry-After": retry_after},
        )

    def _retry_after_value(self, configured, wait):
        if configured is not None:
            return _format_seconds(configured)
        return str(max(1, math.ceil(wait)))

    def _check_rate(self, request):
        """Return a 429 response when over the rate limit, else ``None``."""
        rate = self._rate
        if rate is None:
            return None
        key = self._rate_key(request)
        if key is None:
            return None
        allowed, remaining, wait = rate.hit(key)
        request.context["rate_remaining"] = remaining
        if allowed:
            return None
        retry_after = self._retry_after_value(self._rate_retry_after, wait)
        return self._rate_limited_response(request, retry_after)

    def _concurrency_key(self, request):
        return "all"

    def _concurrency_response(self, request):
        headers = {}
        if self._concurrency_retry_after is not None:
            headers["Retry-After"] = _format_seconds(self._concurrency_retry_after)
        return FakeResponse(
            self._concurrency_status,
            self._error_body(self._concurrency_status, "Too many concurrent requests"),
            headers,
        )

    def _after_route(self, request, response):
        """Last chance to decorate a response (e.g. rate-limit headers)."""
        return response

    def _not_found(self, request):
        return FakeResponse(404, self._error_body(404, f"No route for {request.path}"))

    def _method_not_allowed(self, request, allowed):
        return FakeResponse(
            405,
            self._error_body(405, f"The requested resource does not support {request.method}"),
            {"Allow": allowed},
        )

    def now_ms(self):
        return int(time.time() * 1000)

    # -- request handling
    def _srv_read_body(self, handler):
        length = handler.headers.get("Content-Length")
        if length:
            return handler.rfile.read(int(length))
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(handler.rfile.readline().strip() or b"0", 16)
                if not size:
                    handler.rfile.readline()
                    break
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
            return b"".join(chunks)
        return b""

    def _srv_handle(self, handler):
        body = self._srv_read_body(handler)
        request = FakeRequest(handler.command, handler.path, handler.headers, body)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=dict(handler.headers.items()),
            body=body,
            time=request.received,
        )
        with self._lock:
            self._log.append(record)
        try:
            response = self._srv_process(request, record)
        except HttpError as exc:
            response = exc.response()
        except Exception:
            _logger.exception(
                "%s: error while handling %s %s", self.name, request.method, request.path
            )
            response = FakeResponse(500, self._error_body(500, "Internal error in the fake server"))
        record.status = response.status
        record.extra.update(request.context)
        self._srv_write(handler, request, response)

    def _srv_process(self, request, record):
        fault = self._take_fault(request)
        if fault is not None and fault.kind == "fail":
            record.fault = "fail"
            body = fault.body
            if body is None:
                body = self._error_body(fault.status, "Injected failure")
            return FakeResponse(fault.status, body, fault.headers)
        if fault is not None and fault.kind == "timeout":
            record.fault = "timeout"
            self._stopping.wait(fault.seconds)
        if self._stopping.is_set():
            return FakeResponse(503, self._error_body(503, "Server stopping"))
        handler, name = self._srv_match(request)
        record.route = name
        if handler is None:
            return self._not_found(request)
        if handler == "405":
            return self._method_not_allowed(request, name)
        refused = self._authenticate(request)
        if refused is not None:
            return self._after_route(request, refused)
        limited = self._check_rate(request)
        if limited is not None:
            record.fault = "rate_limited"
            return self._after_route(request, limited)
        key = self._concurrency_key(request) if self._concurrency_limit else None
        if key is not None:
            with self._lock:
                count = self._in_flight.get(key, 0)
                if count >= self._concurrency_limit:
                    record.fault = "concurrency_limited"
                    return self._after_route(request, self._concurrency_response(request))
                self._in_flight[key] = count + 1
        with self._lock:
            self._total_in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._total_in_flight)
        try:
            if self.latency:
                self._stopping.wait(self.latency)
            try:
                response = handler(request)
            except HttpError as exc:
                response = exc.response()
            if response is None:
                response = FakeResponse(204)
            elif not isinstance(response, FakeResponse):
                response = FakeResponse(200, response)
            return self._after_route(request, response)
        finally:
            with self._lock:
                self._total_in_flight -= 1
                if key is not None:
                    self._in_flight[key] -= 1

    def _srv_write(self, handler, request, response):
        payload, content_type = response.encode()
        try:
            handler.send_response(response.status)
            for name, value in response.headers.items():
                handler.send_header(name, str(value))
            if content_type:
                handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if request.method != "HEAD" and payload:
                handler.wfile.write(payload)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            # The client gave up (e.g. its read timeout fired during timeout_next).
            handler.close_connection = True


__all__ = [
    "METHODS",
    "FakeRequest",
    "FakeResponse",
    "FakeServer",
    "HttpError",
    "RecordedRequest",
    "SlidingWindow",
    "find_key_ci",
    "get_ci",
    "json_response",
    "paginate",
]
