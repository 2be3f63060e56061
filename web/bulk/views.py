"""Bulk invites: upload a CSV of businesses and owners, see each row's verdict, then send."""

import base64
import binascii
import functools

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from services import bulk_invites
from services.bulk_invites import BadCsv, Kind
from services.limits import OverLimit
from web import limits
from web.bulk.forms import SendForm, UploadForm

bp = Blueprint("bulk", __name__)

LABELS = {
    Kind.INVALID: "Invalid",
    Kind.NEW_ACCOUNT: "New account",
    Kind.REQUEST: "Request",
    Kind.ALREADY_CONNECTED: "Already connected",
    Kind.ALREADY_OPEN: "Already open",
    Kind.SENT: "Sent",
    Kind.NOT_SENT: "Not sent",
}
NOT_UTF8 = (
    "The file is not UTF-8 text: in your spreadsheet, save it as “CSV UTF-8” and upload that."
)


def counts_as_check(view):
    """A POST of the page checks or sends a list: LIMIT_BULK per user, as the API's."""

    @functools.wraps(view)
    def limited(*args, **kwargs):
        if request.method == "POST":
            try:
                bulk_invites.spend_check(current_user.id)
            except OverLimit as over:
                return limits.too_many(over)
        return view(*args, **kwargs)

    return limited


def _carried(text: str) -> str:
    """The CSV as the confirm form carries it: line breaks and all, in one attribute."""
    return base64.urlsafe_b64encode(text.encode()).decode()


def _uncarried(value: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(value.encode()).decode()
    except (binascii.Error, ValueError):
        return None


def _text_of(form: UploadForm) -> str:
    """The uploaded file's text, or the pasted text; BadCsv if neither or both."""
    upload = form.file.data
    pasted = (form.pasted.data or "").strip()
    if upload and upload.filename:
        if pasted:
            raise BadCsv("Upload a file or paste the CSV, not both.")
        try:  # the whole body is at most MAX_CONTENT_LENGTH; parse_csv says if it is too much
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadCsv(NOT_UTF8) from None
    if not pasted:
        raise BadCsv("Choose a CSV file to upload, or paste the CSV.")
    return pasted


def _upload_page(form: UploadForm, error: str = ""):
    return render_template("bulk/upload.html", form=form, error=error)


@bp.route("/requests/bulk", methods=["GET", "POST"])
@login_required
@counts_as_check
def upload():
    """Upload or paste a CSV; every row's verdict is shown before anything is sent."""
    form = UploadForm()
    if not form.validate_on_submit():
        expired = "This page expired: choose the file again." if form.is_submitted() else ""
        return _upload_page(form, expired)
    try:
        text = _text_of(form)
        rows = bulk_invites.parse_csv(text)
    except BadCsv as bad:
        return _upload_page(form, bad.message)
    verdicts = bulk_invites.plan(current_user.id, rows)
    sendable = sum(v.sendable for v in verdicts)
    return render_template(
        "bulk/preview.html",
        verdicts=verdicts,
        sendable=sendable,
        labels=LABELS,
        form=SendForm(csv=_carried(text)),
    ), {"Cache-Control": "no-store"}


@bp.post("/requests/bulk/send")
@login_required
@counts_as_check
def send():
    """'Send N requests': the file is read and planned again, and its sendable rows sent."""
    form = SendForm()
    text = _uncarried(form.csv.data or "") if form.validate_on_submit() else None
    try:
        rows = bulk_invites.parse_csv(text) if text is not None else None
    except BadCsv:
        rows = None
    if not rows:
        flash("That preview is out of date: upload the file again to check it.", "error")
        return redirect(url_for(".upload"), 303)
    results = bulk_invites.send(current_user.id, rows)
    return render_template(
        "bulk/results.html",
        results=results,
        sent=sum(r.sent for r in results),
        labels=LABELS,
    ), {"Cache-Control": "no-store"}


@bp.get("/requests/bulk/example.csv")
@login_required
def example():
    """A CSV to start from, with the columns and three rows."""
    return (
        bulk_invites.EXAMPLE_CSV,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="bulk-requests-example.csv"',
        },
    )
