"""Account emails: the link that finishes a sign-up, and the link that resets a password."""

from datetime import timedelta

from temporalio import activity

from activities.deps import Activities
from activities.links import issue_link
from activities.mail import composer, deliver
from core.account_emails import ACCOUNT_EMAILS
from core.clock import utcnow
from core.users import LoginToken, User
from vocabulary.messages import AccountEmailInput, EmailsSent

TOKEN_LIFETIME = {LoginToken.VERIFY: timedelta(days=2), LoginToken.RESET: timedelta(hours=1)}
LINK_PATH = {LoginToken.VERIFY: "verify", LoginToken.RESET: "reset"}


class AccountEmailActivities(Activities):
    """Sends the emails that prove a person owns their address."""

    @activity.defn
    def send_account_email(self, input: AccountEmailInput) -> EmailsSent:
        """Send it, or nothing when the address has no login (the caller cannot tell)."""
        with self.deps.session() as session:
            user = session.get(User, input.user_id) if input.user_id else None
            if user is None:
                return EmailsSent([])
            purpose, compose = composer(ACCOUNT_EMAILS, input.purpose, "purpose")
            token = issue_link(
                session,
                self.deps.settings.secret_key,
                f"login-{purpose}",
                LoginToken,
                {"user_id": user.id},
                purpose=purpose,
                expires_at=utcnow() + TOKEN_LIFETIME[purpose],
            )
            session.commit()  # the link must work before the email can arrive
            link = f"{self.deps.settings.app_base_url}/{LINK_PATH[purpose]}/{token}"
            key = f"account.{user.id}.{input.purpose}.{activity.info().workflow_run_id}"
            deliver(self.deps.mailer, compose(user, link), key)
            return EmailsSent([user.email])
