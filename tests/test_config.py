"""Configuration from the environment, and encryption at rest with key rotation."""

import re
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken

from core import amazon, marketplaces
from core.config import load_config, parse_duration
from core.crypto import decrypt, encrypt


def test_development_defaults_point_at_local_parts():
    config = load_config({})
    assert config["APP_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["LWA_TOKEN_URL"] == "http://127.0.0.1:8100/auth/o2/token"
    assert config["CONNECT_EXPIRES_AFTER"] == timedelta(days=14)


def test_development_names_the_product_and_the_stand_ins_app():
    from sandbox.config import DEFAULTS

    config = load_config({})
    assert config["APP_NAME"] == "LedgerBridge"
    assert "amazon" not in config["APP_NAME"].lower()
    # The app Amazon's consent page shows: in development, the stand-in's.
    assert config["AMAZON_APP_NAME"] == DEFAULTS["SANDBOX_APP_NAME"]
    assert "read-only" in config["AMAZON_ACCESS_DESCRIPTION"]
    assert config["MAIL_DEFAULT_SENDER"] == "no-reply@bookkeeping.localhost"
    named = load_config({"APP_NAME": "Books Bridge", "AMAZON_APP_NAME": "Books Bridge Sync"})
    assert (named["APP_NAME"], named["AMAZON_APP_NAME"]) == ("Books Bridge", "Books Bridge Sync")


def test_production_refuses_to_start_without_secrets():
    with pytest.raises(RuntimeError) as raised:
        load_config({"APP_ENV": "production", "SECRET_KEY": "s"})
    for name in ("TOKEN_ENCRYPTION_KEY", "LWA_CLIENT_SECRET", "DATABASE_URL", "APP_BASE_URL"):
        assert name in str(raised.value)
    assert "SECRET_KEY," not in str(raised.value)


def test_production_refuses_to_start_without_the_amazon_app_name():
    """The seller is told which app Amazon will show: it must be the real one, not the demo's."""
    env = production_env()
    del env["AMAZON_APP_NAME"]
    with pytest.raises(RuntimeError, match="AMAZON_APP_NAME"):
        load_config(env)
    assert load_config(production_env())["AMAZON_APP_NAME"] == "Books Bridge Sync"


def production_env(**overrides) -> dict:
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": "k" * 32,
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "LWA_CLIENT_SECRET": "secret",
        "LWA_CLIENT_ID": "amzn1.application-oa2-client.x",
        "AMAZON_APP_ID": "amzn1.sp.solution.x",
        "AMAZON_APP_NAME": "Books Bridge Sync",
        "AMAZON_APP_DRAFT": "false",
        "DATABASE_URL": "postgresql://db/app",
        "APP_BASE_URL": "https://books.example.com",
        "MAIL_SERVER": "smtp.example.com",
        "MAIL_DEFAULT_SENDER": "Books <no-reply@example.com>",
        "RATELIMIT_STORAGE_URI": "redis://cache:6379/0",
    }
    env.update(overrides)
    return env


@pytest.mark.parametrize("storage", [None, "memory://"])
def test_production_refuses_per_process_rate_limits(storage):
    env = production_env()
    if storage is None:
        del env["RATELIMIT_STORAGE_URI"]
    else:
        env["RATELIMIT_STORAGE_URI"] = storage
    with pytest.raises(RuntimeError, match="RATELIMIT_STORAGE_URI is memory://"):
        load_config(env)


def test_shared_rate_limit_store_fails_fast_and_falls_back():
    config = load_config(production_env())
    assert config["RATELIMIT_STORAGE_OPTIONS"] == {"socket_timeout": 1, "socket_connect_timeout": 1}
    assert config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    assert load_config({})["RATELIMIT_STORAGE_OPTIONS"] == {}  # memory:// takes no socket options


def test_production_talks_to_amazon():
    config = load_config(production_env(AMAZON_APP_DRAFT="false"))
    assert config["LWA_TOKEN_URL"] == "https://api.amazon.com/auth/o2/token"
    assert config["SESSION_COOKIE_SECURE"] is True
    url = amazon.consent_url(config, marketplaces.get("UK"), "st")
    assert url.startswith("https://sellercentral-europe.amazon.com/apps/authorize/consent?")
    assert "version=beta" not in url
    assert "redirect_uri=https%3A%2F%2Fbooks.example.com%2Famazon%2Fcallback" in url


def test_draft_app_adds_version_beta():
    config = load_config(production_env(AMAZON_APP_DRAFT="true"))
    assert "&version=beta" in amazon.consent_url(config, marketplaces.get("JP"), "st")
    assert amazon.consent_url(config, marketplaces.get("JP"), "st").startswith(
        "https://sellercentral.amazon.co.jp/"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("14d", timedelta(days=14)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "14", "d", "1w", "-1d", "1.5h"])
def test_bad_durations_say_what_is_wrong(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_key_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = encrypt(old, "Atzr|refresh")
    rotated = f"{new},{old}"
    assert decrypt(rotated, stored) == "Atzr|refresh"  # old key still decrypts
    written = encrypt(rotated, "Atzr|refresh")
    assert decrypt(new, written) == "Atzr|refresh"  # new writes use the new key
    with pytest.raises(InvalidToken):
        decrypt(old, written)


def test_all_23_marketplaces():
    assert len(marketplaces.MARKETPLACES) == 23
    assert {r.code for r, _ in marketplaces.grouped()} == {"NA", "EU", "FE"}
    assert marketplaces.get("UK").marketplace_id == "A1F83G8C2ARO7P"


@pytest.mark.parametrize("keys", ["not-a-key", ","])
def test_bad_encryption_key_is_refused_clearly(keys):
    with pytest.raises(RuntimeError, match="TOKEN_ENCRYPTION_KEY must be"):
        load_config({"TOKEN_ENCRYPTION_KEY": keys})


def test_empty_encryption_key_in_development_uses_the_development_key():
    assert load_config({"TOKEN_ENCRYPTION_KEY": ""})["TOKEN_ENCRYPTION_KEY"]


def test_relative_times():
    from datetime import datetime

    from web.filters import ago

    now = datetime(2026, 11, 27, 12, 0, 0)
    assert ago(now, now) == "just now"
    assert ago(now - timedelta(minutes=1), now) == "1 minute ago"
    assert ago(now - timedelta(hours=5), now) == "5 hours ago"
    assert ago(now + timedelta(days=14) - timedelta(seconds=3), now) == "in 14 days"
    assert ago(None) == ""


@pytest.mark.parametrize("value", [None, ""])
def test_production_refuses_to_guess_whether_the_app_is_a_draft(value):
    env = production_env()
    if value is None:
        del env["AMAZON_APP_DRAFT"]
    else:
        env["AMAZON_APP_DRAFT"] = value
    with pytest.raises(RuntimeError, match="AMAZON_APP_DRAFT"):
        load_config(env)


def test_a_draft_setting_that_is_not_yes_or_no_is_refused():
    with pytest.raises(RuntimeError, match="AMAZON_APP_DRAFT must be true or false"):
        load_config({"AMAZON_APP_DRAFT": "published"})
    assert load_config({"AMAZON_APP_DRAFT": "off"})["AMAZON_APP_DRAFT"] is False


def test_amazon_is_told_the_apps_name_version_and_language():
    agent = amazon.user_agent("Books Bridge Sync")
    assert re.fullmatch(r"Books-Bridge-Sync/[\w.+-]+ \(Language=Python/3\.\d+\.\d+\)", agent)
