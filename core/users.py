"""Bookkeepers: the people who sign in."""

from datetime import datetime
from functools import cache

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.clock import utcnow
from core.extensions import db


def hash_password(password: str) -> str:
    return generate_password_hash(password)


@cache
def _stand_in_hash() -> str:
    # Made with the same method and cost as every real hash, so checking against it takes as long.
    return generate_password_hash("no login has this password")


def password_matches(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (no such login) check a stand-in, so the answer takes as
    long for an address that has no login as for one that has."""
    matches = check_password_hash(password_hash or _stand_in_hash(), password)
    return matches and password_hash is not None


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    firm_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    # None until the owner of the address follows the link we emailed: only then can they log in.
    email_verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Part of the id kept in the session cookie: bumping it ends every session of this login
    # (logout, a new password), even a copied cookie.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def display_firm(self) -> str:
        """The firm to show next to the name: empty when it is only the name again (a client
        who joined by invitation, or a bookkeeper who left the firm blank at sign-up)."""
        firm = (self.firm_name or "").strip()
        return "" if firm.casefold() == (self.name or "").strip().casefold() else firm

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version or 0}"

    def end_sessions(self) -> None:
        self.session_version = (self.session_version or 0) + 1

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return password_matches(self.password_hash, password)


class SignupAttempt(db.Model):
    """What one sign-up form said; applied to the login only when its emailed link is followed,
    so nobody can set the password of an address they cannot read."""

    __tablename__ = "signup_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    firm_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginToken(db.Model):
    """An emailed link that proves the address: finish signing up, or reset the password.

    Only its SHA-256 is kept; it is single-use and expires.
    """

    __tablename__ = "login_tokens"

    VERIFY = "verify"
    RESET = "reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
