"""Forms of the bulk invites page."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, TextAreaField

from services.bulk_invites import COLUMN_LIST


class UploadForm(FlaskForm):
    file = FileField(
        "CSV file",
        description=f"One row per business; its first line names the columns: {COLUMN_LIST}.",
    )
    pasted = TextAreaField(
        "Or paste the CSV here",
        description="The same columns, as a spreadsheet copies them as CSV.",
    )


class SendForm(FlaskForm):
    # The previewed file, planned again when sent: no verdict travels through the browser.
    csv = HiddenField()
