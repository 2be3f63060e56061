"""The API keys page: create a key (shown once), see each one's last use, revoke."""

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from services import api_keys
from web.forms import single_line, strip

NEW_SECRET = "new_api_key"

bp = Blueprint("api_keys", __name__, url_prefix="/settings/api-keys")


class KeyForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[strip],
        validators=[DataRequired(), Length(max=80), single_line],
        description="What uses it, e.g. 'Practice manager sync'.",
    )


def _page(form: KeyForm, secret: str = "", status: int = 200):
    keys = api_keys.of_user(current_user.id)
    page = render_template("api_keys/index.html", form=form, keys=keys, secret=secret)
    # The secret is on this page once: the browser must not keep it either.
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/")
@login_required
def index():
    """Your API keys (and a new one's secret, once, right after it was made)."""
    return _page(KeyForm(), secret=session.pop(NEW_SECRET, ""))


@bp.post("/")
@login_required
def create():
    """A new key, shown once on the page that answers."""
    form = KeyForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        key, secret = api_keys.create(current_user.id, form.name.data)
    except api_keys.TooManyKeys as many:
        form.name.errors.append(str(many))
        return _page(form, status=409)
    flash(f"Key '{key.name}' created. Copy it now: it is not shown again.", "success")
    # Shown by the page this redirects to, once: a reload there neither shows it again nor
    # makes another key.
    session[NEW_SECRET] = secret
    return redirect(url_for(".index"), 303)


@bp.post("/<int:key_id>/revoke")
@login_required
def revoke(key_id: int):
    """Revoke a key: calls with it are refused from now on."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    key = api_keys.revoke(current_user.id, key_id)
    if key is None:
        abort(404)
    flash(f"Key '{key.name}' revoked: calls with it are refused from now on.", "success")
    return redirect(url_for(".index"), 303)
