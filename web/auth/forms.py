"""Sign-up and log-in forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from web.forms import single_line, strip


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
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=10, max=200, message="Use at least 10 characters.")],
    )


class LoginForm(FlaskForm):
    email = EmailField("Email", filters=[strip], validators=[DataRequired(), Email()])
    password = PasswordField("Password", validators=[DataRequired()])


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", filters=[strip], validators=[DataRequired(), Email()])


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=10, max=200, message="Use at least 10 characters.")],
    )


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField("The password you chose", validators=[DataRequired()])
