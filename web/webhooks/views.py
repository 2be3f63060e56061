"""Settings: the user's webhook endpoints, their deliveries and attempts."""

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from services import webhooks
from vocabulary.webhooks import EVENT_LABELS
from web.webhooks.forms import EndpointForm

NEW_SECRET = "new_webhook_secret"

bp = Blueprint("webhooks", __name__)


def _page(form: EndpointForm | None = None, shown=None, status: int = 200):
    endpoints = webhooks.endpoints_of(current_user.id)
    page = render_template(
        "webhooks/index.html",
        endpoints=[(e, webhooks.recent_deliveries(e)) for e in endpoints],
        form=form or EndpointForm(formdata=None),
        shown=shown,
        labels=EVENT_LABELS,
    )
    # A page showing a secret is kept by no cache, nor by the browser's history.
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/settings/webhooks")
@login_required
def index():
    """The user's endpoints, each with its status and recent deliveries (and a new secret, once,
    right after it was made)."""
    shown = session.pop(NEW_SECRET, None)
    if shown is not None:
        try:
            endpoint = webhooks.endpoint_of(current_user.id, shown["endpoint_id"])
        except webhooks.NotFound:
            return _page()
        return _page(shown=webhooks.WithSecret(endpoint, shown["secret"]))
    return _page()


def _show_once(added: webhooks.WithSecret):
    """Shown by the page this redirects to, once: a reload there neither shows it again nor
    adds or rotates again."""
    session[NEW_SECRET] = {"endpoint_id": added.endpoint.id, "secret": added.secret}
    return redirect(url_for(".index", _anchor="secret"), 303)


@bp.post("/settings/webhooks")
@login_required
def add():
    """Add an endpoint; its secret is shown once."""
    form = EndpointForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        added = webhooks.add_endpoint(current_user.id, form.url.data, form.events.data)
    except (webhooks.UnsafeURL, webhooks.TooMany) as err:
        form.url.errors.append(str(err))
        return _page(form, status=400)
    except webhooks.NoEvents as err:
        form.events.errors.append(str(err))
        return _page(form, status=400)
    flash(f"Endpoint added: {added.endpoint.url}. Copy its secret now.", "success")
    return _show_once(added)


@bp.post("/settings/webhooks/<int:endpoint_id>/rotate")
@login_required
def rotate(endpoint_id: int):
    """A new secret, shown once; the old one keeps signing for a while."""
    try:
        rotated = webhooks.rotate_secret(current_user.id, endpoint_id)
    except webhooks.NotFound:
        abort(404)
    flash("Secret rotated. Copy the new one now.", "success")
    return _show_once(rotated)


@bp.post("/settings/webhooks/<int:endpoint_id>/enable")
@login_required
def enable(endpoint_id: int):
    """Take deliveries again."""
    try:
        started = webhooks.enable(current_user.id, endpoint_id)
    except webhooks.NotFound:
        abort(404)
    flash(
        "Enabled: waiting events are delivered now."
        if started
        else "Enabled: waiting events are delivered within a few minutes.",
        "success",
    )
    return redirect(url_for(".index"))


@bp.post("/settings/webhooks/<int:endpoint_id>/delete")
@login_required
def delete(endpoint_id: int):
    """Delete an endpoint and its deliveries."""
    try:
        webhooks.delete(current_user.id, endpoint_id)
    except webhooks.NotFound:
        abort(404)
    flash("Endpoint deleted.", "success")
    return redirect(url_for(".index"))


@bp.post("/settings/webhooks/deliveries/<int:delivery_id>/resend")
@login_required
def resend(delivery_id: int):
    """Deliver the same event (same webhook-id) again."""
    try:
        webhooks.resend(current_user.id, delivery_id)
    except webhooks.NotFound:
        abort(404)
    flash("Sent again: the same event, with the same webhook-id.", "success")
    return redirect(url_for(".index"))
