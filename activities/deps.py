"""What the activities are given, instead of reaching for module globals: built once by
`worker.build_worker` from the core app; a test can hand an activity class stand-ins."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from flask import Flask
from flask_mail import Message
from sqlalchemy.orm import Session, scoped_session

from core.amazon import AmazonClient
from core.extensions import db, mail


class Mailer(Protocol):
    """Hands a message to the SMTP server (Flask-Mail's `Mail` is one)."""

    def send(self, message: Message) -> None: ...


@dataclass(frozen=True)
class Settings:
    """The settings the activities read themselves (emails read theirs while composed)."""

    app_base_url: str
    secret_key: str  # derives the emailed links' tokens
    token_encryption_key: str  # encrypts Amazon's codes and tokens at rest

    @classmethod
    def of(cls, config) -> "Settings":
        return cls(config["APP_BASE_URL"], config["SECRET_KEY"], config["TOKEN_ENCRYPTION_KEY"])


@dataclass(frozen=True)
class Deps:
    """`session()` opens a unit of work: the app context (which email templates need too) and
    its database session."""

    session: Callable[[], AbstractContextManager[scoped_session[Session]]]
    mailer: Mailer
    amazon: AmazonClient
    settings: Settings

    @classmethod
    def of(cls, app: Flask) -> "Deps":
        """The real ones, bound to `app` (the core app, or the web app in tests)."""
        return cls(
            partial(_app_session, app), mail, AmazonClient(app.config), Settings.of(app.config)
        )


class Activities:
    """The activity classes' base: each holds the Deps it was built with, as `self.deps`."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps


@contextmanager
def _app_session(app: Flask) -> Iterator[scoped_session[Session]]:
    with app.app_context():
        yield db.session
