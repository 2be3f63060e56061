"""An email as composed by the app: recipient, subject, text and HTML from a template pair."""

from dataclasses import dataclass

from flask import current_app, render_template
from flask_mail import Message


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str

    def message(self, message_id: str) -> Message:
        """A Flask-Mail message with a stable Message-ID, so a retried send is recognisable."""
        msg = Message(
            subject=self.subject,
            recipients=[self.to],
            body=self.text,
            html=self.html,
            sender=current_app.config["MAIL_DEFAULT_SENDER"],
        )
        domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].strip("> ")
        msg.msgId = f"<{message_id}@{domain}>"
        return msg


def render(name: str, **context) -> tuple[str, str]:
    """The text and HTML bodies from templates/email/{name}.txt and .html."""
    return (
        render_template(f"email/{name}.txt", **context),
        render_template(f"email/{name}.html", **context),
    )
