from . import test_connector_http, test_connector_models
