"""Who may see and do what in an account, checked on the server for every request."""

from flask import abort
from flask_login import current_user

from core.accounts import ClientAccount, Membership
from core.extensions import db


def membership_for(account_id: int) -> Membership:
    """The signed-in user's membership of the account; 404 for anyone outside it (no hint)."""
    membership = Membership.of(current_user.id, account_id)
    if membership is None:
        abort(404)
    return membership


def account_for(account_id: int, admin: bool = False) -> ClientAccount:
    """The account if the user belongs to it (and is an admin, when asked); 404 or 403 if not."""
    membership = membership_for(account_id)
    if admin and not membership.is_admin:
        abort(403, "Only the account's admins can do that.")
    return membership.account


def row_of(model, row_id: int, account_id: int, admin: bool = False):
    """A row of `model` (by id) that belongs to the account, for its members (admins, when
    asked); 404 for any other id, as for anyone outside the account."""
    account = account_for(account_id, admin=admin)
    row = db.session.get(model, row_id)
    if row is None or row.account_id != account.id:
        abort(404)
    return row
