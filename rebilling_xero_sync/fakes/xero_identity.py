"""The fake Xero's identity server: OAuth2 authorization code flow, tokens, ``/connections``
and the Bearer/tenant check of each API call (rules and sources: :mod:`.fake_xero`)."""

import base64
import copy
import hashlib
import secrets
import time
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    HttpError,
)

from .xero_common import (
    API,
    DEFAULT_SCOPE,
    SCOPES,
    _b64url,
    _fake_jwt,
)


def pkce_pair(verifier=None):
    """``(code_verifier, code_challenge)`` for S256 PKCE (test helper)."""
    verifier = verifier or _b64url(secrets.token_bytes(32))
    return verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


class XeroIdentityMixin:
    """OAuth2 tokens, ``/connections`` and request authentication of :class:`.FakeXero`."""

    # -------------------------------------------------------------- seeding
    def add_client(self, client_id, client_secret):
        self.clients[client_id] = client_secret

    # -------------------------------------------------------------- tokens
    def _new_tokens(self, client_id, scope, auth_event_id, public=False):
        now = int(time.time())
        access = _fake_jwt(
            {
                "nbf": now,
                "exp": now + self.access_token_ttl,
                "iss": f"{self.base_url}/identity",
                "aud": f"{self.base_url}/identity/resources",
                "client_id": client_id,
                "sub": "fake-user",
                "auth_time": now,
                "xero_userid": "00000000-0000-0000-0000-000000000001",
                "global_session_id": uuid.uuid4().hex,
                "jti": uuid.uuid4().hex,
                "authentication_event_id": auth_event_id,
                "scope": scope.split(),
            }
        )
        refresh = secrets.token_hex(32)
        with self._state_lock:
            self._access_tokens[access] = {
                "expires": time.monotonic() + self.access_token_ttl,
                "client_id": client_id,
                "scope": set(scope.split()),
            }
            if "offline_access" in scope.split():
                self._refresh_tokens[refresh] = {
                    "client_id": client_id,
                    "scope": scope,
                    "used": False,
                    "public": public,
                    "auth_event_id": auth_event_id,
                }
            else:
                refresh = None
        body = {
            "id_token": _fake_jwt({"sub": "fake-user", "aud": client_id, "iat": now}),
            "access_token": access,
            "expires_in": self.access_token_ttl,
            "token_type": "Bearer",
            "scope": scope,
        }
        if refresh:
            body["refresh_token"] = refresh
        return body

    def issue_tokens(self, scope=DEFAULT_SCOPE, client_id=None):
        """Skip the OAuth dance: a token response as ``/identity/connect/token`` gives it."""
        return self._new_tokens(client_id or self.client_id, scope, self.auth_event_id)

    def expire_access_tokens(self):
        """Make every access token issued so far expired (the API then answers 401)."""
        with self._state_lock:
            for info in self._access_tokens.values():
                info["expires"] = 0

    def revoke_refresh_tokens(self):
        """Make every refresh token unusable (as after 60 days without use)."""
        with self._state_lock:
            for info in self._refresh_tokens.values():
                info["used"] = True

    def refresh_token_state(self, token):
        """``"active"``, ``"used"`` or ``"unknown"``."""
        info = self._refresh_tokens.get(token)
        if info is None:
            return "unknown"
        return "used" if info["used"] else "active"

    def _authenticate(self, request):
        lowered = request.path.lower()
        if not (self._is_api(request) or lowered.startswith("/connections")):
            return None
        header = request.header("Authorization", "")
        scheme, _, token = header.partition(" ")
        info = self._access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if info is None:
            return FakeResponse(
                401,
                self._error_body(401, "AuthenticationUnsuccessful"),
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if info["expires"] <= time.monotonic():
            return FakeResponse(
                401,
                self._error_body(401, "TokenExpired: token expired"),
                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'},
            )
        request.context["client_id"] = info["client_id"]
        if not self._is_api(request):
            return None
        tenant_id = request.header("xero-tenant-id", "").strip()
        tenant = self.tenants.get(tenant_id)
        if tenant is None or not tenant["connected"]:
            return FakeResponse(403, self._error_body(403, "AuthenticationUnsuccessful"))
        request.context["tenant_id"] = tenant_id
        if self.check_scopes:
            collection = lowered[len(API) + 1 :].split("/")[0]
            read_scopes, write_scopes = SCOPES.get(collection, (set(), set()))
            needed = read_scopes if request.method == "GET" else write_scopes
            if needed and not needed & info["scope"]:
                return FakeResponse(
                    401,
                    self._error_body(401, "AuthorizationUnsuccessful: insufficient scope"),
                )
        return None

    # -------------------------------------------------------------- identity
    def _authorize(self, request):
        client_id = request.arg("client_id")
        redirect_uri = request.arg("redirect_uri")
        if client_id not in self.clients or not redirect_uri:
            return FakeResponse(400, {"error": "invalid_request"})
        state = request.arg("state")

        def redirect(**params):
            if state is not None:
                params["state"] = state
            parts = urlsplit(redirect_uri)
            query = "&".join(p for p in (parts.query, urlencode(params)) if p)
            location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
            return FakeResponse(302, None, {"Location": location})

        if request.arg("response_type") != "code":
            return redirect(error="unsupported_response_type")
        scope = request.arg("scope", "")
        if not scope.strip():
            return redirect(error="invalid_scope")
        method = request.arg("code_challenge_method")
        challenge = request.arg("code_challenge")
        if challenge and (method or "plain") not in ("S256", "plain"):
            return redirect(error="invalid_request")
        code = secrets.token_hex(16)
        with self._state_lock:
            self._codes[code] = {
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "challenge": challenge,
                "method": method or "plain",
                "expires": time.monotonic() + 300,
            }
        return redirect(code=code, scope=scope, session_state=secrets.token_hex(8))

    def _client_auth(self, request, form):
        """Return the authenticated client id (or ``(client_id, public)``); HttpError if bad."""
        header = request.header("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise HttpError(400, {"error": "invalid_client"})
            client_id, _, secret = decoded.partition(":")
            if self.clients.get(client_id) != secret:
                raise HttpError(400, {"error": "invalid_client"})
            return client_id, False
        client_id = form.get("client_id")
        if client_id not in self.clients:
            raise HttpError(400, {"error": "invalid_client"})
        secret = form.get("client_secret")
        if secret is not None:
            if self.clients[client_id] != secret:
                raise HttpError(400, {"error": "invalid_client"})
            return client_id, False
        return client_id, True

    def _token(self, request):
        form = request.form
        client_id, public = self._client_auth(request, form)
        grant = form.get("grant_type")
        invalid = HttpError(400, {"error": "invalid_grant"})
        with self._state_lock:
            if grant == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                if (
                    code is None
                    or code["client_id"] != client_id
                    or code["expires"] < time.monotonic()
                    or code["redirect_uri"] != form.get("redirect_uri")
                ):
                    raise invalid
                if code["challenge"]:
                    verifier = form.get("code_verifier") or ""
                    if code["method"] == "S256":
                        computed = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
                    else:
                        computed = verifier
                    if not verifier or computed != code["challenge"]:
                        raise invalid
                elif public:
                    raise HttpError(400, {"error": "invalid_client"})
                self.auth_event_id = str(uuid.uuid4())
                for tenant in self.tenants.values():
                    tenant["connected"] = True
                    tenant["connection"]["authEventId"] = self.auth_event_id
                return self._new_tokens(client_id, code["scope"], self.auth_event_id, public)
            if grant == "refresh_token":
                info = self._refresh_tokens.get(form.get("refresh_token", ""))
                if info is None or info["used"] or info["client_id"] != client_id:
                    raise invalid
                if public and not info["public"]:
                    raise HttpError(400, {"error": "invalid_client"})
                info["used"] = True
                return self._new_tokens(
                    client_id, info["scope"], info["auth_event_id"], info["public"]
                )
        return FakeResponse(400, {"error": "unsupported_grant_type"})

    def _revocation(self, request):
        form = request.form
        self._client_auth(request, form)
        token = form.get("token", "")
        with self._state_lock:
            if token in self._refresh_tokens:
                self._refresh_tokens[token]["used"] = True
            self._access_tokens.pop(token, None)
        return FakeResponse(200)

    def _connections(self, request):
        event = request.arg("authEventId")
        return [
            copy.deepcopy(t["connection"])
            for t in self.tenants.values()
            if t["connected"] and (not event or t["connection"]["authEventId"] == event)
        ]

    def _disconnect(self, request):
        for tenant in self.tenants.values():
            if tenant["connection"]["id"] == request.params["id"] and tenant["connected"]:
                tenant["connected"] = False
                return FakeResponse(204)
        return FakeResponse(404, self._error_body(404, "Connection not found"))
