"""A local stand-in for Amazon's seller authorization: Seller Central consent, LWA and SP-API.

One app serves all three Amazon hosts, so the real app only changes URLs to talk to real Amazon.
Called at its own address (as the app is configured in development and tests), its SP-API stands
for whichever regional host the app meant; called under a real SP-API host name (through a proxy,
as tests/amazon_hosts.py does), it refuses a token of another region, as Amazon does.
"""

from typing import Any

from flask import Flask
from werkzeug.wrappers import Response

from . import apps, config, consent, control, lwa, spapi
from .store import Store


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the stand-in; `test_config` overrides settings by the same keys as the environment."""
    app = Flask(__name__)
    app.config.from_mapping(config.from_env())
    if test_config is not None:
        app.config.update(test_config)
    config.normalize(app.config)
    app.extensions["amazon_sandbox"] = Store()

    app.register_blueprint(consent.bp)
    app.register_blueprint(apps.bp)
    app.register_blueprint(lwa.bp)
    app.register_blueprint(spapi.bp)
    if app.config["SANDBOX_FAULTS_ENABLED"]:
        app.register_blueprint(control.bp)

    @app.after_request
    def security_headers(response: Response) -> Response:
        # Amazon asks that consent-flow pages leak no URL (with its state or code) via Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    return app
