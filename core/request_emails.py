"""The emails of a connection request, composed in one place for the preview and for sending."""

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from core import marketplaces
from core.accounts import AmazonConnection, Membership
from core.emails import Email, invitation_subject, on_behalf_of, person, render, sender
from core.extensions import db
from core.requests import Authorization, ConnectionRequest
from vocabulary.notices import RequestNotice
from vocabulary.statuses import Outcome, RequestState

# Shown in the bookkeeper's preview where the seller's private link will go.
PREVIEW_LINK = "https://…/connect/(a private link made when you press Send)"


def _context(request: ConnectionRequest, **extra) -> dict:
    bookkeeper = request.requested_by
    return {
        "connection_request": request,
        "account": request.account,
        "bookkeeper": bookkeeper,
        **sender(bookkeeper),
        "marketplace": marketplaces.get(request.marketplace),
        "why": _why_bookkeeper(request),  # emails to the seller say theirs
        **extra,
    }


def _why_bookkeeper(request: ConnectionRequest) -> str:
    """Why the bookkeeper gets it, and how to reach the seller they asked."""
    at = f"{request.account.name}'s Amazon account at {current_app.config['APP_NAME']}"
    if request.kind == ConnectionRequest.DIRECT:
        return f"You got this email because you connected {at} yourself."
    return (
        f"You got this email because you asked {request.client_name} to connect {at}."
        f" To reach {request.client_name}, write to {request.client_email}."
    )


def _why_seller(request: ConnectionRequest, because: str) -> str:
    return (
        f"You got this email because {because}."
        f" Questions? Reply to this email to reach {request.requested_by.name}."
    )


def seller_invitation(
    request: ConnectionRequest,
    link: str,
    expires_at: datetime | None,
    reminder_number: int = 0,
    days_left: int | None = None,
    new_link: bool = False,
    regions: list[str] | None = None,
) -> Email:
    """The email the account owner receives, with the 'Continue to connect' link. `new_link`: sent
    again (a resend, a new address), so the subject says so and threads do not bury it.
    `regions`: the marketplaces it asks for (a group's open ones; the preview says them)."""
    asked_for = _regions(request, regions)
    who = person(request.requested_by.name, request.requested_by.firm_name)
    asked = f"{who} asked you to connect {request.account.name}'s Amazon account"
    if request.is_renewal:
        asked = f"you connected {request.account.name}'s Amazon account for {who}"
    why = _why_seller(request, asked)
    context = _context(
        request,
        link=link,
        expires_at=expires_at,
        reminder=reminder_number,
        days_left=days_left,
        why=why,
        regions=asked_for,
    )
    text, html = render("invite_seller", **context)
    left = f"{days_left} day{'s' if days_left != 1 else ''} left" if days_left else "last day"
    ask = f"connect {request.account.name}'s Amazon account"
    if len(asked_for) > 1:
        ask += f" in {len(asked_for)} regions"
    if request.is_renewal:
        ask = f"renew {request.account.name}'s Amazon connection"
    subject = invitation_subject(
        f"{who} asks you to {ask}",
        left if reminder_number else None,
        new_link,
    )
    return Email(request.client_email, subject, text, html, **on_behalf_of(request.requested_by))


def _regions(request: ConnectionRequest, countries: list[str] | None = None) -> list:
    """The marketplaces a request asks for together with its group's open ones."""
    if countries is None:
        countries = [m.marketplace for m in request.group() if m.is_open or m is request]
    return [marketplaces.get(c) for c in countries]


def bookkeeper_invitation_copy(request: ConnectionRequest, expires_at: datetime | None) -> Email:
    asked_for = _regions(request)
    context = _context(request, expires_at=expires_at, regions=asked_for)
    text, html = render("invite_bookkeeper", **context)
    countries = ", ".join(m.country for m in asked_for)
    subject = f"Request sent: {request.client_name} to connect Amazon ({countries})"
    if request.is_renewal:
        subject = (
            f"Renewal due: {request.account.name}'s Amazon connection ({request.marketplace});"
            f" we asked {request.client_name}"
        )
    return Email(request.requested_by.email, subject, text, html)


def bookkeeper_reminded(
    request: ConnectionRequest, number: int, total: int, days_left: int
) -> Email:
    context = _context(request, number=number, total=total, days_left=days_left)
    text, html = render("reminded_bookkeeper", **context)
    subject = f"Reminder {number} of {total} sent to {request.client_name} ({request.account.name})"
    return Email(request.requested_by.email, subject, text, html)


# ---- notices: each composed from the request and the app's address alone; None: nobody to tell


def _seller_id(request: ConnectionRequest) -> str:
    authorization = db.session.scalars(
        db.select(Authorization).filter_by(request_id=request.id, outcome=Outcome.CONNECTED)
    ).first()
    return authorization.selling_partner_id if authorization else ""


def _renew_link(request: ConnectionRequest, base_url: str) -> str:
    return f"{base_url}/accounts/{request.account_id}/requests/{request.public_id}/renew"


def bookkeeper_connected(request: ConnectionRequest, base_url: str) -> Email:
    group = request.group()
    done = [marketplaces.get(m.marketplace) for m in group if m.status == RequestState.CONNECTED]
    waiting = [marketplaces.get(m.marketplace) for m in group if m.is_open]
    context = _context(
        request, selling_partner_id=_seller_id(request), group=group, done=done, waiting=waiting
    )
    text, html = render("connected_bookkeeper", **context)
    subject = f"{request.account.name} is connected to Amazon {request.marketplace} and ready"
    if len(group) > 1:
        progress = "all regions connected" if not waiting else f"{len(done)} of {len(group)}"
        subject = (
            f"{request.account.name} is connected to Amazon {request.marketplace} ({progress})"
        )
    if request.is_renewal:
        subject = f"Renewed: {request.account.name}'s Amazon {request.marketplace} connection"
    return Email(request.requested_by.email, subject, text, html)


def _why_owner(request: ConnectionRequest) -> str:
    """Why the seller who connected it gets an email about the connection."""
    who = person(request.requested_by.name, request.requested_by.firm_name)
    return _why_seller(request, f"you connected {request.account.name}'s Amazon account for {who}")


def seller_connected(request: ConnectionRequest, base_url: str) -> Email:
    text, html = render("connected_seller", **_context(request, why=_why_owner(request)))
    firm = request.requested_by.firm_name
    subject = f"You connected {request.account.name}'s Amazon account to {firm}"
    if request.is_renewal:
        subject = f"You renewed {request.account.name}'s Amazon connection with {firm}"
    return Email(request.client_email, subject, text, html, **on_behalf_of(request.requested_by))


def bookkeeper_failed(request: ConnectionRequest, base_url: str) -> Email:
    text, html = render("failed_bookkeeper", **_context(request))
    subject = f"Connecting {request.account.name} to Amazon {request.marketplace} failed"
    return Email(request.requested_by.email, subject, text, html)


def bookkeeper_expired(request: ConnectionRequest, base_url: str) -> Email:
    context = _context(request, renew_link=_renew_link(request, base_url))
    text, html = render("expired_bookkeeper", **context)
    subject = f"{request.client_name} did not connect {request.account.name} in time: send again?"
    return Email(request.requested_by.email, subject, text, html)


def bookkeeper_new_link_asked(request: ConnectionRequest, base_url: str) -> Email:
    context = _context(request, renew_link=_renew_link(request, base_url))
    text, html = render("new_link_asked_bookkeeper", **context)
    subject = f"{request.client_name} asks for a new link to connect {request.account.name}"
    return Email(request.requested_by.email, subject, text, html)


def bookkeeper_closed_by_operations(request: ConnectionRequest, base_url: str) -> Email:
    """Ops withdrew the request in Temporal, or ended its workflow there."""
    withdrawn = request.status == RequestState.CANCELLED
    how = "withdrew" if withdrawn else "closed"
    context = _context(request, how=how, renew_link=_renew_link(request, base_url))
    text, html = render("closed_by_operations_bookkeeper", **context)
    subject = (
        f"Request to {request.client_name} to connect {request.account.name} was"
        f" {'withdrawn' if withdrawn else 'closed'} by operations"
    )
    return Email(request.requested_by.email, subject, text, html)


def inviter_member_connected(request: ConnectionRequest, base_url: str) -> Email | None:
    """To the admin who invited the member who just connected Amazon themselves."""
    membership = db.session.scalar(
        db.select(Membership).filter_by(
            account_id=request.account_id, user_id=request.requested_by_id
        )
    )
    if membership is None or membership.invited_by is None:
        return None  # nobody invited them: nobody to tell
    inviter = membership.invited_by
    member = request.requested_by
    why = (
        f"You got this email because you invited {member.name} to {request.account.name}"
        f" at {current_app.config['APP_NAME']}. To reach {member.name}, write to {member.email}."
    )
    context = _context(request, inviter=inviter, selling_partner_id=_seller_id(request), why=why)
    text, html = render("member_connected_inviter", **context)
    subject = f"{request.requested_by.name} connected {request.account.name} to Amazon"
    return Email(inviter.email, subject, text, html)


def bookkeeper_wrong_account(request: ConnectionRequest, base_url: str) -> Email | None:
    """The seller signed in at Amazon with an account that does not sell in the marketplace."""
    authorization = db.session.scalars(
        db.select(Authorization)
        .filter_by(request_id=request.id, outcome=Outcome.WRONG_ACCOUNT)
        .order_by(Authorization.id)
    ).first()
    if authorization is None:
        return None  # nothing to tell (the row was removed)
    marketplace = marketplaces.get(request.marketplace)
    sells_in = [marketplaces.get(c) for c in authorization.sells_in_countries]
    context = _context(
        request,
        authorization=authorization,
        sells_in=sells_in,
        new_request_link=f"{base_url}/accounts/{request.account_id}/connect/request",
    )
    text, html = render("wrong_account_bookkeeper", **context)
    subject = (
        f"{request.client_name} signed in with an account that does not sell in {marketplace.place}"
    )
    return Email(request.requested_by.email, subject, text, html)


def bookkeeper_app_refused(request: ConnectionRequest, base_url: str) -> Email:
    """Amazon refused the app itself when the seller came back: not the seller's doing, nor the
    bookkeeper's; the operators are alerted (StuckReason) and the request stays open."""
    context = _context(
        request,
        request_link=f"{base_url}/accounts/{request.account_id}/requests/{request.public_id}",
    )
    text, html = render("app_refused_bookkeeper", **context)
    subject = (
        f"{request.client_name} could not connect {request.account.name}: a problem on our side"
    )
    return Email(request.requested_by.email, subject, text, html)


def _connection_ended(request: ConnectionRequest, base_url: str, what: str) -> Email | None:
    """The health check found the connection this request stored `what` ("revoked" or
    "lapsed") at Amazon: the bookkeeper who asked learns it, with one click to ask again."""
    connection = db.session.scalars(
        db.select(AmazonConnection).filter_by(request_id=request.id)
    ).first()
    if connection is None:
        return None  # disconnected meanwhile: nothing left to tell
    invite = request.kind == ConnectionRequest.INVITE
    reconnect = (
        _renew_link(request, base_url) if invite else f"{base_url}/accounts/{request.account_id}"
    )
    context = _context(request, connection=connection, reconnect_link=reconnect, invite=invite)
    text, html = render(f"{what}_bookkeeper", **context)
    marketplace = marketplaces.get(request.marketplace)
    subject = {
        "revoked": f"Amazon access to {request.account.name} ({marketplace.label}) was revoked",
        "lapsed": f"The Amazon authorization of {request.account.name} ({marketplace.label})"
        " lapsed",
    }[what]
    return Email(request.requested_by.email, subject, text, html)


def bookkeeper_revoked(request: ConnectionRequest, base_url: str) -> Email | None:
    return _connection_ended(request, base_url, "revoked")


def bookkeeper_lapsed(request: ConnectionRequest, base_url: str) -> Email | None:
    return _connection_ended(request, base_url, "lapsed")


def owner_disconnected(request: ConnectionRequest, base_url: str) -> Email:
    """The connection this request stored was disconnected here: its owner (the seller who
    connected it, or the member who connected directly) learns how to remove the app at Amazon."""
    asker = request.requested_by
    if request.kind == ConnectionRequest.INVITE:
        context = _context(request, why=_why_owner(request), owner_name=request.client_name)
        to, sent_as = request.client_email, on_behalf_of(asker)
    else:
        context = _context(request, owner_name=asker.name)
        to, sent_as = asker.email, {}
    text, html = render("disconnected_owner", **context)
    subject = f"{request.account.name} is disconnected from {current_app.config['APP_NAME']}"
    return Email(to, subject, text, html, **sent_as)


# Which composer writes each notice: a new notice is a template pair, a composer and a line here.
NOTICES: dict[RequestNotice, Callable[[ConnectionRequest, str], Email | None]] = {
    RequestNotice.CONNECTED_BOOKKEEPER: bookkeeper_connected,
    RequestNotice.CONNECTED_INVITER: inviter_member_connected,
    RequestNotice.CONNECTED_SELLER: seller_connected,
    RequestNotice.FAILED_BOOKKEEPER: bookkeeper_failed,
    RequestNotice.EXPIRED_BOOKKEEPER: bookkeeper_expired,
    RequestNotice.NEW_LINK_ASKED: bookkeeper_new_link_asked,
    RequestNotice.WITHDRAWN_BY_OPERATIONS: bookkeeper_closed_by_operations,
    RequestNotice.CLOSED_BY_OPERATIONS: bookkeeper_closed_by_operations,
    RequestNotice.WRONG_ACCOUNT_BOOKKEEPER: bookkeeper_wrong_account,
    RequestNotice.APP_REFUSED_BOOKKEEPER: bookkeeper_app_refused,
    RequestNotice.REVOKED_BOOKKEEPER: bookkeeper_revoked,
    RequestNotice.LAPSED_BOOKKEEPER: bookkeeper_lapsed,
    RequestNotice.DISCONNECTED_OWNER: owner_disconnected,
}
