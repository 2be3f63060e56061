"""Emails about a user's webhook endpoints: they come from the app itself, to the user."""

from collections.abc import Callable

from flask import current_app

from core.emails import Email, render
from core.webhooks import WebhookEndpoint
from vocabulary.notices import WebhookNotice


def endpoint_disabled(endpoint: WebhookEndpoint, base_url: str) -> Email:
    """The endpoint kept failing for the whole window: no more deliveries until re-enabled."""
    app_name = current_app.config["APP_NAME"]
    why = f"You got this email because you added this webhook endpoint at {app_name}."
    text, html = render(
        "webhook_disabled",
        user=endpoint.user,
        endpoint=endpoint,
        settings_link=f"{base_url}/settings/webhooks",
        why=why,
    )
    return Email(endpoint.user.email, f"Webhook endpoint disabled: {endpoint.url}", text, html)


# A new email is a template pair, a composer and a line here.
WEBHOOK_NOTICES: dict[WebhookNotice, Callable[[WebhookEndpoint, str], Email]] = {
    WebhookNotice.DISABLED: endpoint_disabled,
}
