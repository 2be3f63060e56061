"""The bookkeeper's web app: sign-up, client accounts, connection requests, the seller's pages."""

from flask import Flask, render_template
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from core import logs, marketplaces
from core.app import configure
from core.config import ROOT
from core.extensions import db, limiter, temporal
from web import api, limits
from web.api import problems
from web.extensions import csrf, login_manager, migrate
from web.filters import register_filters


def create_app(test_config: dict | None = None) -> Flask:
    """The domain core (core.app) with the web app's pages, security and limits on top."""
    app = configure(Flask(__name__), test_config)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_headers(app)
    register_filters(app)
    logs.init_app(app)
    return app


def register_extensions(app: Flask) -> None:
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    temporal.init_app(app)
    limiter.init_app(app)
    api.init_app(app)


def register_blueprints(app: Flask) -> None:
    from web.accounts.views import bp as accounts
    from web.api_keys.views import bp as api_keys
    from web.auth.views import bp as auth
    from web.bulk.views import bp as bulk
    from web.connect.views import bp as connect
    from web.consent.login_uri import bp as amazon_login
    from web.consent.views import bp as consent
    from web.health import bp as health
    from web.members.views import bp as members
    from web.requests.views import bp as requests
    from web.webhooks.views import bp as webhooks

    app.register_blueprint(auth)
    app.register_blueprint(accounts)
    app.register_blueprint(connect)
    app.register_blueprint(consent)
    app.register_blueprint(amazon_login)
    app.register_blueprint(requests)
    app.register_blueprint(bulk)
    app.register_blueprint(members)
    app.register_blueprint(health)
    app.register_blueprint(api_keys)
    app.register_blueprint(webhooks)


def register_errorhandlers(app: Flask) -> None:
    # The API answers every error as problem details; the pages answer with a page.
    def render_error(error):
        if problems.is_api_request():
            return problems.from_exception(error)
        code = getattr(error, "code", 500)
        return render_template("error.html", code=code, error=error), code

    for code in (400, 401, 403, 404, 405, 409, 413, 415, 422, 500):
        app.errorhandler(code)(render_error)
    app.errorhandler(problems.Problem)(render_error)

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        # The database is locked or unreachable for a moment: say so, write nothing, and let the
        # user try again (the page they came from, or the back button, works once it is back).
        db.session.rollback()
        app.logger.warning("database unavailable: %s", type(error.orig).__name__)
        if problems.is_api_request():
            message = "The database is busy for a moment; nothing was changed. Try again."
            return problems.Problem(
                503, message, "temporarily-unavailable", headers=_RETRY
            ).answer()
        return render_template("error.html", code=503, error=error), 503

    # Over a rate limit: a page that says when to try again (the seller's pages have their own).
    @app.errorhandler(429)
    def rate_limited(error):
        if problems.is_api_request():
            return problems.from_exception(error)
        return limits.rate_limited(error)


_RETRY = {"Retry-After": "5"}


def register_headers(app: Flask) -> None:
    # Forms that redirect to Amazon's consent page must be allowed to, by form-action.
    amazon_hosts = app.config["AMAZON_SELLER_CENTRAL_URL"] or " ".join(
        sorted({m.seller_central_url for m in marketplaces.MARKETPLACES})
    )

    @app.after_request
    def security_headers(response):
        # Amazon asks apps in its authorization flow not to leak URLs (with state) in Referer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            f"form-action 'self' {amazon_hosts}; frame-ancestors 'none'; "
            # An injected <base> would redirect every relative link and form; no plugins at all.
            "base-uri 'none'; object-src 'none'",
        )
        if app.config["APP_ENV"] == "production":
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    # The web app and the worker write the same SQLite file: WAL lets readers and one writer
    # proceed together, and busy_timeout makes a writer wait instead of failing.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
