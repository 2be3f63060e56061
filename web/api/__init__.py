"""The JSON API, /api/v1: flask-smorest makes its OpenAPI 3.1 document from the views and
schemas (served at /api/v1/openapi.json, readable at /api/v1/docs). The views call the same
services as the pages, so the same limits, caps, roles and workflows apply."""

import http

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from web.api.problems import MEDIA_TYPE, ProblemSchema
from web.extensions import csrf

DESCRIPTION = """Connect your clients' Amazon seller accounts from your own tools.

Authenticate with an API key from the *API keys* page: `Authorization: Bearer <key>`. A key acts
for the user who made it, with their accounts and roles, and counts against their limits.
Every POST accepts an `Idempotency-Key`. Lists are newest first, paged by `cursor`. Errors are
RFC 9457 problem details (`application/problem+json`)."""


class ProblemApi(Api):
    """flask-smorest's Api with problem details as every documented error (the app's own
    error handlers answer them: web.register_errorhandlers)."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def _register_error_handlers(self):
        pass  # the app's handlers answer API errors as problems and page errors as pages

    def _register_responses(self):
        """flask-smorest's, with errors as application/problem+json."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not 100 <= status < 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "A problem (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def init_app(app: Flask) -> None:
    """One Api per app (its document is the app's): at app.extensions["api_v1"]."""
    from web.api import accounts, bulk, connections, docs, invitations, requests

    app.config.update(
        API_TITLE="Amazon connections API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = ProblemApi(
        app,
        spec_kwargs={"info": {"description": DESCRIPTION}, "security": [{"apiKey": []}]},
    )
    app.extensions["api_v1"] = api
    api.spec.components.security_scheme(
        "apiKey", {"type": "http", "scheme": "bearer", "description": "An API key."}
    )
    for module in (accounts, requests, bulk, connections, invitations):
        api.register_blueprint(module.blp)
        csrf.exempt(module.blp)  # keys, not cookies: nothing for a forged form to ride on
    app.register_blueprint(docs.bp)
