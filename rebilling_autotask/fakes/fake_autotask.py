"""A fake Autotask PSA REST API (v1.0).

Paths (relative to ``base_url``; matched case-insensitively):

* ``GET /atservicesrest/v1.0/zoneInformation?user=`` (no auth) →
  ``url`` = ``{base_url}/ATServicesRest/``
* ``GET /ATServicesRest/V1.0/ThresholdInformation``, ``/VersionInformation``
* ``/ATServicesRest/V1.0/{Entity}/query`` (POST body or GET ``?search=``), ``/query/count``,
  ``/query/next?paging=..`` (POST with the original body; GET → 405 unless ``search=`` is given)
* ``GET /{Entity}/{id}``, ``GET /{Entity}/entityInformation[/fields]``
* ``POST``/``PATCH``/``PUT /{Entity}`` for Companies, Contracts and Products
* ``POST``/``PATCH``/``PUT /Contracts/{id}/Charges``,
  ``GET``/``DELETE /Contracts/{cid}/Charges/{id}``, ``POST /Contracts/{id}/Charges/query``,
  root ``ContractCharges/query`` and ``ContractCharges/{id}``
* BillingCodes: query and read only

Every call but the zone lookup needs ``ApiIntegrationCode`` (bad → 500
``{"errors":["IntegrationCode is invalid."]}``), ``UserName`` and ``Secret`` (bad → 401).

Rules enforced, each with the Autotask page it comes from (Autotask's developer help;
paths below are under ``https://autotask.net/help/DeveloperHelp/Content/APIs/``; the
REST swagger of a zone, ``webservices2.autotask.net/ATServicesRest/swagger``), or
ASSUMED where no Autotask page states it:

* The zone lookup needs no authentication ("getZoneInfo()",
  ``SOAP/APICalls/GetZoneInfoCall.htm``) and is exempt from thread limits ("API
  thread limiting", ``General/ThreadLimiting.htm``); the REST path and its answer
  (``zoneName``, ``url``, ``webUrl``, ``ci``) are the swagger's ``ZoneInformation``.
* Every other call needs the tracking identifier ("The API tracking identifier",
  ``https://autotask.net/help/Content/4_Admin/1CompanySettings_Users/ResourcesUsersHR/
  Resources/API_Tracking_Identifier.htm``), user name and secret; failed
  authentication is a 401 ("REST API security and authentication",
  ``REST/General_Topics/REST_Security_Auth.htm``).
* ASSUMED (no Autotask page gives the text; client libraries report it): a bad
  integration code is HTTP 500 ``{"errors":["IntegrationCode is invalid."]}``, and
  business-rule errors answer HTTP 500 (``error_status``) with ``{"errors": [...]}``
  — a client must not take them for an outage.
* A charge needs ``productID`` or ``billingCodeID``; update and delete only while
  ``isBilled`` is false ("ContractCharges", ``REST/Entities/ContractChargesEntity.htm``).
* BillingCodes are read only ("BillingCodes", ``REST/Entities/BillingCodesEntity.htm``);
  a contract create sets ``contractType`` ("Contracts",
  ``REST/Entities/ContractsEntity.htm``).
* Pages of at most 500 (``MaxRecords``), ``IncludeFields`` with ``id`` beyond 500
  results, ``pageDetails.nextPageUrl`` ("Advanced query features of the REST API",
  ``REST/API_Calls/REST_Advanced_Query_Features.htm``); ASSUMED: the next page is
  POSTed the original body (client libraries report a 405 for GET).
* Required fields: Contracts and ContractCharges as their field info marks them
  (see ``ENTITIES``); ASSUMED for the others (read them from
  ``entityInformation/fields`` in a real Autotask): Companies ``companyName``,
  ``companyType``; Products ``name``, ``isActive``, ``isSerialized``,
  ``productBillingCodeID`` (fields of "Products", ``REST/Entities/ProductsEntity.htm``).
* The thread limit is 3 per tracking identifier and entity ("API thread
  limiting"); ASSUMED: going over it answers 429.
"""

import itertools

from odoo.addons.rebilling_base.fakes.base import (
    FakeResponse,
    FakeServer,
    HttpError,
    get_ci,
)

from .at_filters import AutotaskFiltersMixin
from .at_queries import AutotaskQueriesMixin
from .at_records import AutotaskRecordsMixin
from .at_schema import (
    ENTITIES,
    PREFIX,
    THREAD_LIMIT_MESSAGE,
)
from .at_writes import AutotaskWritesMixin


class FakeAutotask(
    AutotaskRecordsMixin,
    AutotaskFiltersMixin,
    AutotaskQueriesMixin,
    AutotaskWritesMixin,
    FakeServer,
):
    """A fake Autotask REST API.

    :param username: / :param secret: the API user (more with :meth:`add_user`).
    :param integration_code: the API tracking identifier (``ApiIntegrationCode``).
    :param thread_limit: requests in flight per (integration code, entity) before a 429
        (Autotask: 3; ``None``: unchecked). Combine with ``latency`` to test it.
    :param error_status: HTTP status of business-rule errors (500 like Autotask; 400 if preferred).
    :param zone_name: the ``zoneName`` of the zone lookup.
    """

    name = "fake-autotask"
    case_insensitive_paths = True

    def __init__(
        self,
        *,
        username="api-user@example.com",
        secret="fake-secret",
        integration_code="FAKE-TRACKING-ID",
        thread_limit=None,
        error_status=500,
        zone_name="Fake Zone",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.users = {username: secret}
        self.username = username
        self.secret = secret
        self.integration_codes = {integration_code}
        self.integration_code = integration_code
        self.error_status = error_status
        self.zone_name = zone_name
        self.thread_limit = thread_limit
        # A tampered or misconfigured answer: the zone's URL, the base of the page links.
        self.zone_answer_url = None
        self.page_link_base = None
        if thread_limit:
            self.set_concurrency_limit(thread_limit)
        self._ids = itertools.count(29683000)
        self._data = {key: {} for key in ENTITIES}
        self._invoices = []  # what approve_and_post billed
        self._routes_setup()

    # -------------------------------------------------------------- URLs / auth helpers
    @property
    def api_url(self):
        """The zone URL plus ``V1.0`` (what a client builds from the zone lookup)."""
        return f"{self.base_url}/ATServicesRest/V1.0"

    @property
    def zone_url(self):
        return f"{self.base_url}/atservicesrest/v1.0/zoneInformation"

    def auth_headers(self):
        """The three headers a client must send."""
        return {
            "ApiIntegrationCode": self.integration_code,
            "UserName": self.username,
            "Secret": self.secret,
        }

    def add_user(self, username, secret):
        self.users[username] = secret

    # -------------------------------------------------------------- plumbing
    def _entity_key(self, name):
        key = str(name).lower()
        if key not in ENTITIES:
            raise HttpError(404, {"errors": [f"Entity {name} not found."]})
        return key

    def _fail(self, *messages, status=None):
        raise HttpError(status or self.error_status, {"errors": list(messages)})

    def _error_body(self, status, message):
        return {"errors": [message]}

    def _routes_setup(self):
        p = PREFIX
        e = r"(?P<entity>[A-Za-z]+)"
        child = r"(?P<parent>[A-Za-z]+)/(?P<pid>\d+)/(?P<child>[A-Za-z]+)"
        self.route("GET", p + r"/zoneInformation", self._zone)
        self.route("GET", p + r"/ThresholdInformation", self._threshold)
        self.route("GET", p + r"/VersionInformation", self._version)
        self.route("GET", p + "/" + e + r"/entityInformation", self._entity_info)
        self.route("GET", p + "/" + e + r"/entityInformation/fields", self._entity_fields)
        self.route(("GET", "POST"), p + "/" + e + r"/query", self._query)
        self.route(("GET", "POST"), p + "/" + e + r"/query/count", self._count)
        self.route(("GET", "POST"), p + "/" + e + r"/query/next", self._query_next)
        self.route("GET", p + "/" + e + r"/(?P<id>\d+)", self._get)
        self.route(("POST", "PATCH", "PUT"), p + "/" + e, self._write)
        self.route("DELETE", p + "/" + e + r"/(?P<id>\d+)", self._delete_root)
        self.route(("POST", "PATCH", "PUT"), p + "/" + child, self._write_child)
        self.route(("GET", "POST"), p + "/" + child + r"/query", self._query)
        self.route(("GET", "POST"), p + "/" + child + r"/query/next", self._query_next)
        self.route(("GET", "DELETE"), p + "/" + child + r"/(?P<id>\d+)", self._child_item)

    def _is_zone(self, request):
        return request.path.lower().rstrip("/").endswith("/zoneinformation")

    def _authenticate(self, request):
        if self._is_zone(request):
            return None
        code = request.header("ApiIntegrationCode")
        if code not in self.integration_codes:
            return FakeResponse(500, {"errors": ["IntegrationCode is invalid."]})
        user = request.header("UserName")
        if user not in self.users or self.users[user] != request.header("Secret"):
            return FakeResponse(401, {"errors": ["Unauthorized"]})
        request.context["integration_code"] = code
        return None

    def _rate_key(self, request):
        return request.context.get("integration_code")

    def _rate_limited_response(self, request, retry_after):
        return FakeResponse(
            429,
            {"errors": ["The hourly request threshold has been exceeded."]},
            {"Retry-After": retry_after},
        )

    def _concurrency_key(self, request):
        code = request.context.get("integration_code")
        if code is None:
            return None
        parts = request.path.lower().split("/")
        entity = parts[3] if len(parts) > 3 else ""
        return (code, entity)

    def _concurrency_response(self, request):
        return FakeResponse(429, {"errors": [THREAD_LIMIT_MESSAGE]})

    # -------------------------------------------------------------- misc endpoints
    def _zone(self, request):
        user = request.arg("user", ignore_case=True)
        if user not in self.users:
            return FakeResponse(500, {"errors": ["Zone information could not be determined"]})
        return {
            "zoneName": self.zone_name,
            "url": self.zone_answer_url or f"{self.base_url}/ATServicesRest/",
            "webUrl": f"{self.base_url}/",
            "ci": 1,
        }

    def _threshold(self, request):
        code = request.context.get("integration_code")
        count = sum(1 for r in self.requests if get_ci(r.headers, "ApiIntegrationCode") == code)
        return {
            "externalRequestThreshold": self._rate.limit if self._rate else 10000,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": count,
        }

    def _version(self, request):
        return {"apiVersions": ["1.0"]}

    def _entity_info(self, request):
        key = self._entity_key(request.params["entity"])
        spec = ENTITIES[key]
        return {
            "info": {
                "name": spec["name"],
                "canCreate": spec["create"] or key == "contractcharges",
                "canUpdate": spec["update"] or key == "contractcharges",
                "canQuery": True,
                "canDelete": key == "contractcharges",
                "hasUserDefinedFields": spec["udf"],
                "supportsWebhookCallouts": False,
            }
        }

    def _entity_fields(self, request):
        key = self._entity_key(request.params["entity"])
        spec = ENTITIES[key]
        read_only = set(spec.get("read_only", "").split()) | {"id"}
        fields = []
        for name in spec["fields"].split():
            picklist = spec["picklists"].get(name)
            fields.append(
                {
                    "name": name,
                    "dataType": "integer" if name == "id" or name.endswith("ID") else "string",
                    "isRequired": name in spec["required"],
                    "isReadOnly": name in read_only,
                    "isQueryable": True,
                    "isReference": name.endswith("ID") and name != "id",
                    "isPickList": picklist is not None,
                    "picklistValues": [
                        {
                            "value": str(value),
                            "label": label,
                            "isDefaultValue": False,
                            "sortOrder": index,
                            "isActive": True,
                            "isSystem": True,
                        }
                        for index, (value, label) in enumerate(picklist or [])
                    ]
                    or None,
                }
            )
        return {"fields": fields}


__all__ = ["ENTITIES", "FakeAutotask"]
