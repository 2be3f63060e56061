"""Emails about a login: they come from the app itself, to the address they name."""

from collections.abc import Callable

from flask import current_app

from core.emails import Email, render
from core.users import LoginToken, User
from vocabulary.notices import AccountEmail


def _render(name: str, user: User, link: str, because: str) -> tuple[str, str]:
    why = f"You got this email because {because} at {current_app.config['APP_NAME']}."
    return render(name, user=user, link=link, firm=user.firm_name, why=why)


def finish_signup(user: User, link: str) -> Email:
    text, html = _render("finish_signup", user, link, "someone signed up with this address")
    return Email(user.email, f"Finish signing up to {current_app.config['APP_NAME']}", text, html)


def already_registered(user: User, link: str) -> Email:
    because = "someone tried to sign up with this address, which already has a login,"
    text, html = _render("already_registered", user, link, because)
    subject = f"You already have a login at {current_app.config['APP_NAME']}"
    return Email(user.email, subject, text, html)


def reset_password(user: User, link: str) -> Email:
    because = "someone asked for a new password for this address's login"
    text, html = _render("reset_password", user, link, because)
    return Email(user.email, f"Reset your {current_app.config['APP_NAME']} password", text, html)


# Each email, with the kind of login token its link carries: a new one is a template pair, a
# composer and a line here.
ACCOUNT_EMAILS: dict[AccountEmail, tuple[str, Callable[[User, str], Email]]] = {
    AccountEmail.VERIFY: (LoginToken.VERIFY, finish_signup),
    AccountEmail.ALREADY_REGISTERED: (LoginToken.RESET, already_registered),
    AccountEmail.RESET: (LoginToken.RESET, reset_password),
}
