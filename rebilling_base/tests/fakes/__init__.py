"""In-memory fake servers of Xero, Autotask and ConnectWise for the connector tests.

Each fake is a threaded HTTP server on 127.0.0.1 and a free port::

    with FakeXero(minute_limit=5, window=1.0) as xero:
        client = HttpClient(xero.api_url, ...)

See :mod:`.base` for the shared fault switches and the request log.
"""

from .base import FakeRequest, FakeResponse, FakeServer, HttpError, RecordedRequest
from .fake_autotask import FakeAutotask
from .fake_connectwise import FakeConnectWise
from .fake_xero import FakeXero, pkce_pair

__all__ = [
    "FakeAutotask",
    "FakeConnectWise",
    "FakeRequest",
    "FakeResponse",
    "FakeServer",
    "FakeXero",
    "HttpError",
    "RecordedRequest",
    "pkce_pair",
]
