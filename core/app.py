"""The domain core bound to a Flask app: settings, the database, the mailer and the email
templates. `create_core_app` is all the worker builds; the web app starts from `configure`."""

from pathlib import Path

from dotenv import load_dotenv
from flask import Blueprint, Flask

from core.config import ROOT, load_config
from core.emails import at_amazon, email_date
from core.extensions import db, mail

# The email templates (core/templates/email/) for whichever app renders them.
templates = Blueprint("core", __name__, template_folder="templates")


def configure(app: Flask, test_config: dict | None = None) -> Flask:
    """Settings from the environment (a `.env` file is read in development), then the database,
    the mailer and what the email templates need."""
    load_dotenv(ROOT / ".env")
    app.config.from_mapping(load_config())
    if test_config:
        app.config.from_mapping(test_config)
    database = app.config["SQLALCHEMY_DATABASE_URI"]
    if database.startswith("sqlite:///"):
        Path(database.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    from core import models  # noqa: F401  (every model, for Alembic and relationships)

    db.init_app(app)
    mail.init_app(app)
    app.register_blueprint(templates)
    app.add_template_filter(email_date)

    @app.context_processor
    def names() -> dict:
        # Our product's name, and the app Amazon's consent page shows the seller.
        return {
            "app_name": app.config["APP_NAME"],
            "amazon_app_name": app.config["AMAZON_APP_NAME"],
            "amazon_access_description": app.config["AMAZON_ACCESS_DESCRIPTION"],
            "at_amazon": at_amazon,
        }

    return app


def create_core_app(test_config: dict | None = None) -> Flask:
    """The domain core alone (no views, no CSRF, no rate limits): what the worker runs on."""
    return configure(Flask(__name__), test_config)
