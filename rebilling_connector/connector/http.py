"""A small HTTP client core shared by the external-system connectors.

It knows nothing about Xero, Autotask or ConnectWise: it sends requests with one
``requests.Session``, retries what is worth retrying (429, 5xx, timeouts and
connection errors) with exponential backoff, honours ``Retry-After``, keeps a
client-side rate limit, and turns failures into :class:`RetryableError` or
:class:`PermanentError`.

Credentials never appear in error messages or log lines: messages name the
method and the URL *without* its query string, and request headers are never
logged.
"""

import email.utils
import json as jsonlib
import logging
import random
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import requests

# The rate limiters live in .rate_limit; importing them from here keeps working.
from .rate_limit import RateLimiter as RateLimiter
from .rate_limit import SharedRateLimiter as SharedRateLimiter

_logger = logging.getLogger(__name__)

# How much of a response body goes into an error message.
_MESSAGE_BODY_CHARS = 500


# ------------------------------------------------------------------ errors
class ConnectorError(Exception):
    """A call to an external system failed.

    :ivar status: the HTTP status of the last response, or ``None`` when no
        response came back (timeout, connection error).
    :ivar body: the parsed JSON body of that response, or its text, or ``None``.
    :ivar method: the HTTP method.
    :ivar url: the URL without its query string.
    :ivar retry_after: seconds the server asked us to wait (429), else ``None``.
    :ivar response: the :class:`requests.Response`, when there was one.
    """

    retryable = False

    def __init__(
        self,
        message,
        *,
        status=None,
        body=None,
        method=None,
        url=None,
        retry_after=None,
        response=None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.method = method
        self.url = url
        self.retry_after = retry_after
        self.response = response

    def __str__(self):
        return self.message


class RetryableError(ConnectorError):
    """A transient failure (429, 5xx, timeout, connection error); trying later may work."""

    retryable = True


class PermanentError(ConnectorError):
    """A failure that repeating the same request will not fix (4xx other than 429)."""


# ------------------------------------------------------------------ helpers
def _safe_url(url):
    """The URL without query string, fragment or user info (they may hold secrets)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_body(response):
    """The response body as parsed JSON when possible, else as text (``None`` if empty)."""
    if response is None or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _body_summary(body):
    if body is None:
        return ""
    text = body if isinstance(body, str) else jsonlib.dumps(body, default=str)
    text = " ".join(text.split())
    if len(text) > _MESSAGE_BODY_CHARS:
        text = text[: _MESSAGE_BODY_CHARS - 3] + "..."
    return text


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header value (number or HTTP date).

    Returns ``None`` when the value is missing or unreadable.
    """
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        now = now or datetime.now(UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>``; ``token`` may be a string or a callable.

    With a callable, the token is read on every attempt, so a token refreshed
    between two retries is picked up.
    """

    def __init__(self, token):
        self._token = token

    def __call__(self, request):
        token = self._token() if callable(self._token) else self._token
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def __repr__(self):
        return "BearerAuth(<hidden>)"


# ------------------------------------------------------------------ client
class HttpClient:
    """HTTP client with retries, backoff and an optional :class:`RateLimiter`.

    :param base_url: prefix for relative paths; absolute URLs (``http(s)://...``)
        given to :meth:`request` are used as they are (e.g. "next page" links).
    :param headers: default headers of every request.
    :param auth: a ``requests`` auth (tuple for Basic, :class:`BearerAuth`, ...).
    :param timeout: ``(connect, read)`` seconds, or one number.
    :param max_retries: retries after the first attempt (so ``max_retries + 1`` calls at most).
    :param backoff: first retry delay in seconds; doubled on each retry.
    :param max_backoff: upper bound of a computed backoff delay.
    :param max_retry_after: upper bound of a wait asked by ``Retry-After``.
    :param jitter: random fraction (0..1) added to computed backoffs.
    :param rate_limiter: a :class:`RateLimiter` shared by the calls of this client.
    :param sleep: sleep function (injectable for tests).
    :param logger: a :class:`logging.Logger`; request headers are never logged.
    :param classify: ``classify(response, body)`` → ``None`` (the default rule: 429 and
        5xx are transient, other 4xx permanent) or ``(retryable, retry_after)`` for an
        API whose statuses say otherwise (e.g. Autotask's business-rule errors are
        HTTP 500 with an ``errors`` list: permanent; Xero's daily limit is a 429 not
        worth retrying before the next day).

    A 429 asking to wait longer than ``max_retry_after`` is not retried here:
    the :class:`RetryableError` carries ``retry_after`` so that the caller
    postpones the work (a queue job's ``RetryableJobError(seconds=...)``).

    ``calls`` counts the HTTP requests actually sent (retries included) and
    ``retries`` the retries; both are handy in benchmarks.
    """

    def __init__(
        self,
        base_url,
        *,
        headers=None,
        auth=None,
        timeout=(5, 30),
        max_retries=5,
        backoff=0.5,
        max_backoff=30.0,
        max_retry_after=60.0,
        jitter=0.0,
        rate_limiter=None,
        sleep=time.sleep,
        logger=None,
        classify=None,
    ):
        self.classify = classify
        self.base_url = (base_url or "").rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_retry_after = float(max_retry_after)
        self.jitter = float(jitter)
        self.rate_limiter = rate_limiter
        self.sleep = sleep
        self.logger = logger or _logger
        self.session = requests.Session()
        if headers:
            self.session.headers.update(headers)
        self.session.auth = auth
        self._count_lock = threading.Lock()
        self.calls = 0
        self.retries = 0

    # -- plumbing
    def url(self, path):
        """The absolute URL of ``path``."""
        if path.startswith(("http://", "https://")):
            return path
        if not path:
            return self.base_url
        return f"{self.base_url}/{path.lstrip('/')}"

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def _backoff_delay(self, attempt):
        delay = min(self.backoff * (2**attempt), self.max_backoff)
        if self.jitter:
            delay += delay * random.uniform(0, self.jitter)
        return delay

    def _count(self, retry=False):
        with self._count_lock:
            if retry:
                self.retries += 1
            else:
                self.calls += 1

    def _send(self, method, url, timeout, kwargs):
        limiter = self.rate_limiter
        if limiter is not None:
            limiter.acquire()
        try:
            self._count()
            return self.session.request(method, url, timeout=timeout, **kwargs)
        finally:
            if limiter is not None:
                limiter.release()

    # -- public API
    def request(
        self,
        method,
        path,
        *,
        params=None,
        json=None,
        data=None,
        headers=None,
        timeout=None,
        retries=None,
        allow_redirects=True,
        ok_statuses=(),
    ):
        """Send a request and return the :class:`requests.Response` of a success (< 400).

        Retries on 429 (waiting ``Retry-After`` when numeric or an HTTP date,
        at most ``max_retry_after``), on 5xx and on timeouts / connection errors,
        up to ``retries`` (default ``max_retries``) times. Raises
        :class:`PermanentError` at once on other 4xx and :class:`RetryableError`
        when the retries are used up. Statuses listed in ``ok_statuses`` are
        returned instead of raised (e.g. ``(404,)`` for a lookup).
        """
        method = method.upper()
        url = self.url(path)
        safe = _safe_url(url)
        max_retries = self.max_retries if retries is None else max(0, int(retries))
        timeout = self.timeout if timeout is None else timeout
        kwargs = {
            "params": params,
            "json": json,
            "data": data,
            "headers": headers,
            "allow_redirects": allow_redirects,
        }
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self._send(method, url, timeout, kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                kind = "timeout" if isinstance(exc, requests.Timeout) else "connection error"
                if attempt >= max_retries:
                    raise RetryableError(
                        f"{method} {safe} failed: {kind} ({type(exc).__name__}) "
                        f"after {attempt + 1} attempt(s)",
                        method=method,
                        url=safe,
                    ) from None
                delay = self._backoff_delay(attempt)
                self.logger.info(
                    "%s %s: %s, retry %d/%d in %.2fs",
                    method,
                    safe,
                    kind,
                    attempt + 1,
                    max_retries,
                    delay,
                )
            except requests.RequestException as exc:
                # Invalid URL, too many redirects...: repeating will not help.
                raise PermanentError(
                    f"{method} {safe} failed: {type(exc).__name__}",
                    method=method,
                    url=safe,
                ) from None
            else:
                status = response.status_code
                self.logger.debug(
                    "%s %s -> %s (%.0f ms)",
                    method,
                    safe,
                    status,
                    (time.monotonic() - started) * 1000,
                )
                if status < 400 or status in ok_statuses:
                    return response
                body = parse_body(response)
                retry_after = None
                if status == 429:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                retryable = status == 429 or status >= 500
                verdict = self.classify(response, body) if self.classify else None
                if verdict is not None:
                    retryable, retry_after = verdict[0], verdict[1] or retry_after
                too_long = retry_after is not None and retry_after > self.max_retry_after
                if not retryable or attempt >= max_retries or too_long:
                    error_class = RetryableError if retryable else PermanentError
                    tail = f" after {attempt + 1} attempt(s)" if retryable else ""
                    if too_long and retryable:
                        tail = f" (retry after {retry_after:.0f} s)"
                    summary = _body_summary(body)
                    raise error_class(
                        f"{method} {safe} failed: HTTP {status}{tail}"
                        + (f": {summary}" if summary else ""),
                        status=status,
                        body=body,
                        method=method,
                        url=safe,
                        retry_after=retry_after,
                        response=response,
                    )
                if retry_after is not None:
                    delay = min(retry_after, self.max_retry_after)
                    if self.rate_limiter is not None:
                        self.rate_limiter.pause(delay)
                else:
                    delay = self._backoff_delay(attempt)
                self.logger.info(
                    "%s %s: HTTP %s, retry %d/%d in %.2fs",
                    method,
                    safe,
                    status,
                    attempt + 1,
                    max_retries,
                    delay,
                )
            attempt += 1
            self._count(retry=True)
            if delay > 0:
                self.sleep(delay)

    def json_request(self, method, path, **kwargs):
        """Like :meth:`request`, returning the parsed JSON body (``None`` when empty)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            safe = _safe_url(response.url or self.url(path))
            raise ConnectorError(
                f"{method.upper()} {safe}: HTTP {response.status_code} with a body that is "
                f"not JSON: {_body_summary(response.text)}",
                status=response.status_code,
                body=response.text,
                method=method.upper(),
                url=safe,
                response=response,
            ) from None

    def get(self, path, **kwargs):
        return self.json_request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.json_request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.json_request("PUT", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.json_request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.json_request("DELETE", path, **kwargs)

    def __repr__(self):
        return f"HttpClient({_safe_url(self.base_url)!r})"
