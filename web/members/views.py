"""Users of an account: members and roles, invitations, and accepting one."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from core.accounts import Membership
from core.crypto import digest
from core.extensions import db
from core.invitations import InvitationLink, UserInvitation, workflow_id_for
from vocabulary.messages import (
    AcceptInvitation,
    CancelRequest,
    InvitationAccepted,
    InvitationStatus,
    ResendRequest,
)
from vocabulary.statuses import InvitationState
from web import limits, reconcile
from web.accounts.access import account_for, membership_for
from web.connect import lifecycle
from web.members import lifecycle as invitations
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
    if any(m.user.email.lower() == email for m in account.memberships):
        form.email.errors.append(f"{email} is already a user of {account.name}.")
        return _page(account_id, form, 400)
    try:
        limits.spend_sends(account, "LIMIT_INVITE")
    except limits.OverLimit as over:
        return _over_limit(account_id, over, form)
    invitation = UserInvitation(
        account=account,
        email=email,
        role=form.role.data,
        invited_by=current_user._get_current_object(),
        workflow_id=workflow_id_for(current_app.config["SECRET_KEY"], account.id, email),
    )
    db.session.add(invitation)
    db.session.flush()
    try:
        invitations.start(invitation)
    except lifecycle.AlreadyOpen:
        db.session.rollback()
        form.email.errors.append(
            f"{email} is already invited. Use 'Resend' below to send a fresh link."
        )
        return _page(account_id, form, 409)
    except Exception:
        db.session.rollback()
        current_app.logger.exception("could not start an invitation workflow")
        flash("The invitation could not be sent just now; nothing was saved. Try again.", "error")
        return _page(account_id, form, 503)
    db.session.commit()
    flash(f"Invitation sent to {email}.", "success")
    return redirect(url_for(".index", account_id=account.id))


def _member(account_id: int, membership_id: int) -> Membership:
    account = account_for(account_id, admin=True)
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.account_id != account.id:
        abort(404)
    return membership


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
    membership = _member(account_id, membership_id)
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
    membership = _member(account_id, membership_id)
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
    account = invitation.account
    try:
        undo = limits.spend_resend(invitation, lambda: limits.spend_sends(account, "LIMIT_INVITE"))
    except limits.OverLimit as over:
        return _over_limit(account_id, over)
    return _update(
        invitation,
        "resend",
        ResendRequest(current_user.name),
        f"A fresh invitation is on its way to {invitation.email}.",
        undo,
    )


def _over_limit(account_id: int, over: limits.OverLimit, form: InviteForm | None = None):
    """The users page, with what was not sent and when it can be: status 429."""
    flash(Markup("Not sent: ") + over.text, "error")
    page, status = _page(account_id, form, 429)
    return page, status, {"Retry-After": str(over.retry_after)}


def _update(invitation: UserInvitation, name: str, arg, done: str, undo=None):
    """Run an update (it answers once the row is written) and say what happened; `undo` runs
    when the workflow refused it."""
    try:
        lifecycle.update(invitation, name, arg, InvitationStatus)
    except WorkflowUpdateFailedError as err:
        if undo:
            undo()
        flash(f"Not done: {err.cause.message if err.cause else err}", "error")
    except RPCError:
        reconcile.check(invitation)  # its workflow is gone: the row catches up now
        flash("Not done: this invitation is already closed.", "error")
    except TimeoutError:
        flash("That is taking longer than usual; reload this page in a minute.", "info")
    else:
        flash(done, "success")
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
    return _update(
        invitation,
        "withdraw",
        CancelRequest(current_user.name),
        f"Invitation of {invitation.email} withdrawn.",
    )


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


@bp.get("/invitations/<token>")
def landing(token: str):
    """The emailed link: who invites you where; changes nothing (scanner-safe)."""
    invitation, problem = invitation_for_link(token)
    if problem:
        status = 404 if problem == "unknown" else 410
        return render_template("members/closed.html", invitation=invitation, reason=problem), status
    wrong_login = (
        current_user.is_authenticated and current_user.email.lower() != invitation.email.lower()
    )
    return render_template(
        "members/landing.html", invitation=invitation, token=token, wrong_login=wrong_login
    ), (403 if wrong_login else 200)


def accept_invitation(invitation: UserInvitation, user) -> str:
    """Accept through the workflow; returns '' or what went wrong, in words for the user."""
    try:
        lifecycle.update(invitation, "accept", AcceptInvitation(user.id), InvitationAccepted)
    except WorkflowUpdateFailedError as err:
        return err.cause.message if err.cause else "This invitation cannot be accepted."
    except RPCError:
        return "This invitation is no longer open."
    except TimeoutError:
        return "Accepting is taking longer than usual. Reload this page in a minute."
    return ""


@bp.post("/invitations/<token>/accept")
def accept(token: str):
    """Accept: only a login with the invited address may (sign up or log in first)."""
    invitation, problem = invitation_for_link(token)
    if problem:
        status = 404 if problem == "unknown" else 410
        return render_template("members/closed.html", invitation=invitation, reason=problem), status
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for(".landing", token=token)))
    if current_user.email.lower() != invitation.email.lower():
        return render_template(
            "members/landing.html", invitation=invitation, token=token, wrong_login=True
        ), 403
    error = accept_invitation(invitation, current_user)
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
