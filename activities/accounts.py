"""Account emails: the link that finishes a sign-up, and the link that resets a password."""

from datetime import timedelta

from flask import Flask
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.identity import email_identity
from activities.mail import deliver
from core import account_emails as emails
from core.clock import utcnow
from core.crypto import digest, link_token
from core.extensions import db
from core.users import LoginToken, User
from vocabulary.messages import AccountEmailInput, EmailsSent

TOKEN_LIFETIME = {LoginToken.VERIFY: timedelta(days=2), LoginToken.RESET: timedelta(hours=1)}


class AccountEmailActivities:
    """Sends the emails that prove a person owns their address."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _link(self, user: User, purpose: str) -> str:
        token = link_token(self.app.config["SECRET_KEY"], f"login-{purpose}", *email_identity())
        if not db.session.scalar(db.select(LoginToken.id).filter_by(token_hash=digest(token))):
            db.session.add(  # a retry of this send finds its token already there
                LoginToken(
                    user_id=user.id,
                    purpose=purpose,
                    token_hash=digest(token),
                    expires_at=utcnow() + TOKEN_LIFETIME[purpose],
                )
            )
        db.session.commit()  # the link must work before the email can arrive
        path = "verify" if purpose == LoginToken.VERIFY else "reset"
        return f"{self.app.config['APP_BASE_URL']}/{path}/{token}"

    @activity.defn
    def send_account_email(self, input: AccountEmailInput) -> EmailsSent:
        """Send it, or nothing when the address has no login (the caller cannot tell)."""
        with self.app.app_context():
            user = db.session.get(User, input.user_id) if input.user_id else None
            if user is None:
                return EmailsSent([])
            key = f"account.{user.id}.{input.purpose}.{activity.info().workflow_run_id}"
            if input.purpose == "verify":
                email = emails.finish_signup(user, self._link(user, LoginToken.VERIFY))
            elif input.purpose == "already_registered":
                email = emails.already_registered(user, self._link(user, LoginToken.RESET))
            elif input.purpose == "reset":
                email = emails.reset_password(user, self._link(user, LoginToken.RESET))
            else:
                raise ApplicationError(f"unknown purpose {input.purpose}", non_retryable=True)
            deliver(email, key)
            return EmailsSent([user.email])
