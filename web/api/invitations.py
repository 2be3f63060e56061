"""/api/v1/invitations: invite someone as a user of an account (they connect Amazon
themselves), list and withdraw invitations, by the same services as the Users page."""

from flask import url_for

from core.extensions import db
from core.invitations import UserInvitation
from services import invitations, limits
from web.api import auth, problems
from web.api.idempotency import idempotent
from web.api.pagination import page, page_schema
from web.api.problems import Problem
from web.api.schemas import InvitationCreateSchema, InvitationFilterSchema, InvitationSchema

blp = auth.blueprint("invitations", "invitations", "Invitations of users into an account.")


@blp.post("/")
@idempotent
@blp.arguments(InvitationCreateSchema)
@blp.response(201, InvitationSchema)
def create_invitation(data: dict):
    """Email an invitation to join the account as a member or an admin."""
    membership = auth.membership(data["account_id"], admin=True)
    email = data["email"].strip().lower()
    try:
        invitation = invitations.invite(membership.account_id, auth.user_id(), email, data["role"])
    except invitations.AlreadyMember:
        raise Problem(
            409, f"{email} is a user of this account already.", "already-a-user"
        ) from None
    except invitations.AlreadyOpen:
        raise Problem(409, f"{email} is invited already.", "already-open") from None
    except limits.OverLimit as over:
        raise auth.over_limit(over) from None
    except invitations.Unavailable:
        raise problems.unavailable(
            "The invitation could not be sent just now; nothing was sent. Try again in a minute."
        ) from None
    location = url_for(".get_invitation", public_id=invitation.public_id)
    return invitation, 201, {"Location": location}


@blp.get("/")
@blp.arguments(InvitationFilterSchema, location="query")
@blp.response(200, page_schema(InvitationSchema))
def list_invitations(args: dict):
    """Invitations of your accounts, newest first; filter by status and account."""
    return page(auth.own(UserInvitation, args), UserInvitation.id, args)


@blp.get("/<public_id>")
@blp.response(200, InvitationSchema)
def get_invitation(public_id: str):
    """One invitation."""
    return auth.one(UserInvitation, "invitation", public_id=public_id)


@blp.post("/<public_id>/withdraw")
@idempotent
@blp.response(200, InvitationSchema)
def withdraw(public_id: str):
    """Withdraw an invitation: its link stops working."""
    invitation = auth.one(UserInvitation, "invitation", admin=True, public_id=public_id)
    change = invitations.withdraw(invitation.id, auth.user_id())
    if not change.done:
        raise Problem(409, change.message.removeprefix("Not done: "), "not-done")
    db.session.refresh(invitation)
    return invitation
