"""The extensions the domain core needs, unbound: the database, the mailer, the process's one
Temporal client and the rate-limit store (`core.app` and the web app bind them)."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from core.temporal import TemporalClient


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
mail = Mail()
temporal = TemporalClient()
# Storage from RATELIMIT_STORAGE_URI: memory:// in development (one process), redis:// shared by
# every web process in production. The web app binds it (the worker spends no limits).
limiter = Limiter(key_func=get_remote_address)
