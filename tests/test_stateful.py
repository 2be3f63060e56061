"""Random sequences of real actions against the real stack, checking that every part agrees.

Two Hypothesis state machines drive the session's Temporal dev server, worker, SMTP sink, Amazon
stand-in and web app (tests/conftest.py) the way people and ops do, one fresh bookkeeper and
account per run:

- RequestMachine: one connection request (marketplace US). The seller opens the newest link,
  presses Continue to Amazon, confirms there with the right account (seller-us@example.com) or a
  wrong one (seller-eu@example.com); the bookkeeper resends, changes the email (to a new address
  or the same one), withdraws; ops cancel or terminate the workflow; the worker restarts; time
  passes until the request expires (in runs drawn with a short expiry and one reminder).
- InvitationMachine: one user invitation: resend, withdraw, ops cancel or terminate, and the
  invitee accepting by signing up through the newest link.

After every step each machine polls (up to SETTLE seconds) until every source tells the same
story as its model, and otherwise fails showing every source: the page's status label, the
database row, the workflow's `status` query, its search attributes and execution status, what
the seller's links answer, the Amazon connections of the account, and the emails against the
timeline. The expected behaviour is issue 10's spec (closed by operations, resend resets the
"opened" step, a consent from a replaced link is refused, ...).

Budget: the defaults run in about a minute. For a longer soak, by hand:

    STATEFUL_EXAMPLES=200 make test PYTEST_ARGS=tests/test_stateful.py

STATEFUL_EXAMPLES sets the number of runs of the request machine (the invitation machine gets
half); STATEFUL_STEPS the steps per run (default 8). To look past a disagreement already known,
STATEFUL_SKIP takes a comma-separated list of names: rules (`withdraw`, `ops_cancel`,
`ops_terminate`, `expire`, `restart_worker`, `accept`) and the invariant's checks, named in
brackets in its failure messages (`page_label`,
`db_status`, `api`, `query`, `onboardingstatus`, `execution`, `email_domain`, `details`, `links`,
`connections`, `timeline_emails`, `timeline_text`, `seller_emails`, `ops_event`,
`bookkeeper_emails`, `users_page`, `members`, `invitation_emails`, `inviter_emails`).
STATEFUL_SHRINK=0 skips shrinking, for a soak that only looks.
"""

import html
import os
import re
import time
from collections import Counter
from datetime import timedelta
from typing import ClassVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from core.accounts import AmazonConnection, Membership
from core.api_keys import ApiKey
from core.extensions import db
from core.invitations import UserInvitation
from core.requests import Authorization, ConnectionRequest, RequestEvent
from tests.amazon_seller import consent
from tests.support import Bookkeeper, link_in, path_of, text_of, unique_email
from vocabulary import search_attributes
from vocabulary.messages import InvitationStatus, RequestStatus
from web.filters import STATUS_LABELS

EXAMPLES = int(os.environ.get("STATEFUL_EXAMPLES", "6"))
STEPS = int(os.environ.get("STATEFUL_STEPS", "8"))
SHRINK = os.environ.get("STATEFUL_SHRINK", "1") != "0"
SKIP = {name.strip() for name in os.environ.get("STATEFUL_SKIP", "").split(",") if name.strip()}

SETTLE = 6.0  # seconds every part gets to catch up after a step (spec: ops "within a few seconds")
# Short runs: the reminder and the expiry fall inside a run of a few steps.
REMIND_AFTER = 4.0
EXPIRE_AFTER = 9.0
LAG = 1.5  # how late after its due time a timer's effect (an email, a row) is surely visible
GUARD = 3.0  # no action starts this close before a timer: its outcome would depend on the race

OPEN = ("sent", "opened", "consent_started", "reminded")
LABELS = {**STATUS_LABELS, "closed": "Closed by operations"}
RIGHT_LOGIN = "seller-us@example.com"  # sells in US
WRONG_LOGIN = "seller-eu@example.com"  # sells in EU marketplaces only
EMAIL_KINDS = ("sent", "resent", "email_changed", "reminder")
# What the seller's link says once the request is closed (the link_closed page, in words).
CLOSED_LINK_WORDS = {
    "cancelled": "withdrawn",
    "expired": "expired",
    "connected": "already connected",
    "closed": "closed",
    "failed": "could not be completed",
}
STATUS_BADGE = re.compile(r'data-status="([^"]*)">([^<]*)<')


def machine_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=STEPS,
        deadline=None,
        # Every step talks to real servers: slow by design, and data generation is trivial.
        suppress_health_check=list(HealthCheck),
        # One shrunk sequence per failure is what we can afford against a real stack.
        report_multiple_bugs=False,
        # Each shrink step replays a sequence against the real stack; a soak may skip it.
        phases=[p for p in Phase if p is not Phase.shrink or SHRINK],
    )


def visible(page: str) -> str:
    """A page's visible text on one line, for matching words and for failure messages."""
    text = re.sub(r"<(style|script)[^>]*>.*?</\1>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def flash(page: str) -> str:
    return " | ".join(visible(m) for m in re.findall(r'<p class="flash[^>]*>(.*?)</p>', page, re.S))


def never_500(response, what: str):
    assert response.status_code < 500, f"{what} answered {response.status_code}: {response.text}"
    return response


def subject_counts(messages, patterns: dict[str, str]) -> dict[str, int]:
    subjects = [str(m["Subject"]).lower() for m in messages]
    return {name: sum(bool(re.search(p, s)) for s in subjects) for name, p in patterns.items()}


class Stack:
    """The session's real parts, handed to the machines (fixtures cannot reach them directly)."""

    def __init__(self, app, mailbox, amazon, temporal_env, loop, worker, config) -> None:
        self.app, self.mailbox, self.amazon = app, mailbox, amazon
        self.temporal, self.loop = temporal_env.client, loop
        self.worker, self.config = worker, config

    def db(self, fn):
        with self.app.app_context():
            return fn()

    def workflow_facts(self, workflow_id: str, query_type: type, details: bool) -> dict:
        """What Temporal says: execution status, search attributes, status query, details."""

        async def ask() -> dict:
            handle = self.temporal.get_workflow_handle(workflow_id)
            described = await handle.describe()
            attributes = described.typed_search_attributes
            facts = {
                "execution": described.status.name if described.status else None,
                "OnboardingStatus": attributes.get(search_attributes.ONBOARDING_STATUS),
                "SellerEmailDomain": attributes.get(search_attributes.SELLER_EMAIL_DOMAIN),
            }
            try:
                facts["query"] = (await handle.query("status", result_type=query_type)).status
            except Exception as err:  # a closed run may not answer; a running one must
                facts["query"] = f"(no answer: {type(err).__name__})"
            if details:
                try:
                    metadata = await handle.query("__temporal_workflow_metadata")
                    facts["details"] = (metadata.current_details or "").split("\n")[0]
                except Exception as err:
                    facts["details"] = f"(no answer: {type(err).__name__})"
            return facts

        return self.loop.run(ask(), timeout=30)

    def ops(self, workflow_id: str, action: str) -> Exception | None:
        """Ops press Request Cancellation or Terminate on the workflow (its latest run)."""

        async def press() -> None:
            handle = self.temporal.get_workflow_handle(workflow_id)
            await (handle.cancel() if action == "cancel" else handle.terminate("ops"))

        try:
            self.loop.run(press(), timeout=30)
        except Exception as err:  # a closed workflow: refused, or (cancel) quietly ignored
            return err
        return None


class Checks:
    """Collects the failed checks of one poll by name, leaving out those in STATEFUL_SKIP."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, name: str, ok: bool, what: str) -> None:
        if not ok and name not in SKIP:
            self.failed.append(f"[{name}] {what}")


def check_workflow_status(check: "Checks", got: dict, status: str, execution: str) -> None:
    """The database row, the status query and OnboardingStatus hold the model's word."""
    check("db_status", got["db status"] == status, "db status")
    if execution == "TERMINATED":
        # A terminated run never runs again: its query replays the last state it had, and no
        # code of it can set a search attribute. The app's row and page carry "closed".
        return
    unanswered = execution != "RUNNING" and "no answer" in str(got["query"])
    check("query", got["query"] == status or unanswered, "query")
    check("onboardingstatus", got["OnboardingStatus"] == status, "OnboardingStatus")


class Poller:
    """Poll until `mismatches()` is empty; fail after SETTLE seconds showing every source."""

    def settle(self, extra_wait=lambda: False) -> None:
        deadline = time.monotonic() + SETTLE
        while True:
            self.before_poll()
            sources = self.sources()
            wrong = self.mismatches(sources)
            if not wrong:
                return
            if time.monotonic() > deadline and not extra_wait():
                shown = "\n".join(f"  {k}: {v!r}" for k, v in sources.items())
                problems = "\n".join(f"  - {w}" for w in wrong)
                raise AssertionError(
                    f"the parts disagree after {SETTLE:.0f}s (model says {self.status!r}):\n"
                    f"{problems}\nevery source:\n{shown}"
                )
            time.sleep(0.2)

    def before_poll(self) -> None:
        pass


# What ops pressing a button in the Temporal UI does to a running workflow, in the model's words:
# the noun Temporal's refusal would name, then the status and execution status that follow.
OPS_OUTCOMES = {
    "cancel": ("cancellation", "cancelled", "CANCELED"),
    # Spec 6: after a termination the app notices on the next page or link GET, which the
    # invariant does.
    "terminate": ("termination", "closed", "TERMINATED"),
}


class OpsRules:
    """The rules for ops' Request Cancellation and Terminate, the same for every machine.

    Hypothesis collects rules from base classes too, so both machines get these two.
    """

    def before_ops(self) -> None:
        """A machine with timers of its own lets them fire first."""

    def _ops_press(self, action: str) -> None:
        self.before_ops()
        refused = self.stack.ops(self.workflow_id, action)
        if self.execution == "RUNNING":
            noun, status, execution = OPS_OUTCOMES[action]
            assert refused is None, f"Temporal refused the {noun}: {refused!r}"
            self.status, self.execution, self.ops_action = status, execution, action

    @precondition(lambda self: "ops_cancel" not in SKIP)
    @rule()
    def ops_cancel(self) -> None:
        self._ops_press("cancel")

    @precondition(lambda self: "ops_terminate" not in SKIP)
    @rule()
    def ops_terminate(self) -> None:
        self._ops_press("terminate")


# ---- connection requests ------------------------------------------------------------------


class RequestMachine(OpsRules, Poller, RuleBasedStateMachine):
    stack: ClassVar[Stack]

    def __init__(self) -> None:
        super().__init__()
        self.status = "sent"

    # -- the model's clock: reminders and expiry happen by themselves in short runs

    def _start_clock(self, started: float, returned: float) -> None:
        """The workflow's clock restarted somewhere between these two moments."""
        self.clock = (started, returned)
        self.reminders_sent = 0
        self.paused = False  # Continue to Amazon pauses reminders (for a day: for good, here)

    def _next_timer(self) -> tuple[str, float] | None:
        if not self.short or self.status not in OPEN:
            return None
        if not self.paused and self.reminders_sent == 0 and REMIND_AFTER < EXPIRE_AFTER:
            return "reminder", REMIND_AFTER
        return "expiry", EXPIRE_AFTER

    def _timer_window(self) -> tuple[float, float] | None:
        timer = self._next_timer()
        if timer is None:
            return None
        return self.clock[0] + timer[1], self.clock[1] + timer[1] + LAG

    def before_poll(self) -> None:
        """Apply the timers that have surely fired to the model."""
        while (window := self._timer_window()) and time.monotonic() > window[1]:
            kind, _ = self._next_timer()
            if kind == "reminder":
                self.reminders_sent = 1
                if self.status in ("sent", "opened"):
                    self.status = "reminded"
                self._expect_seller_email("reminder")
            else:
                self.status = "expired"
                self.execution = "COMPLETED"

    def _in_timer_window(self) -> bool:
        window = self._timer_window()
        return window is not None and window[0] - 0.5 <= time.monotonic() <= window[1]

    def _clear_of_timers(self) -> None:
        """Let a timer that is about to fire fire first, so the next action's outcome is known."""
        while (window := self._timer_window()) and window[0] - time.monotonic() < GUARD:
            time.sleep(max(0.0, window[1] - time.monotonic()) + 0.05)
            self.before_poll()

    def before_ops(self) -> None:
        self._clear_of_timers()

    # -- helpers

    def _row(self) -> ConnectionRequest:
        return self.stack.db(
            lambda: db.session.scalar(
                select(ConnectionRequest).filter_by(account_id=self.account_id)
            )
        )

    def _expect_seller_email(self, kind: str) -> None:
        """A seller email of this kind goes out: note it, and keep its link (the newest)."""
        self.email_kinds.append((kind, self.seller_email))
        count = sum(1 for _, to in self.email_kinds if to == self.seller_email)
        messages = self.stack.mailbox.wait_for(
            self.seller_email, "asks you to connect", timeout=15, count=count
        )
        self.links.append({"url": link_in(messages[-1]), "superseded": False})

    def _fresh_link(self, kind: str) -> None:
        """Resend or change of address: earlier links die, the clock and the steps start over."""
        for link in self.links:
            link.update(superseded=True)
        self.epoch += 1
        self.opened_in_epoch = False
        self._expect_seller_email(kind)

    def _page(self):
        return never_500(self.bookkeeper.client.get(self.page_url), "the request page")

    def _bookkeeper_post(self, url: str, data=None):
        response = never_500(self.bookkeeper.client.post(url, data=data or {}), f"POST {url}")
        assert response.status_code == 302, f"POST {url}: {response.status_code} {response.text}"
        return response

    def _follow(self, response):
        return never_500(
            self.bookkeeper.client.get(path_of(response.headers["Location"])), "the redirect"
        )

    # -- rules

    @initialize(short=st.booleans())
    def send(self, short: bool) -> None:
        s = self.stack
        self.short = short
        # Settings are copied into the workflow at send time; the `config` fixture restores them.
        s.config["CONNECT_EXPIRES_AFTER"] = timedelta(seconds=EXPIRE_AFTER if short else 3600)
        s.config["CONNECT_REMINDERS"] = [timedelta(seconds=REMIND_AFTER)] if short else []
        self.bookkeeper = Bookkeeper(s.app.test_client()).sign_up()
        self.account_id = self.bookkeeper.add_account("Stateful Goods Ltd")
        self.seller = s.app.test_client()  # the seller's browser on our site
        self.seller_email = unique_email("seller")
        self.addresses = [self.seller_email]
        self.email_kinds: list[tuple[str, str]] = []
        self.links: list[dict] = []
        self.epoch = 0
        self.opened_in_epoch = False
        self.consent: dict | None = None  # the seller's trip to Amazon under way
        self.execution = "RUNNING"
        self.ops_action = ""
        started = time.monotonic()
        self.bookkeeper.send_request(self.account_id, client_email=self.seller_email)
        self._start_clock(started, time.monotonic())
        row = self._row()
        self.workflow_id, self.public_id = row.workflow_id, row.public_id
        self.page_url = f"/accounts/{self.account_id}/requests/{self.public_id}"
        key, secret = ApiKey.issue(row.requested_by_id, "stateful")
        s.db(lambda: (db.session.add(key), db.session.commit()))
        self.api_headers = {"Authorization": f"Bearer {secret}"}
        self._expect_seller_email("sent")

    @rule()
    def seller_opens_newest_link(self) -> None:
        self._clear_of_timers()
        link = self.links[-1]["url"]
        response = never_500(self.seller.post(path_of(link) + "/opened"), "POST link/opened")
        assert response.status_code == 204, response.status_code
        # Spec 1: "opened" once per link that a resend or change of address sent.
        if self.status in OPEN and not self.opened_in_epoch:
            self.opened_in_epoch = True
            if self.status in ("sent", "reminded"):
                self.status = "opened"

    @rule()
    def seller_continues_to_amazon(self) -> None:
        self._clear_of_timers()
        response = never_500(self.seller.post(path_of(self.links[-1]["url"])), "Continue")
        if self.status in OPEN:
            assert response.status_code == 303, f"{response.status_code}: {response.text}"
            self.consent = {"url": response.headers["Location"], "epoch": self.epoch}
            self.status = "consent_started"
            self.paused = True
        else:
            assert response.status_code == 410, f"{response.status_code}: {response.text}"

    @precondition(lambda self: self.consent is not None)
    @rule(right_account=st.booleans())
    def seller_confirms_at_amazon(self, right_account: bool) -> None:
        self._clear_of_timers()
        trip, self.consent = self.consent, None
        redirect = consent(trip["url"], RIGHT_LOGIN if right_account else WRONG_LOGIN)
        before = self._authorizations()
        response = never_500(self.seller.get(path_of(redirect)), "the Amazon callback")
        page = visible(response.text)
        if self.status not in OPEN:
            assert response.status_code == 410 and "This request is closed" in page, page
            assert self._authorizations() == before, "an authorization was stored for it"
        elif trip["epoch"] != self.epoch:
            # Spec 3: a consent begun from a link that was replaced since is refused.
            assert response.status_code == 410 and "This request was sent again" in page, (
                f"{response.status_code}: {page}"
            )
            assert self._authorizations() == before, "an authorization was stored for it"
        elif right_account:
            assert response.status_code == 200 and "Connected" in page, page
            self.status, self.execution = "connected", "COMPLETED"
        else:
            assert response.status_code == 409 and "does not sell in this marketplace" in page, page

    def _authorizations(self) -> int:
        return self.stack.db(
            lambda: db.session.scalar(
                select(func.count())
                .select_from(Authorization)
                .join(ConnectionRequest)
                .filter(ConnectionRequest.account_id == self.account_id)
            )
        )

    @rule()
    def resend(self) -> None:
        self._clear_of_timers()
        started = time.monotonic()
        response = self._bookkeeper_post(f"{self.page_url}/resend")
        page = self._follow(response).text
        if self.status in OPEN:
            assert "fresh link" in flash(page), flash(page)
            self._start_clock(started, time.monotonic())
            self.status = "sent"
            self._fresh_link("resent")
        else:
            assert "Not done" in flash(page), flash(page)

    @rule(same_address=st.booleans())
    def change_email(self, same_address: bool) -> None:
        self._clear_of_timers()
        if same_address:
            new = self.seller_email
        else:
            tag = unique_email("x").split("@")[0][2:]
            new = f"seller-{tag}@shop-{tag[:6]}.example"
        started = time.monotonic()
        response = self._bookkeeper_post(f"{self.page_url}/email", {"client_email": new})
        message = flash(self._follow(response).text)
        if self.status not in OPEN:
            assert "Not done" in message, message
            return
        self._start_clock(started, time.monotonic())
        self.status = "sent"
        if same_address:
            # Spec 2: the same address is a plain resend, and says so.
            assert "fresh link" in message and "old address" not in message, message
            self._fresh_link("resent")
        else:
            assert new in message, message
            self.seller_email = new
            self.addresses.append(new)
            self._fresh_link("email_changed")

    @precondition(lambda self: "withdraw" not in SKIP)
    @rule()
    def withdraw(self) -> None:
        self._clear_of_timers()
        response = self._bookkeeper_post(f"{self.page_url}/cancel")
        was_open = self.status in OPEN
        if was_open:
            # Spec 4: the row is closed when the POST returns, and the page shows it.
            assert self._row().status == "cancelled", f"row still {self._row().status!r}"
        page = self._follow(response).text
        if was_open:
            self.status, self.execution = "cancelled", "COMPLETED"
            assert STATUS_BADGE.search(page).group(2).strip() == "Withdrawn", page
            assert "Resend now" not in page and "Withdraw request" not in page
        else:
            assert "already closed" in flash(page), flash(page)

    @precondition(lambda self: "expire" not in SKIP)
    @rule()
    def time_passes_until_expiry(self) -> None:
        """In short runs, wait out the request (reminders fire on the way)."""
        while self.short and self.status in OPEN:
            window = self._timer_window()
            time.sleep(max(0.0, window[1] - time.monotonic()) + 0.05)
            self.before_poll()

    @precondition(lambda self: "restart_worker" not in SKIP)
    @rule()
    def restart_worker(self) -> None:
        self.stack.worker.restart()

    # -- the invariant

    @invariant()
    def every_part_tells_the_same_story(self) -> None:
        self.settle(extra_wait=self._in_timer_window)

    def sources(self) -> dict:
        s = self.stack
        page = self._page()
        badge = STATUS_BADGE.search(page.text)
        label = re.sub(r"\s*×\d+$", "", badge.group(2).strip()) if badge else None
        row = self._row()
        events = s.db(
            lambda: [
                (e.kind, e.actor, e.detail)
                for e in db.session.scalars(
                    select(RequestEvent).filter_by(request_id=row.id).order_by(RequestEvent.id)
                )
            ]
        )
        facts = s.workflow_facts(self.workflow_id, RequestStatus, details=True)
        links = []
        for link in self.links:
            answer = never_500(self.seller.get(path_of(link["url"])), "the seller's link")
            links.append((answer.status_code, visible(answer.text)[:160]))
        connections = s.db(
            lambda: db.session.scalar(
                select(func.count())
                .select_from(AmazonConnection)
                .filter_by(account_id=self.account_id, marketplace="US")
            )
        )
        api = never_500(
            s.app.test_client().get(
                f"/api/v1/connection-requests/{self.public_id}", headers=self.api_headers
            ),
            "the API",
        ).get_json()
        seller_mail = [
            (str(m["To"]), str(m["Subject"]))
            for address in self.addresses
            for m in s.mailbox.to(address)
        ]
        bookkeeper_mail = subject_counts(
            s.mailbox.to(self.bookkeeper.email),
            {
                "request sent": r"^request sent:",
                "reminder copy": r"^reminder \d+ of \d+ sent to",
                "expired": r"did not connect .* in time",
                "connected": r"is connected to amazon",
                "withdrawn by operations": r"withdrawn by operations",
                "closed by operations": r"closed by operations",
            },
        )
        return {
            "page label": (badge.group(1) if badge else None, label),
            "db status": row.status,
            "api": (api["status"], [e["kind"] for e in api["timeline"]]),
            **facts,
            "links (oldest first)": links,
            "amazon connections": connections,
            "timeline": events,
            "seller emails": seller_mail,
            "bookkeeper emails": bookkeeper_mail,
        }

    def mismatches(self, got: dict) -> list[str]:
        s = self.status
        check = Checks()
        check("page_label", got["page label"] == (s, LABELS[s]), f"page label is not {LABELS[s]}")
        kinds = [kind for kind, _, _ in got["timeline"]]
        check("api", got["api"] == (s, kinds), f"the API's status and timeline are not {s}")
        check_workflow_status(check, got, s, self.execution)
        check("execution", got["execution"] == self.execution, f"execution, not {self.execution}")
        domain = self.seller_email.rsplit("@", 1)[1]
        check(
            "email_domain", got["SellerEmailDomain"] == domain, f"SellerEmailDomain, not {domain}"
        )
        heading = f"**{s.replace('_', ' ').capitalize()}**"
        if s in OPEN:
            check("details", got["details"].startswith(heading), f"details, not {heading}")
        for link, (code, text) in zip(self.links, got["links (oldest first)"], strict=True):
            if link["superseded"]:
                check("links", code == 410, f"a replaced link answers {code}")
            elif s in OPEN:
                check("links", code == 200, f"a live link answers {code}")
            else:
                ok = code == 410 and CLOSED_LINK_WORDS[s] in text.lower()
                check("links", ok, f"the link of a {s} request answers {code}: {text[:60]!r}")
        connected = 1 if s == "connected" else 0
        check("connections", got["amazon connections"] == connected, f"not {connected} connected")
        self._emails_match_timeline(got, check)
        return check.failed

    def _emails_match_timeline(self, got: dict, check: "Checks") -> None:
        lines = [
            (kind, detail)
            for kind, _, detail in got["timeline"]
            if kind in EMAIL_KINDS and not detail.startswith("Email changed from")
        ]
        line_kinds = [(kind, detail.rsplit(" to ", 1)[-1]) for kind, detail in lines]
        check(
            "timeline_emails",
            line_kinds == self.email_kinds,
            f"the timeline's email lines are not {self.email_kinds}",
        )
        # Spec 2: a fresh link to a new address reads like any other invitation line.
        for kind, detail in lines:
            if kind == "email_changed":
                ok = detail == f"Sent the invitation to {detail.rsplit(' ', 1)[-1]}"
                check("timeline_text", ok, f"timeline line {detail!r}")
        invitations = Counter(
            to for to, subject in got["seller emails"] if "asks you to connect" in subject
        )
        check(
            "seller_emails",
            invitations == Counter(to for _, to in line_kinds),
            "the seller's invitation emails do not match the timeline's lines",
        )
        if self.ops_action:
            actors = [(kind, actor) for kind, actor, _ in got["timeline"]]
            want = ("closed", "operations") if self.ops_action == "terminate" else None
            ok = want in actors if want else any(a == "operations" for _, a in actors)
            check("ops_event", ok, "no timeline event by operations")
        expected = {
            "request sent": 1,
            "reminder copy": sum(1 for kind, _ in self.email_kinds if kind == "reminder"),
            "expired": int(self.status == "expired"),
            "connected": int(self.status == "connected"),
            "withdrawn by operations": int(self.ops_action == "cancel"),
            "closed by operations": int(self.ops_action == "terminate"),
        }
        check("bookkeeper_emails", got["bookkeeper emails"] == expected, f"not {expected}")


# ---- user invitations ---------------------------------------------------------------------


class InvitationMachine(OpsRules, Poller, RuleBasedStateMachine):
    stack: ClassVar[Stack]

    def __init__(self) -> None:
        super().__init__()
        self.status = "pending"

    def _row(self) -> UserInvitation:
        return self.stack.db(
            lambda: db.session.scalar(select(UserInvitation).filter_by(email=self.email))
        )

    def _expect_invitation_email(self) -> None:
        self.sent += 1
        messages = self.stack.mailbox.wait_for(self.email, "invites you to", count=self.sent)
        url = re.search(r"https?://\S+/invitations/[A-Za-z0-9_-]+", text_of(messages[-1]))
        self.links.append({"url": url.group(0), "superseded": False})

    def _admin_post(self, url: str, data=None):
        response = never_500(self.admin.client.post(url, data=data or {}), f"POST {url}")
        assert response.status_code == 302, f"POST {url}: {response.status_code} {response.text}"
        return never_500(self.admin.client.get(path_of(response.headers["Location"])), url)

    @initialize()
    def invite(self) -> None:
        s = self.stack
        s.config["CONNECT_EXPIRES_AFTER"] = timedelta(hours=1)
        s.config["CONNECT_REMINDERS"] = []
        self.admin = Bookkeeper(s.app.test_client()).sign_up()
        self.account_id = self.admin.add_account("Stateful Team Ltd")
        self.email = unique_email("invitee")
        self.sent = 0
        self.links: list[dict] = []
        self.execution = "RUNNING"
        self.ops_action = ""
        self.users_url = f"/accounts/{self.account_id}/users"
        page = self._admin_post(
            f"{self.users_url}/invite", {"email": self.email, "role": "member"}
        ).text
        # Spec 4: the page right after inviting shows when the invitation expires.
        row = re.search(rf'data-invitation="{re.escape(self.email)}">(.*?)</tr>', page, re.S)
        assert row, "the invitation is not listed after inviting"
        cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
        assert visible(cells[4]), f"empty Expires cell: {[visible(c) for c in cells]}"
        invitation = self._row()
        self.workflow_id, self.public_id = invitation.workflow_id, invitation.public_id
        self._expect_invitation_email()

    @rule()
    def resend(self) -> None:
        page = self._admin_post(f"/accounts/{self.account_id}/invitations/{self.public_id}/resend")
        if self.status == "pending":
            assert "fresh invitation" in flash(page.text), flash(page.text)
            for link in self.links:
                link.update(superseded=True)
            self._expect_invitation_email()
        else:
            assert "Not done" in flash(page.text), flash(page.text)

    @precondition(lambda self: "withdraw" not in SKIP)
    @rule()
    def withdraw(self) -> None:
        url = f"/accounts/{self.account_id}/invitations/{self.public_id}/cancel"
        page = self._admin_post(url)
        if self.status == "pending":
            self.status, self.execution = "cancelled", "COMPLETED"
            assert self._row().status == "cancelled", f"row still {self._row().status!r}"
            assert f'data-invitation="{self.email}"' not in page.text
        else:
            assert "already closed" in flash(page.text), flash(page.text)

    @precondition(lambda self: self.status == "pending" and "accept" not in SKIP)
    @rule()
    def invitee_signs_up_through_the_link(self) -> None:
        token = self.links[-1]["url"].rsplit("/", 1)[-1]
        browser = self.stack.app.test_client()
        joined = never_500(
            browser.post(
                f"/signup?invitation={token}",
                data={"name": "Ivy Invitee", "email": self.email, "password": "invitee pass 12"},
            ),
            "sign-up through the invitation",
        )
        assert joined.status_code == 302, visible(joined.text)
        self.status, self.execution = "accepted", "COMPLETED"

    @invariant()
    def every_part_tells_the_same_story(self) -> None:
        self.settle()

    def sources(self) -> dict:
        s = self.stack
        users = never_500(self.admin.client.get(self.users_url), "the users page")
        facts = s.workflow_facts(self.workflow_id, InvitationStatus, details=False)
        links = []
        anonymous = s.app.test_client()
        for link in self.links:
            answer = never_500(anonymous.get(path_of(link["url"])), "the invitation link")
            links.append((answer.status_code, visible(answer.text)[:120]))
        members = s.db(
            lambda: db.session.scalar(
                select(func.count()).select_from(Membership).filter_by(account_id=self.account_id)
            )
        )
        return {
            "listed as pending": f'data-invitation="{self.email}"' in users.text,
            "db status": self._row().status,
            **facts,
            "links (oldest first)": links,
            "members": members,
            "invitation emails": sum(
                "invites you to" in str(m["Subject"]) for m in s.mailbox.to(self.email)
            ),
            "inviter emails": subject_counts(
                s.mailbox.to(self.admin.email),
                {"joined": r"joined", "closed by operations": r"closed by operations"},
            ),
        }

    def mismatches(self, got: dict) -> list[str]:
        s = self.status
        check = Checks()
        check("users_page", got["listed as pending"] == (s == "pending"), "users page listing")
        check_workflow_status(check, got, s, self.execution)
        check("execution", got["execution"] == self.execution, f"execution, not {self.execution}")
        for link, (code, _) in zip(self.links, got["links (oldest first)"], strict=True):
            want = 200 if s == "pending" and not link["superseded"] else 410
            what = "replaced" if link["superseded"] else "live"
            check("links", code == want, f"a {what} link answers {code}, not {want}")
        check("members", got["members"] == (2 if s == "accepted" else 1), "members")
        check("invitation_emails", got["invitation emails"] == self.sent, f"not {self.sent}")
        told = {"joined": int(s == "accepted"), "closed by operations": int(s == "closed")}
        check("inviter_emails", got["inviter emails"] == told, f"inviter emails, not {told}")
        return check.failed


def test_connection_request_parts_agree(app, mailbox, amazon, temporal_env, loop, worker, config):
    RequestMachine.stack = Stack(app, mailbox, amazon, temporal_env, loop, worker, config)
    run_state_machine_as_test(RequestMachine, settings=machine_settings(EXAMPLES))


def test_user_invitation_parts_agree(app, mailbox, amazon, temporal_env, loop, worker, config):
    InvitationMachine.stack = Stack(app, mailbox, amazon, temporal_env, loop, worker, config)
    run_state_machine_as_test(InvitationMachine, settings=machine_settings(max(1, EXAMPLES // 2)))
