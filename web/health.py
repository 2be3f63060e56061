"""Liveness and readiness for load balancers and orchestrators."""

from flask import Blueprint
from sqlalchemy import text

from core.extensions import db, limiter, temporal

bp = Blueprint("health", __name__)

CHECK_TIMEOUT = 3.0  # seconds


@bp.get("/healthz")
def healthz():
    """The process answers (no dependencies checked: restart me only if this fails)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready for traffic: the database and Temporal both answer.

    The rate-limit store is reported too but does not decide readiness: without it each process
    counts its own limits (Flask-Limiter's in-memory fallback) until it is back.
    """
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as err:  # noqa: BLE001 - any failure means not ready, and says which
        db.session.rollback()
        checks["database"] = f"unavailable: {type(err).__name__}"

    async def temporal_health(client) -> bool:
        return await client.service_client.check_health()

    try:
        checks["temporal"] = "ok" if temporal.run(temporal_health, CHECK_TIMEOUT) else "unhealthy"
    except Exception as err:  # noqa: BLE001
        checks["temporal"] = f"unavailable: {type(err).__name__}"
    ready = all(value == "ok" for value in checks.values())
    try:
        limits = "ok" if limiter.storage.check() else "unavailable"
    except Exception as err:  # noqa: BLE001
        limits = f"unavailable: {type(err).__name__}"
    body = {"status": "ready" if ready else "not ready", "checks": checks, "rate_limits": limits}
    return body, 200 if ready else 503
