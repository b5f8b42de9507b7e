from urllib.parse import parse_qs, urlsplit

from odoo.tests import Form, HttpCase, new_test_user, tagged

from .common import XeroCase


@tagged("post_install", "-at_install")
class TestXeroOAuth(XeroCase, HttpCase):
    def setUp(self):
        super().setUp()
        self.authenticate("admin", "admin")
        self.admin_backend = self.backend.with_user(self.env.ref("base.user_admin"))

    def test_authenticate_through_the_callback_route(self):
        backend = self.admin_backend
        url, location, query = self.authorize(backend)
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.assertEqual(params["response_type"], "code")
        self.assertEqual(params["code_challenge_method"], "S256")
        self.assertIn("offline_access", params["scope"].split())
        self.assertEqual(params["state"], query["state"])
        self.assertEqual(location.path, "/rebilling/xero/callback")
        response = self.url_open(f"{location.path}?{location.query}", allow_redirects=False)
        self.assertEqual(response.status_code, 303, response.text[:500])
        self.assertIn(f"/odoo/rebilling.backend/{backend.id}", response.headers["Location"])
        self.assertEqual(backend.state, "connected")
        self.assertEqual(backend.xero_tenant_id.tenant_id, self.xero.default_tenant_id)
        secret = backend._xero_token()
        self.assertTrue(secret.access_token and secret.refresh_token)
        self.assertFalse(backend.sudo().xero_oauth_state, "the state is single-use")
        # PKCE: the token request proves the verifier of the challenge sent first.
        token = self.xero.requests_matching("POST", "/identity/connect/token")[0]
        form = parse_qs(token.body.decode())
        self.assertEqual(form["grant_type"], ["authorization_code"])
        self.assertTrue(form["code_verifier"][0])
        self.assertTrue(token.headers["Authorization"].startswith("Basic "))
        # Settings and revenue accounts are pulled at once.
        self.assertIn("200", backend.xero_account_ids.mapped("code"))
        self.assertEqual(backend.xero_tenant_id.tax_types["GST on Income"], "OUTPUT")

    def test_state_mismatch_is_rejected(self):
        _url, location, query = self.authorize(self.admin_backend)
        response = self.url_open(
            f"{location.path}?code={query['code']}&state=forged-{query['state'][:10]}",
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("does not match", response.text)
        self.assertEqual(self.backend.state, "draft")
        self.assertFalse(self.backend._xero_token())
        self.assertFalse(self.xero.requests_matching("POST", "/identity/connect/token"))
        # The real answer still works afterwards (the pending state was not consumed).
        response = self.url_open(f"{location.path}?{location.query}", allow_redirects=False)
        self.assertEqual(response.status_code, 303)
        self.assertEqual(self.backend.state, "connected")

    def test_callback_of_another_user_is_rejected(self):
        _url, location, _query = self.authorize(self.admin_backend)
        new_test_user(self.env, login="other-user", groups="rebilling_base.group_rebilling_manager")
        self.authenticate("other-user", "other-user")
        response = self.url_open(f"{location.path}?{location.query}", allow_redirects=False)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(self.backend.state, "draft")


@tagged("post_install", "-at_install")
class TestXeroTenants(XeroCase):
    fake_options = {"tenants": ("Southern Cross Pty", "Demo Company (AU)")}

    def test_user_picks_the_organisation(self):
        self.backend.active = False
        with Form(self.env["rebilling.backend"]) as form:
            form.backend_type = "xero"
            self.assertEqual(form.rate_limit_calls, 60)
            self.assertEqual(form.batch_size, 50)
        backend = form.save()
        backend.write({k: v for k, v in self.backend_vals().items() if k != "name"})
        _url, _location, query = self.authorize(backend)
        self.env["rebilling.backend"]._xero_oauth_callback(query["state"], code=query["code"])
        self.assertEqual(backend.state, "tenant")
        self.assertEqual(len(backend.xero_tenant_ids), 2)
        with Form(backend) as form:
            form.xero_tenant_id = backend.xero_tenant_ids.filtered(
                lambda t: t.name == "Southern Cross Pty"
            )
        backend.action_xero_select_tenant()
        self.assertEqual(backend.state, "connected")
        self.assertEqual(backend.xero_tenant_id.name, "Southern Cross Pty")
        org_calls = self.xero.requests_matching("GET", "/Organisation")
        self.assertEqual(org_calls[-1].headers["xero-tenant-id"], backend.xero_tenant_id.tenant_id)
