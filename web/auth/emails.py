"""Emails about a login."""

from web.auth.models import User
from web.emails import Email, render


def finish_signup(user: User, link: str) -> Email:
    text, html = render("finish_signup", user=user, link=link, firm=user.firm_name)
    return Email(user.email, "Finish signing up to Amazon Connect", text, html)


def already_registered(user: User, link: str) -> Email:
    text, html = render("already_registered", user=user, link=link, firm=user.firm_name)
    return Email(user.email, "You already have a login at Amazon Connect", text, html)


def reset_password(user: User, link: str) -> Email:
    text, html = render("reset_password", user=user, link=link, firm=user.firm_name)
    return Email(user.email, "Reset your Amazon Connect password", text, html)
