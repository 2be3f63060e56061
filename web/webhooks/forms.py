"""The form that adds a webhook endpoint."""

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from vocabulary.webhooks import EVENT_LABELS
from web.forms import single_line, strip


class EndpointForm(FlaskForm):
    url = URLField(
        "Endpoint URL",
        filters=[strip],
        validators=[DataRequired(), Length(max=2000), single_line],
        description="Where we POST each event, signed as Standard Webhooks describe (https).",
    )
    events = SelectMultipleField(
        "Events",
        choices=[
            SelectChoice(e.value, f"{label} ({e.value})") for e, label in EVENT_LABELS.items()
        ],
        default=[event.value for event in EVENT_LABELS],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        # No DataRequired: on checkboxes it would make browsers require every one of them;
        # the service refuses none (NoEvents).
    )
