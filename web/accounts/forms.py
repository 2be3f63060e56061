"""Client account forms."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from web.forms import single_line, strip


class AccountForm(FlaskForm):
    name = StringField(
        "Business name",
        filters=[strip],
        validators=[DataRequired(), Length(max=120), single_line],
        description="The business whose books you keep, as its owner would recognise it.",
    )
