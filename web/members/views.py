"""Users of an account: members and roles, invitations, and accepting one."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from core.accounts import Membership
from core.crypto import digest
from core.extensions import db
from core.invitations import InvitationLink, UserInvitation
from services import invitations, reconcile
from services.changes import Change
from services.limits import OverLimit
from vocabulary.statuses import InvitationState
from web import limits
from web.accounts.access import account_for, membership_for, row_of
from web.members.forms import InviteForm, RoleForm

bp = Blueprint("members", __name__)


def _page(account_id: int, form: InviteForm | None = None, status: int = 200):
    membership = membership_for(account_id)
    account = membership.account
    pending = db.session.scalars(
        db.select(UserInvitation)
        .filter_by(account_id=account.id, status=InvitationState.PENDING)
        .order_by(UserInvitation.created_at)
    ).all()
    return render_template(
        "members/index.html",
        account=account,
        membership=membership,
        invitations=pending,
        form=form or InviteForm(),
        role_form=RoleForm(),
    ), status


@bp.get("/accounts/<int:account_id>/users")
@login_required
def index(account_id: int):
    """Who is in the account, and who is invited."""
    return _page(account_id)


@bp.post("/accounts/<int:account_id>/users/invite")
@login_required
def invite(account_id: int):
    """Invite someone by email: a durable invitation with reminders and expiry."""
    account = account_for(account_id, admin=True)
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(account_id, form, 400)
    email = form.email.data.lower()
    try:
        invitations.invite(account.id, current_user.id, email, form.role.data)
    except invitations.AlreadyMember:
        form.email.errors.append(f"{email} is already a user of {account.name}.")
        return _page(account_id, form, 400)
    except OverLimit as over:
        return _over_limit(account_id, over, form)
    except invitations.AlreadyOpen:
        form.email.errors.append(
            f"{email} is already invited. Use 'Resend' below to send a fresh link."
        )
        return _page(account_id, form, 409)
    except invitations.Unavailable:
        flash("The invitation could not be sent just now; nothing was saved. Try again.", "error")
        return _page(account_id, form, 503)
    flash(f"Invitation sent to {email}.", "success")
    return redirect(url_for(".index", account_id=account.id))


def _admins_left(account_id: int) -> int:
    # Lock the account's memberships so two admins demoting each other cannot both succeed.
    rows = db.session.scalars(
        db.select(Membership).filter_by(account_id=account_id).with_for_update()
    ).all()
    return sum(1 for m in rows if m.is_admin)


@bp.post("/accounts/<int:account_id>/users/<int:membership_id>/role")
@login_required
def change_role(account_id: int, membership_id: int):
    """Make a user an admin or a member; an account always keeps an admin."""
    membership = row_of(Membership, membership_id, account_id, admin=True)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose admin or member.", "error")
        return redirect(url_for(".index", account_id=account_id))
    membership.role = form.role.data
    if _admins_left(account_id) == 0:
        db.session.rollback()
        flash("An account needs at least one admin: make someone else an admin first.", "error")
        return redirect(url_for(".index", account_id=account_id))
    db.session.commit()
    flash(
        f"{membership.user.name} is now {'an admin' if membership.is_admin else 'a member'}.",
        "success",
    )
    return redirect(url_for(".index", account_id=account_id))


@bp.post("/accounts/<int:account_id>/users/<int:membership_id>/remove")
@login_required
def remove(account_id: int, membership_id: int):
    """Remove a user: they lose access at once (every page checks membership)."""
    membership = row_of(Membership, membership_id, account_id, admin=True)
    name = membership.user.name
    db.session.delete(membership)
    if _admins_left(account_id) == 0:
        db.session.rollback()
        flash("An account needs at least one admin: make someone else an admin first.", "error")
        return redirect(url_for(".index", account_id=account_id))
    db.session.commit()
    flash(f"{name} no longer has access to this account.", "success")
    if membership.user_id == current_user.id:
        return redirect(url_for("accounts.index"))
    return redirect(url_for(".index", account_id=account_id))


def _invitation(account_id: int, public_id: str) -> UserInvitation:
    account = account_for(account_id, admin=True)
    invitation = db.session.scalar(
        db.select(UserInvitation).filter_by(public_id=public_id, account_id=account.id)
    )
    if invitation is None:
        abort(404)
    return invitation


@bp.post("/accounts/<int:account_id>/invitations/<public_id>/resend")
@login_required
def resend(account_id: int, public_id: str):
    """A fresh link to the invitee; earlier links stop working."""
    invitation = _invitation(account_id, public_id)
    try:
        change = invitations.resend(invitation.id, current_user.id)
    except OverLimit as over:
        return _over_limit(account_id, over)
    return _said(invitation, change)


def _over_limit(account_id: int, over: OverLimit, form: InviteForm | None = None):
    """The users page, with what was not sent and when it can be: status 429."""
    flash(Markup("Not sent: ") + limits.said(over), "error")
    page, status = _page(account_id, form, 429)
    return page, status, {"Retry-After": str(over.retry_after)}


def _said(invitation: UserInvitation, change: Change):
    """The users page again, with what became of the admin's change."""
    flash(change.message, change.level)
    return redirect(url_for(".index", account_id=invitation.account_id))


@bp.route("/accounts/<int:account_id>/invitations/<public_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(account_id: int, public_id: str):
    """Withdraw an invitation: its link stops working. GET asks first (what the invitee will
    see, and a way back), without JavaScript."""
    invitation = _invitation(account_id, public_id)
    if not invitation.is_open:
        flash("That invitation is already closed.", "info")
        return redirect(url_for(".index", account_id=account_id))
    if request.method == "GET":
        return render_template(
            "members/confirm_withdraw.html", invitation=invitation, account=invitation.account
        )
    return _said(invitation, invitations.withdraw(invitation.id, current_user.id))


def invitation_for_link(token: str) -> tuple[UserInvitation | None, str]:
    """The invitation behind an emailed link, and why it cannot be used ('' when it can)."""
    link = db.session.scalar(db.select(InvitationLink).filter_by(token_hash=digest(token)))
    if link is None:
        return None, "unknown"
    invitation = link.invitation
    if link.superseded_at is None:
        reconcile.check(invitation)  # ops may have ended its workflow in Temporal
    if invitation.status != InvitationState.PENDING:
        return invitation, invitation.status
    if link.superseded_at is not None:
        return invitation, "replaced"
    return invitation, ""


def _closed(invitation: UserInvitation | None, problem: str):
    """Why an invitation link no longer leads anywhere: 404 unknown, 410 closed or replaced."""
    status = 404 if problem == "unknown" else 410
    return render_template("members/closed.html", invitation=invitation, reason=problem), status


@bp.get("/invitations/<token>")
def landing(token: str):
    """The emailed link: who invites you where; changes nothing (scanner-safe)."""
    invitation, problem = invitation_for_link(token)
    if problem:
        return _closed(invitation, problem)
    wrong_login = (
        current_user.is_authenticated and current_user.email.lower() != invitation.email.lower()
    )
    return render_template(
        "members/landing.html", invitation=invitation, token=token, wrong_login=wrong_login
    ), (403 if wrong_login else 200)


@bp.post("/invitations/<token>/accept")
def accept(token: str):
    """Accept: only a login with the invited address may (sign up or log in first)."""
    invitation, problem = invitation_for_link(token)
    if problem:
        return _closed(invitation, problem)
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for(".landing", token=token)))
    if current_user.email.lower() != invitation.email.lower():
        return render_template(
            "members/landing.html", invitation=invitation, token=token, wrong_login=True
        ), 403
    error = invitations.accept(invitation.id, current_user.id)
    if error:
        return render_template(
            "members/closed.html", invitation=invitation, reason="error", message=error
        ), 409
    flash(f"Welcome to {invitation.account.name}.", "success")
    return redirect(url_for("accounts.show", account_id=invitation.account_id))


@bp.app_template_global()
def invitation_signup_url(token: str) -> str:
    return url_for("auth.signup", invitation=token)


def signup_invitation() -> tuple[UserInvitation | None, str]:
    """The invitation a sign-up page was opened for (?invitation=token), if any."""
    token = request.args.get("invitation", "")
    if not token:
        return None, ""
    invitation, problem = invitation_for_link(token)
    return (invitation, token) if invitation is not None and not problem else (None, "")
