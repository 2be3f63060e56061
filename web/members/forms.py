"""Forms for inviting users and changing roles."""

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf

from core.accounts import Membership
from web.forms import email_field

ROLE_CHOICES = [
    SelectChoice(Membership.MEMBER, "Member: sees the account, can connect Amazon directly"),
    SelectChoice(Membership.ADMIN, "Admin: also invites users and sends connection requests"),
]


class InviteForm(FlaskForm):
    email = email_field("Email", "Usually your client, the owner of the Amazon seller account.")
    role = SelectField(
        "Role",
        choices=ROLE_CHOICES,
        default=Membership.MEMBER,
        validators=[AnyOf(Membership.ROLES, message="Choose admin or member.")],
    )


class RoleForm(FlaskForm):
    role = SelectField(
        "Role",
        choices=[SelectChoice(r, r.capitalize()) for r in Membership.ROLES],
        validators=[AnyOf(Membership.ROLES, message="Choose admin or member.")],
    )
