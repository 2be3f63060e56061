"""Bulk invites: many connection requests at once, from a CSV file (the page /requests/bulk) or a
list of rows (the JSON API). parse_csv reads a file into Rows; plan says, writing nothing, what
would become of each row; send plans again and sends the rows that can be sent, one at a time,
each whole or not at all. The rules (limits, roles, one open request per marketplace, covered
marketplaces) are services.requests.start's and services.accounts.add_account's, not copied."""

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from flask import current_app

from core import field_rules, marketplaces
from core.accounts import AmazonConnection, ClientAccount, Membership
from core.extensions import db
from core.request_rows import open_request_for
from core.requests import ConnectionRequest
from services import accounts, requests
from services.limits import OverLimit, spend
from vocabulary.statuses import LIVE_CONNECTION

# The columns, as the header names them (any case and spacing; "_" and "-" read as spaces).
COLUMNS = {
    "business name": "business_name",
    "marketplaces": "marketplaces",
    "owner name": "owner_name",
    "owner email": "owner_email",
    "note": "note",
}
ALIASES = {"marketplace": "marketplaces"}
REQUIRED = ("business name", "marketplaces", "owner name", "owner email")
COLUMN_LIST = "business name, marketplaces, owner name, owner email, note"
# Between a row's marketplaces: "US DE", "US;DE", "US|DE", "US, DE" (quoted).
_SEPARATORS = re.compile(r"[\s;|,]+")
MOST_MARKETPLACES = len(marketplaces.REGIONS)  # one per region, as the form allows

EXAMPLE_CSV = (
    "business name,marketplaces,owner name,owner email,note\r\n"
    "Acme Widgets Ltd,US,Sam Seller,sam@example.com,\r\n"
    'Blue Harbour Goods,UK JP,Ana Owner,ana@example.com,"Hi Ana, this is for the quarterly'
    ' books."\r\n'
    "Cedar & Pine,DE;US;JP,Jo Maker,jo@example.com,\r\n"
)


class BadCsv(Exception):
    """The file as a whole cannot be read: `message` says why and what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Row:
    """One row asked for: a business (an account of that name), the marketplaces to ask for (the
    first is the request's, the others go with it as in the form's 'Also in another region'),
    and whom to ask. `line` is where it is in the file (or its place in the API's list);
    `problem` is what the file itself got wrong in the row (too many cells)."""

    line: int
    business_name: str
    marketplaces: tuple[str, ...]
    owner_name: str
    owner_email: str
    note: str = ""
    problem: str = ""

    @classmethod
    def of(
        cls,
        line: int,
        business_name: str,
        marketplaces: str | Sequence[str],
        owner_name: str,
        owner_email: str,
        note: str = "",
        problem: str = "",
    ) -> "Row":
        """A row from typed values (a CSV's cells, the API's JSON): trimmed, the marketplaces
        split ("US DE", "US;DE", "US|DE" or a list) and upper-cased."""
        if isinstance(marketplaces, str):
            marketplaces = [marketplaces]
        countries = tuple(
            code.upper() for item in marketplaces for code in _SEPARATORS.split(item or "") if code
        )
        return cls(
            line=line,
            business_name=(business_name or "").strip(),
            marketplaces=countries,
            owner_name=(owner_name or "").strip(),
            owner_email=(owner_email or "").strip(),
            note=(note or "").replace("\r\n", "\n").strip(),
            problem=problem,
        )


class Kind(StrEnum):
    """A row's verdict: the first five from plan, SENT and NOT_SENT from send (which leaves the
    others as plan said)."""

    INVALID = "invalid"  # the row is wrong: `why` says what to change
    NEW_ACCOUNT = "new_account"  # no account of that name where you are an admin: one is added
    REQUEST = "request"  # your account of that name: a request will be sent
    ALREADY_CONNECTED = "already_connected"  # a live connection covers a marketplace
    ALREADY_OPEN = "already_open"  # a request for a marketplace is open
    SENT = "sent"
    NOT_SENT = "not_sent"  # refused when sent (a limit, Temporal away): nothing of it written


SENDABLE = (Kind.NEW_ACCOUNT, Kind.REQUEST)


@dataclass(frozen=True)
class Verdict:
    """What becomes (plan) or became (send) of one row, and why, in a sentence."""

    row: Row
    kind: Kind
    why: str
    account_id: int | None = None  # the row's account, once it exists
    public_id: str | None = None  # SENT: the request's (the first region's, for several)
    account_created: bool = False  # SENT: the row added the account
    retry_at: datetime | None = None  # NOT_SENT over a limit: when it frees up (naive UTC)

    @property
    def sendable(self) -> bool:
        return self.kind in SENDABLE

    @property
    def sent(self) -> bool:
        return self.kind == Kind.SENT


def spend_check(user_id: int) -> None:
    """One check or send of a list (the page's or the API's), against LIMIT_BULK per user (not
    per address: a firm's bookkeepers often share one office address). Raises OverLimit."""
    limit = current_app.config["LIMIT_BULK"]
    message = f"You have checked or sent as many lists of requests as you can for now ({limit})."
    spend(limit, "LIMIT_BULK", f"user:{user_id}", message)


# ---- parse ------------------------------------------------------------------------------------


def _kb(size: int) -> str:
    return f"{max(1, round(size / 1024)):,} KB"


def _column(name: str) -> str:
    words = " ".join(name.replace("_", " ").replace("-", " ").split()).casefold()
    return ALIASES.get(words, words)


def _delimiter(text: str) -> str:
    """A comma, or the semicolon or tab a spreadsheet in another locale saves with."""
    first = text.split("\n", 1)[0]
    if "," not in first:
        for other in (";", "\t"):
            if other in first:
                return other
    return ","


def parse_csv(text: str, max_rows: int | None = None, max_bytes: int | None = None) -> list[Row]:
    """The rows of a CSV whose first line names the columns (COLUMNS, in any order, any case;
    note may be left out), or BadCsv saying what is wrong with the file. Blank lines are
    skipped. Limits: BULK_INVITE_MAX_ROWS and BULK_INVITE_MAX_BYTES unless given."""
    config = current_app.config if max_rows is None or max_bytes is None else {}
    max_rows = config["BULK_INVITE_MAX_ROWS"] if max_rows is None else max_rows
    max_bytes = config["BULK_INVITE_MAX_BYTES"] if max_bytes is None else max_bytes
    size = len(text.encode())
    if size > max_bytes:
        raise BadCsv(
            f"The file is too large ({_kb(size)}): up to {_kb(max_bytes)} at a time. Split it"
            " into smaller files."
        )
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise BadCsv("This is not a CSV file. Save the sheet as CSV (UTF-8) and upload that.")
    if not text.strip():
        raise BadCsv(f"The file is empty. Its first line names the columns: {COLUMN_LIST}.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as err:
        raise BadCsv(
            f"Line {start} cannot be read ({err}): check its double quotes; a value with a"
            ' comma or a line break goes in double quotes, and a quote inside it is doubled ("").'
        ) from None
    if not records:
        raise BadCsv(f"The file is empty. Its first line names the columns: {COLUMN_LIST}.")
    (_, header), *records = records
    columns = _header(header)
    if not records:
        raise BadCsv("The file has its header line but no rows: add one row per business.")
    if len(records) > max_rows:
        raise BadCsv(
            f"The file has {len(records):,} rows: up to {max_rows:,} at a time. Split it into"
            " smaller files."
        )
    return [_row(line, cells, columns) for line, cells in records]


def _header(cells: list[str]) -> list[str]:
    """The header's columns in order; BadCsv for an unknown, missing or repeated one."""
    columns = [_column(cell) for cell in cells]
    if not any(c in COLUMNS for c in columns):
        raise BadCsv(
            f"The first line must name the columns: {COLUMN_LIST} (in any order; note may be"
            " left out)."
        )
    for cell, column in zip(cells, columns, strict=True):
        if column and column not in COLUMNS:
            raise BadCsv(
                f'Unknown column "{cell.strip()}" in the first line: the columns are {COLUMN_LIST}.'
            )
        if column and columns.count(column) > 1:
            raise BadCsv(f'The column "{column}" is named twice in the first line.')
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise BadCsv(
            f"The first line lacks the column{'s' if len(missing) > 1 else ''}"
            f" {', '.join(missing)}: the columns are {COLUMN_LIST}."
        )
    return columns


def _row(line: int, cells: list[str], columns: list[str]) -> Row:
    values = {COLUMNS[c]: cell for c, cell in zip(columns, cells, strict=False) if c in COLUMNS}
    extra = [cell for cell in cells[len(columns) :] if cell.strip()]
    problem = (
        f"This line has {len(cells)} values for {len(columns)} columns: put a value that has a"
        " comma in double quotes."
        if extra
        else ""
    )
    return Row.of(line=line, problem=problem, **{k: values.get(k, "") for k in COLUMNS.values()})


# ---- plan -------------------------------------------------------------------------------------


def _problems(row: Row) -> list[str]:
    """What is wrong with the row's values, by the rules the forms apply (core.field_rules,
    marketplaces.same_region_problem)."""
    problems = [row.problem] if row.problem else []

    def check(label: str, value: str, limit: int, single_line: bool = True) -> None:
        if not value and single_line:
            problems.append(f"The {label.lower()} is missing.")
            return
        rules = [field_rules.too_long(value, limit)]
        rules.append(
            field_rules.not_single_line(value)
            if single_line
            else field_rules.control_characters(value)
        )
        problems.extend(f"{label}: {message}" for message in rules if message)

    check("Business name", row.business_name, field_rules.NAME_MAX)
    check("Owner name", row.owner_name, field_rules.NAME_MAX)
    check("Owner email", row.owner_email, field_rules.EMAIL_MAX)
    email = row.owner_email
    if email and not field_rules.not_single_line(email) and field_rules.not_an_email(email):
        problems.append(f"Owner email: {field_rules.not_an_email(email)}")
    check("Note", row.note, field_rules.NOTE_MAX, single_line=False)
    problems.extend(_marketplace_problems(row.marketplaces))
    return problems


def _marketplace_problems(countries: tuple[str, ...]) -> list[str]:
    if not countries:
        return ["No marketplace: give one or more of Amazon's codes, such as US, UK, DE or JP."]
    unknown = [c for c in countries if c not in marketplaces.BY_COUNTRY]
    if unknown:
        return [
            f"Unknown marketplace {', '.join(unknown)}: use Amazon's two-letter codes"
            f" ({', '.join(m.country for m in marketplaces.MARKETPLACES)})."
        ]
    problems = []
    for i, country in enumerate(countries):
        if country in countries[:i]:
            problems.append(f"{country} is named twice.")
        elif message := marketplaces.same_region_problem(country, *countries[:i]):
            problems.append(f"{country}: {message}")
    if not problems and len(countries) > MOST_MARKETPLACES:
        problems.append(f"Up to {MOST_MARKETPLACES} marketplaces, one per region.")
    return problems


def _accounts_by_name(user_id: int) -> tuple[dict[str, list[ClientAccount]], set[str]]:
    """The user's accounts where they are an admin, by case-folded name; the names of those
    where they are only a member."""
    admin_of: dict[str, list[ClientAccount]] = {}
    member_of: set[str] = set()
    for account, role in db.session.execute(
        db.select(ClientAccount, Membership.role)
        .join(Membership, Membership.account_id == ClientAccount.id)
        .filter(Membership.user_id == user_id)
        .order_by(ClientAccount.id)
    ):
        if role == Membership.ADMIN:
            admin_of.setdefault(account.name.casefold(), []).append(account)
        else:
            member_of.add(account.name.casefold())
    return admin_of, member_of


def _labels(countries: Sequence[str]) -> str:
    return ", ".join(marketplaces.get(c).label for c in countries)


def _asked(row: Row) -> str:
    return f"{row.owner_name} ({row.owner_email}) for {_labels(row.marketplaces)}"


def _in_account(row: Row, account: ClientAccount) -> Verdict:
    """The verdict for a valid row of an existing account of the user's."""
    for country in row.marketplaces:
        connection = AmazonConnection.of(account.id, country)
        if connection is not None and connection.status in LIVE_CONNECTION:
            why = (
                f"{account.name} is connected to Amazon {country} already (seller"
                f" {connection.selling_partner_id}). Nothing to send."
            )
            return Verdict(row, Kind.ALREADY_CONNECTED, why, account.id)
        covering = AmazonConnection.covering(account.id, country)
        if covering is not None:
            why = requests.covered_message(covering, country)
            return Verdict(row, Kind.ALREADY_CONNECTED, why, account.id)
    for country in row.marketplaces:
        existing = open_request_for(account.id, country)
        if existing is not None:
            why = (
                f"A request for {marketplaces.get(country).label} is open already, sent to"
                f" {existing.client_name} ({existing.client_email}) on"
                f" {existing.created_at:%d %B %Y}: resend it from its page instead."
            )
            return Verdict(row, Kind.ALREADY_OPEN, why, account.id)
    return Verdict(row, Kind.REQUEST, f"A request will be sent to {_asked(row)}.", account.id)


def plan(user_id: int, rows: Sequence[Row]) -> list[Verdict]:
    """What would become of each row, writing and sending nothing: INVALID (with what to
    change), NEW_ACCOUNT (no account of that name, in any case, where the user is an admin: one
    is added and the request sent), REQUEST, ALREADY_CONNECTED or ALREADY_OPEN."""
    admin_of, member_of = _accounts_by_name(user_id)
    asked_in: dict[tuple[str, str], int] = {}  # (business, marketplace) -> line of the file
    added_by: dict[str, int] = {}  # a new account's name -> the line that adds it
    verdicts = []
    for row in rows:
        problems = _problems(row)
        name = row.business_name.casefold()
        found = admin_of.get(name, [])
        if not problems:
            for country in row.marketplaces:
                if (name, country) in asked_in:
                    problems.append(
                        f"Line {asked_in[name, country]} asks for {row.business_name} in"
                        f" {country} already."
                    )
            if len(found) > 1:
                problems.append(
                    f"You are an admin of {len(found)} accounts named {row.business_name}: send"
                    " this one from the account's own page."
                )
            elif not found and name in member_of:
                problems.append(
                    f"You are a member of {row.business_name}, not an admin: only its admins"
                    " can send requests."
                )
        if problems:
            verdicts.append(Verdict(row, Kind.INVALID, " ".join(problems)))
            continue
        asked_in.update({(name, country): row.line for country in row.marketplaces})
        if found:
            verdicts.append(_in_account(row, found[0]))
            continue
        first = added_by.setdefault(name, row.line)
        added = (
            f"A new account {row.business_name} will be added"
            if first == row.line
            else f"The new account of line {first}"
        )
        why = f"{added}, and a request sent to {_asked(row)}."
        verdicts.append(Verdict(row, Kind.NEW_ACCOUNT, why))
    return verdicts


# ---- send -------------------------------------------------------------------------------------


def send(user_id: int, rows: Sequence[Row]) -> list[Verdict]:
    """Plan the rows again (never trust an earlier plan), then send each sendable row in turn
    through services.requests.start (an invite: its limits, caps and workflows), adding its
    account first if it is new. A row is sent whole or not at all: an account added for a
    request that then does not start is taken back. Returns each row's verdict: SENT (with the
    request's public_id), NOT_SENT (why, and retry_at over a limit) or plan's verdict."""
    added: dict[str, int] = {}  # accounts this send added, by case-folded name
    # Refusals that stand for the rows after them, which are then not tried. Temporal away:
    # every row. A new account's request, or the account itself, over a limit: the user's own
    # allowance is spent (a new account's is whole), so the rows that need a new account, as
    # adding one only to take it back would spend LIMIT_ACCOUNTS for nothing.
    away: Exception | None = None
    spent: OverLimit | None = None
    results = []
    for verdict in plan(user_id, rows):
        if not verdict.sendable:
            results.append(verdict)
            continue
        name = verdict.row.business_name.casefold()
        account_id = verdict.account_id or added.get(name)
        standing = away or (spent if account_id is None else None)
        if standing is not None:
            results.append(_not_sent(verdict, standing, account_id))
            continue
        result, refused = _send_row(user_id, verdict, account_id)
        if result.sent and result.account_created:
            added[name] = result.account_id
        elif isinstance(refused, requests.Unavailable):
            away = refused
        elif isinstance(refused, OverLimit) and account_id is None:
            spent = refused
        results.append(result)
    return results


def _why_not(refused: Exception) -> str:
    if isinstance(refused, requests.AlreadyOpen):
        return "A request for one of these marketplaces is open already."
    if isinstance(refused, requests.Unavailable):
        return "The request could not be started just now. Please try again in a minute."
    return refused.message  # OverLimit, AlreadyCovered


def _not_sent(verdict: Verdict, refused: Exception, account_id: int | None) -> Verdict:
    """NOT_SENT, and why; `account_id` None for a row that needed an account: none was added."""
    why = f"Not sent: {_why_not(refused)}" + (
        " No account was added." if account_id is None else ""
    )
    retry_at = refused.retry_at if isinstance(refused, OverLimit) else None
    return replace(verdict, kind=Kind.NOT_SENT, why=why, retry_at=retry_at, account_id=account_id)


def _send_row(
    user_id: int, verdict: Verdict, account_id: int | None
) -> tuple[Verdict, Exception | None]:
    """One row, whole or not at all: its verdict and, when not sent, the refusal."""
    row = verdict.row
    created = account_id is None
    if created:
        try:
            account_id = accounts.add_account(user_id, row.business_name).id
        except OverLimit as over:
            return _not_sent(verdict, over, None), over
    fields = {
        "marketplace": row.marketplaces[0],
        "client_name": row.owner_name,
        "client_email": row.owner_email,
        "note": row.note,
    }
    try:
        started = requests.start(
            account_id, user_id, ConnectionRequest.INVITE, fields, row.marketplaces[1:]
        )
    except (
        OverLimit,
        requests.AlreadyCovered,
        requests.AlreadyOpen,
        requests.Unavailable,
    ) as refused:
        if created:
            accounts.discard_new_account(account_id)
            return _not_sent(verdict, refused, None), refused
        return _not_sent(verdict, refused, account_id), refused
    why = f"Request sent to {_asked(row)}" + (
        f", in the new account {row.business_name}." if created else "."
    )
    sent = replace(
        verdict,
        kind=Kind.SENT,
        why=why,
        account_id=account_id,
        public_id=started.public_id,
        account_created=created,
    )
    return sent, None
