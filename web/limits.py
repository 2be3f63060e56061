"""Rate-limit keys: per signed-in user where there is one."""

from flask_limiter.util import get_remote_address
from flask_login import current_user


def per_user() -> str:
    """The signed-in user (a bookkeeper behind a shared office IP is not their colleague)."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()
