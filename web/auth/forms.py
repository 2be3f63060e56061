"""Sign-up and log-in forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from web.forms import single_line, strip

# Two Length rules, so a password that is too long is not told it is too short; both render as
# minlength / maxlength on the input.
PASSWORD_RULES = [
    DataRequired(),
    Length(min=10, message="Use at least 10 characters."),
    Length(max=200, message="Use at most 200 characters."),
]


class SignupForm(FlaskForm):
    name = StringField(
        "Name", filters=[strip], validators=[DataRequired(), Length(max=120), single_line]
    )
    firm_name = StringField(
        "Firm name (optional)",
        filters=[strip],
        validators=[Length(max=120), single_line],
        description="Shown to your clients in emails. Defaults to your name.",
    )
    email = EmailField(
        "Email", filters=[strip], validators=[DataRequired(), Email(), Length(max=254), single_line]
    )
    password = PasswordField("Password", validators=PASSWORD_RULES)


class LoginForm(FlaskForm):
    email = EmailField(
        "Email", filters=[strip], validators=[DataRequired(), Email(), Length(max=254)]
    )
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email", filters=[strip], validators=[DataRequired(), Email(), Length(max=254)]
    )


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=PASSWORD_RULES)


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField("The password you chose", validators=[DataRequired(), Length(max=200)])
