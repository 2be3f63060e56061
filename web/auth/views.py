"""Sign up (confirmed by email), log in, log out, reset a forgotten password.

No page says whether an address has a login: sign-up and reset answer the same for every address,
and the email explains the rest to the address's owner.
"""

import time
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user, user_logged_in
from sqlalchemy import func

from core.crypto import digest
from core.extensions import db, limiter
from core.users import (
    LoginToken,
    SignupAttempt,
    User,
    hash_password,
    password_matches,
    utcnow,
)
from services import invitations
from services.accounts import send_account_email
from web.auth.forms import (
    ConfirmPasswordForm,
    LoginForm,
    NewPasswordForm,
    ResetRequestForm,
    SignupForm,
)
from web.extensions import login_manager

bp = Blueprint("auth", __name__)


# When the session was last used (seconds since the epoch), for SESSION_IDLE_TIMEOUT.
_LAST_SEEN = "last_seen"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session's user, unless it was logged out, its password changed, or it sat idle."""
    id_, _, version = user_id.partition(":")
    user = db.session.get(User, int(id_)) if id_.isdigit() else None
    # A session from before session versions has none: it ends, as after a logout.
    if user is None or version != str(user.session_version):
        return None
    now = int(time.time())
    idle = current_app.config["SESSION_IDLE_TIMEOUT"].total_seconds()
    if now - session.get(_LAST_SEEN, 0) > idle:
        return None
    session[_LAST_SEEN] = now
    return user


@user_logged_in.connect
def _start_idle_clock(app, **extra) -> None:
    session[_LAST_SEEN] = int(time.time())


def _safe_next(target: str | None) -> str:
    """A path on this site to go to after logging in; anything else goes home.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    `?next=/%09/evil.example` or `?next=/%5Cevil.example` would leave the site: refuse control
    characters, whitespace and backslashes (also once more percent-decoded) and anything with a
    scheme or a host.
    """
    home = url_for("accounts.index")
    if not target:
        return home
    for text in (target, unquote(target)):
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in text):
            return home
        if not text.startswith("/") or text.startswith("//"):
            return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    return target


def _user_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).filter(func.lower(User.email) == email.lower()))


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LIMIT_SIGNUP"], methods=["POST"])
def signup():
    """Sign up; the login works once the emailed link is followed (or an invitation proves it)."""
    from web.members.views import signup_invitation

    if current_user.is_authenticated:
        return redirect(url_for("accounts.index"))
    invitation, token = signup_invitation()
    form = SignupForm(data={"email": invitation.email} if invitation else None)
    if invitation:
        # An invited client joins someone else's account: they have no firm to name.
        del form.firm_name
    if not form.validate_on_submit():
        return render_template("auth/signup.html", form=form, invitation=invitation, token=token)
    email = form.email.data.lower()
    firm = (form.firm_name.data if "firm_name" in form else "") or form.name.data
    existing = _user_by_email(email)
    if invitation:
        # The invitation link was emailed to this address: it proves the address.
        if email != invitation.email.lower():
            form.email.errors.append(
                f"This invitation is for {invitation.email}: sign up with that address."
            )
        elif existing is not None and existing.email_verified_at is not None:
            form.email.errors.append("That address already has a login: log in to accept.")
        if form.email.errors:
            return render_template(
                "auth/signup.html", form=form, invitation=invitation, token=token
            )
        user = existing or User(email=email)
        user.name, user.firm_name = form.name.data, firm
        user.set_password(form.password.data)
        user.email_verified_at = utcnow()
        db.session.add(user)
        db.session.commit()
        login_user(user)
        error = invitations.accept(invitation.id, user.id)
        if error:
            flash(error, "error")
            return redirect(url_for("accounts.index"))
        flash(f"Welcome to {invitation.account.name}.", "success")
        return redirect(url_for("accounts.show", account_id=invitation.account_id))

    # One hash on every branch, so the time taken does not tell whether the address has a login.
    password_hash = hash_password(form.password.data)
    if existing is not None and existing.email_verified_at is not None:
        db.session.rollback()
        send_account_email("already_registered", existing.id)
    else:
        user = existing or User(email=email, name=form.name.data, firm_name=firm)
        if existing is None:
            user.password_hash = password_hash  # unusable until the address is confirmed
            db.session.add(user)
            db.session.flush()
        attempt = SignupAttempt(
            user_id=user.id,
            name=form.name.data,
            firm_name=firm,
            password_hash=password_hash,
        )
        db.session.add(attempt)
        db.session.commit()  # the worker must find the login when it sends the email
        send_account_email("verify", user.id)
    return render_template("auth/check_email.html", email=email, purpose="signup")


def _spend(login_token: LoginToken) -> None:
    """Use an emailed link, and kill every other outstanding link of its login with it: an older
    reset email, left in a mailbox, must not set the password again."""
    now = utcnow()
    for other in db.session.scalars(
        db.select(LoginToken).filter_by(user_id=login_token.user_id, used_at=None)
    ):
        other.used_at = now
    login_token.used_at = now


def _token(token: str, purpose: str) -> LoginToken | None:
    login_token = db.session.scalar(
        db.select(LoginToken).filter_by(token_hash=digest(token), purpose=purpose)
    )
    if login_token is None or login_token.used_at or login_token.expires_at < utcnow():
        return None
    return login_token


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify(token: str):
    """The sign-up email's link: confirm with the password chosen at sign-up, and log in.

    Asking for the password here means only someone who both reads the mailbox and chose a
    password can finish: a stranger who signed up with this address first gains nothing.
    """
    login_token = _token(token, LoginToken.VERIFY)
    if login_token is None:
        return render_template("auth/link_used.html"), 410
    user = login_token.user
    form = ConfirmPasswordForm()
    if form.validate_on_submit():
        attempts = db.session.scalars(
            db.select(SignupAttempt).filter_by(user_id=user.id).order_by(SignupAttempt.id.desc())
        )
        attempt = next(
            (a for a in attempts if password_matches(a.password_hash, form.password.data)),
            None,
        )
        if attempt is None:
            form.password.errors.append("That is not the password you chose when signing up.")
        else:
            user.name, user.firm_name, user.password_hash = (
                attempt.name,
                attempt.firm_name,
                attempt.password_hash,
            )
            user.email_verified_at = user.email_verified_at or utcnow()
            user.end_sessions()  # a new password
            _spend(login_token)
            db.session.commit()
            login_user(user)
            flash("Welcome! Add the first business whose books you keep.", "success")
            return redirect(url_for("accounts.new"))
    return render_template("auth/verify.html", form=form, user=user)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LIMIT_LOGIN"], methods=["POST"])
def login():
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = _user_by_email(form.email.data)
        # The hash is checked on every branch, so the time taken does not tell whether the
        # address has a login.
        matches = password_matches(user.password_hash if user else None, form.password.data)
        if user is None or user.email_verified_at is None or not matches:
            form.password.errors.append(
                "Email or password is not right. Just signed up? Follow the link we emailed"
                " you first."
            )
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LIMIT_SIGNUP"], methods=["POST"])
def reset_request():
    """Forgot the password: the same answer for every address."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = _user_by_email(form.email.data)
        send_account_email("reset", user.id if user else None)
        return render_template("auth/check_email.html", email=form.email.data, purpose="reset")
    return render_template("auth/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """Set a new password from the emailed link (single-use, one hour)."""
    login_token = _token(token, LoginToken.RESET)
    if login_token is None:
        return render_template("auth/link_used.html"), 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        user = login_token.user
        user.set_password(form.password.data)  # and every session of the old one ends
        user.email_verified_at = user.email_verified_at or utcnow()  # the link proves it
        _spend(login_token)
        db.session.commit()
        login_user(user)
        flash("Your password is changed.", "success")
        return redirect(url_for("accounts.index"))
    return render_template("auth/reset.html", form=form, user=login_token.user)


@bp.post("/logout")
@login_required
def logout():
    """Log out, here and in every other browser holding this login's session."""
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
