"""The product deployed as production runs it: several web processes and a worker that ops watch.

Two web processes run side by side as separate OS processes: the `flask run` of `Product` (A)
and gunicorn with two workers (B, the command docker-compose runs), sharing the app database
(SQLite here, PostgreSQL under `make test-postgres`), Temporal, and a Redis server of the test's
own for the rate-limit counters. A person's requests hop between them; nothing may depend on
which process answers: sessions, CSRF tokens, the seller's OAuth state, rate limits. The worker
serves the Temporal SDK's metrics for Prometheus (`WORKER_METRICS_ADDRESS`).
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
import redis
import requests

from harness.drivers import connected, csrf_token, expect, title_of
from harness.processes import BIN, LOOPBACK, Process, http_ok
from harness.product import Product
from tests.support import free_port, link_in, unique_email

LOGINS_PER_MINUTE = 5


def _redis_answers(port: int):
    def check(_: Process) -> bool:
        return redis.Redis(host=LOOPBACK, port=port, socket_timeout=1).ping()

    return check


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = shutil.which("redis-server")
    if not server:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    port = free_port()
    argv = [server, "--bind", LOOPBACK, "--port", str(port), "--save", "", "--appendonly", "no"]
    log = tmp_path_factory.mktemp("redis") / "redis.log"
    process = Process("redis", argv, {"PATH": os.environ["PATH"]}, log, _redis_answers(port))
    process.start()
    yield f"redis://{LOOPBACK}:{port}/0"
    process.stop()


@pytest.fixture(scope="module")
def product(tmp_path_factory, redis_url):
    settings = {
        "RATELIMIT_STORAGE_URI": redis_url,
        "LIMIT_LOGIN": f"{LOGINS_PER_MINUTE} per minute",
        "WORKER_METRICS_ADDRESS": f"{LOOPBACK}:{free_port()}",
    }
    if os.environ.get("TEST_DATABASE_URL"):
        settings["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    with Product(tmp_path_factory.mktemp("webs"), **settings) as product:
        yield product


@pytest.fixture(scope="module")
def second_web(product):
    """Process B: gunicorn with two workers, on its own port, configured exactly like A."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"{LOOPBACK}:{port}"]
    process = Process(
        "web-gunicorn",
        [*argv, "web:create_app()"],
        product.app_env(),
        product.workdir / "web-gunicorn.log",
        http_ok(f"{url}/login"),
    )
    process.start()
    yield url
    process.stop()


def test_rate_limits_are_counted_once_for_all_processes(product, second_web):
    a, b = product.web_url, second_web
    browser = requests.Session()
    token = csrf_token(browser.get(f"{a}/login", timeout=30).text)
    wrong = {"csrf_token": token, "email": unique_email("nobody"), "password": "not this one"}

    def log_in(base: str) -> int:
        return browser.post(f"{base}/login", data=wrong, timeout=30).status_code

    # 3 tries at A and 2 at B use up the 5 a minute: each process alone has seen fewer than 5.
    assert [log_in(base) for base in (a, a, a, b, b)] == [200] * LOGINS_PER_MINUTE
    assert log_in(a) == 429
    assert log_in(b) == 429


def test_one_onboarding_hopping_between_processes(product, second_web):
    a, b = product.web_url, second_web
    bookkeeper = product.bookkeeper()  # signed up at A
    # The session cookie from A is honoured by B (cookies ignore the port), and so is A's CSRF
    # token: both are signed with the one SECRET_KEY, nothing is kept in a process.
    expect(bookkeeper.get(f"{b}/accounts/new"), 200, "B knows the session A started")
    created = expect(bookkeeper.post(f"{b}/accounts/new", {"name": "Two Doors Ltd"}), 302, "add")
    account_id = int(created.headers["Location"].rsplit("/", 1)[-1])
    data = {
        "marketplace": "US",
        "client_name": "Sam Seller",
        "client_email": unique_email("seller"),
        "note": "",
    }
    url = f"/accounts/{account_id}/connect/request"
    expect(bookkeeper.post(f"{a}{url}", {**data, "action": "preview"}), 303, "preview at A")
    page = expect(bookkeeper.get(f"{b}{url}/preview"), 200, "B shows the draft A kept")
    draft = re.search(r'name="draft" value="([^"]+)"', page.text).group(1)
    expect(bookkeeper.post(f"{b}{url}/send", {"draft": draft}), 303, "send at B")

    # The seller opens the link and presses 'Continue to Amazon' at B; Amazon sends them back to
    # A (APP_BASE_URL), whose callback must find the state B bound to their session.
    link = link_in(product.mailbox.wait_for(data["client_email"], "asks you to connect", 60)[0])
    assert link.startswith(a)
    seller = product.seller()
    redirect = seller.consent(b + link.removeprefix(a))
    assert redirect.startswith(f"{a}/amazon/callback?")
    outcome = seller.return_from_amazon(redirect)
    assert connected(outcome), title_of(outcome.text)

    # Both processes show the bookkeeper the same connected account.
    for base in (a, b):
        page = expect(bookkeeper.get(f"{base}/accounts/{account_id}"), 200, "account page")
        assert "A2DEMOUSSELL01" in page.text, base  # the stand-in's seller id for seller-us
    product.mailbox.wait_for(bookkeeper.email, "is connected to Amazon US and ready", 60)

    # A (the development server) logged every request line, the seller's included, but not
    # the code, the state or the emailed link's token.
    log = (product.workdir / "web.log").read_text()
    assert "GET /amazon/callback?state=[redacted]" in log
    assert "spapi_oauth_code=[redacted]" in log
    query = dict(part.split("=", 1) for part in redirect.split("?", 1)[1].split("&"))
    for secret in (query["spapi_oauth_code"], query["state"], link.rsplit("/", 1)[-1]):
        assert secret not in log


def test_every_process_reports_the_shared_rate_limit_store(product, second_web):
    for base in (product.web_url, second_web):
        body = requests.get(f"{base}/readyz", timeout=30).json()
        assert body["status"] == "ready", body
        assert body["rate_limits"] == "ok", body


def test_the_worker_serves_its_metrics_to_prometheus(product):
    bookkeeper = product.bookkeeper()
    sent = bookkeeper.send_request(bookkeeper.add_account("Metrics Ltd"))
    product.mailbox.wait_for(sent["client_email"], "asks you to connect", 60)
    address = product.app_env()["WORKER_METRICS_ADDRESS"]
    page = requests.get(f"http://{address}/metrics", timeout=30)
    assert page.status_code == 200
    queue = f'task_queue="{product.task_queue}"'
    lines = [line for line in page.text.splitlines() if queue in line]
    names = {line.split("{", 1)[0] for line in lines}
    # What ops watch: a full cache (evictions), slow or failing tasks, idle pollers.
    for name in (
        "temporal_sticky_cache_size",
        "temporal_workflow_task_execution_latency_count",
        "temporal_activity_execution_latency_count",
        "temporal_num_pollers",
    ):
        assert name in names, f"{name} not in {sorted(names)}"
    invitations = [
        line
        for line in lines
        if line.startswith("temporal_activity_execution_latency_count")
        and 'activity_type="send_invitation"' in line
    ]
    assert invitations and float(invitations[0].rsplit(" ", 1)[1]) >= 1
