"""An email as composed by the app: recipient, subject, text and HTML from a template pair, and
whose name it comes in.

Every email leaves from the configured sender address. Those sent on a bookkeeper's behalf show
"<bookkeeper> (<firm>) via <APP_NAME>" and take replies at the bookkeeper's own address; the rest
show APP_NAME alone.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import parseaddr

from flask import current_app, render_template
from flask_mail import Message

from core.users import User


class _Message(Message):
    """Flask-Mail re-parses the From it is given and mangles display names with commas, quotes,
    parentheses or non-ASCII letters; this one sets From as an Address, which the SMTP policy
    quotes, encodes (RFC 2047) and folds correctly. (A formataddr() string is re-parsed by that
    policy and, long and non-ASCII, comes out garbled: a name with a comma split in two.)"""

    from_address: Address | None = None

    def _message(self):
        msg = super()._message()
        del msg["From"]
        msg["From"] = self.from_address
        return msg


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    from_name: str = ""  # empty: APP_NAME
    reply_to: str = ""  # empty: no Reply-To (replies reach the sender address)

    def message(self, message_id: str) -> Message:
        """A Flask-Mail message with a stable Message-ID, so a retried send is recognisable."""
        address = sender_address()
        msg = _Message(
            subject=self.subject,
            recipients=[self.to],
            body=self.text,
            html=self.html,
            sender=address,  # also the envelope's MAIL FROM
            reply_to=self.reply_to or None,
        )
        name = self.from_name or current_app.config["APP_NAME"]
        msg.from_address = Address(display_name=name, addr_spec=address)
        domain = address.rsplit("@", 1)[-1]
        msg.msgId = f"<{message_id}@{domain}>"
        return msg


def sender_address() -> str:
    """The address part of MAIL_DEFAULT_SENDER (a display name there is ignored)."""
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


def invitation_subject(subject: str, reminder: str | None = None, new_link: bool = False) -> str:
    """An invitation's subject as an inbox should thread it: 'Reminder: …' for a reminder
    ('Reminder (3 days left): …' when `reminder` says how long), 'New link: …' for a resend, so
    the live one is never buried under dead ones."""
    if reminder is not None:
        return f"Reminder ({reminder}): {subject}" if reminder else f"Reminder: {subject}"
    return f"New link: {subject}" if new_link else subject


def person(name: str, firm: str | None) -> str:
    """'Bea Keeper (Ledger & Co)', or 'Bea Keeper' when the firm is empty or is the name."""
    firm = (firm or "").strip()
    return f"{name} ({firm})" if firm and firm != name else name


def sender(user: User) -> dict[str, str]:
    """How an email's templates name the person it comes from: their firm, and themselves with
    the firm once, never twice."""
    return {"firm": user.firm_name, "who": person(user.name, user.firm_name)}


def on_behalf_of(user: User) -> dict[str, str]:
    """From and Reply-To of an email sent for `user` to someone else (a seller, an invitee)."""
    from_name = f"{person(user.name, user.firm_name)} via {current_app.config['APP_NAME']}"
    return {"from_name": from_name, "reply_to": user.email}


def at_amazon(bookkeeper_name: str) -> list[str]:
    """What the seller is told before Amazon's consent page: which app it names, what will be
    read, which accounts can connect, and how to take it back (the landing page and the email)."""
    config = current_app.config
    return [
        f"Amazon's page will ask you to authorize “{config['AMAZON_APP_NAME']}”,"
        f" the app {bookkeeper_name} uses.",
        f"Once connected, {bookkeeper_name} can see {config['AMAZON_ACCESS_DESCRIPTION']}.",
        "Only a Seller Central account (a third-party, 3P, seller) can connect;"
        " Vendor Central accounts cannot.",
        "You can remove the access at any time in Seller Central: Settings → User"
        " Permissions, or Apps and Services → Manage Your Apps.",
    ]


def render(name: str, **context) -> tuple[str, str]:
    """The text and HTML bodies from templates/email/{name}.txt and .html.

    `why` (one or two sentences: why the recipient got it, who to ask) ends both versions."""
    return (
        render_template(f"email/{name}.txt", **context),
        render_template(f"email/{name}.html", **context),
    )


def email_date(moment: datetime | None) -> str:
    """For emails, read anywhere and any time later: 'Friday 4 December 2026, 14:05 UTC'.
    Naive times are UTC, as the database keeps them."""
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%A} {moment.day} {moment:%B %Y, %H:%M} UTC"
