"""Sign up, log in, log out."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func

from web.auth.forms import LoginForm, SignupForm
from web.auth.models import User
from web.extensions import db, limiter, login_manager

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after login would be a phishing gift.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("accounts.index")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LIMIT_SIGNUP"], methods=["POST"])
def signup():
    """Create a bookkeeper's login."""
    from web.members.views import accept_invitation, signup_invitation

    if current_user.is_authenticated:
        return redirect(url_for("accounts.index"))
    invitation, token = signup_invitation()
    form = SignupForm(data={"email": invitation.email} if invitation else None)
    if form.validate_on_submit():
        email = form.email.data.lower()
        if invitation and email != invitation.email.lower():
            form.email.errors.append(
                f"This invitation is for {invitation.email}: sign up with that address."
            )
        elif db.session.scalar(db.select(User).filter(func.lower(User.email) == email)):
            form.email.errors.append("That email already has a login. Log in instead.")
        else:
            user = User(
                name=form.name.data, email=email, firm_name=form.firm_name.data or form.name.data
            )
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.commit()
            login_user(user)
            if invitation:
                error = accept_invitation(invitation, user)
                if error:
                    flash(error, "error")
                    return redirect(url_for("accounts.index"))
                flash(f"Welcome to {invitation.account.name}.", "success")
                return redirect(url_for("accounts.show", account_id=invitation.account_id))
            flash("Welcome! Add the first business whose books you keep.", "success")
            return redirect(url_for("accounts.new"))
    return render_template("auth/signup.html", form=form, invitation=invitation, token=token)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LIMIT_LOGIN"], methods=["POST"])
def login():
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(db.select(User).filter_by(email=form.email.data.lower()))
        if user is None or not user.check_password(form.password.data):
            form.password.errors.append("Email or password is not right.")
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Log out."""
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
