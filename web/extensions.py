"""The web app's own extensions, unbound; `create_app` binds them (the database and the mailer
are the domain core's: core/extensions.py)."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from web.temporal import TemporalClient

migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"
temporal = TemporalClient()
# Storage from RATELIMIT_STORAGE_URI: memory:// in development (one process), redis:// shared by
# every web process in production.
limiter = Limiter(key_func=get_remote_address)
