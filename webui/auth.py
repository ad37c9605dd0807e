"""Login, logout, password change, and who the current user is (session or bearer token)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from engine import accounts
from engine.db.models import User
from engine.errors import EngineError, ValidationFailed

from . import drafts
from .db import engine
from .redirects import next_or_home

bp = Blueprint("auth", __name__, url_prefix="/auth")
login_manager = LoginManager()


@dataclass
class Principal(UserMixin):
    """The signed-in user as views see it; loaded from the database on every request."""

    username: str
    display_name: str
    role: str
    unit_code: str | None
    group_code: str | None
    generation: int = 0  # app_user.session_generation when loaded
    large_text: bool = False  # 大字模式, app_user.large_text

    def get_id(self) -> str:
        return self.username

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.username, user.display_name, user.role.value, user.unit_code, user.group_code,
                   user.session_generation, user.large_text)


def _principal(ctx: Any, username: str) -> Principal | None:
    user = accounts.active_user(ctx, username)
    return Principal.of(user) if user is not None else None


@login_manager.user_loader
def load_user(username: str) -> Principal | None:
    principal = engine().run(_principal, username)
    # A cookie made before the last sign-out, password change, reset or disabling is dead, even
    # when someone copied it: the generation it carries is no longer the account's.
    if principal is None or session.get("generation") != principal.generation:
        session.clear()
        return None
    return principal


def remember_generation(username: str) -> None:
    """Keep the signed-in user's current session generation in their own session."""
    principal = engine().run(_principal, username)
    if principal is not None:
        session["generation"] = principal.generation


@login_manager.request_loader
def load_user_from_token(req: Any) -> Principal | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        return engine().run(lambda ctx: Principal.of(accounts.user_for_token(ctx, header[7:].strip())))
    except EngineError:
        return None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"

    @app.before_request
    def enforce_idle_timeout() -> Any:
        # Only a bearer token request has no session to time out; any cookie session does, whatever
        # headers come with it (an Authorization header used to skip this check).
        if not current_user.is_authenticated or "_user_id" not in session:
            return None
        now = engine().clock.now().timestamp()
        last = session.get("last_seen", now)
        if now - last > app.config["IDLE_TIMEOUT_MINUTES"] * 60:
            username = current_user.username
            engine().run(accounts.audit, username, "logout", remote_addr=request.remote_addr,
                         reason="idle timeout")
            logout_user()
            drafts.clear_session()
            if request.path.startswith("/api/"):
                return jsonify({"error": "unauthorized", "message": "session timed out"}), 401
            if drafts.keep_posted_form(username):
                return redirect(url_for("auth.login", next=request.path))
            flash(_("You were signed out after a period of inactivity."), "warning")
            return redirect(url_for("auth.login", next=request.full_path))
        session["last_seen"] = now
        return None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        def attempt(ctx: Any) -> tuple[Principal | None, str | None, int | None]:
            result = accounts.authenticate(ctx, username, request.form.get("password", ""), request.remote_addr)
            return (Principal.of(result.user) if result.user else None), result.refusal, result.retry_after

        user, refusal, retry_after = engine().run(attempt)
        if user is None:
            flash(refusal or "", "danger")
            page = render_template("auth/login.html", username=username)
            if retry_after is not None:
                return page, 429, {"Retry-After": str(retry_after)}
            return page, 401
        drafts.clear_session()  # a form kept while signed out waits for this sign-in
        login_user(user)
        session["generation"] = user.generation
        session["last_seen"] = engine().clock.now().timestamp()
        return redirect(next_or_home(request.args.get("next")))
    return render_template("auth/login.html", username="")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    engine().run(accounts.logout, current_user.username, remote_addr=request.remote_addr)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    errors: dict[str, str] = {}
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            errors["confirm_password"] = _("The two passwords differ.")
        else:
            try:
                refusal = engine().run(accounts.change_password, current_user.username,
                                       request.form.get("old_password", ""), new)
            except ValidationFailed as exc:
                errors = {"new_password": exc.fields.get("password", str(exc))}
            else:
                if refusal is None:
                    remember_generation(current_user.username)  # this session stays, every other one ends
                    flash(_("Password changed."), "success")
                    return redirect(url_for("index"))
                errors = {"old_password": refusal}
    return render_template("auth/password.html", errors=errors), (422 if errors else 200)
