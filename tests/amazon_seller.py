"""Play the seller in the Amazon stand-in: sign in at Seller Central, then confirm or cancel.

Works against the stand-in's pages (sandbox/templates/consent/); tests import it to drive the
browser half of a connection without a browser.
"""

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

TIMEOUT = 10
_ERROR_CODE = re.compile(r'id="error-code">([^<]+)<')
_SIGNED_IN_AS = re.compile(r'data-seller-email="([^"]*)"')


@dataclass
class _Form:
    id: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Collects each form's id, action and hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, _Form] = {}
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = _Form(a.get("id", ""), a.get("action", ""))
            self.forms[self._current.id] = self._current
        elif tag == "input" and self._current is not None and a.get("type") == "hidden":
            self._current.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _text(page: str) -> str:
    """The visible text of a page, on one line, for assertion messages."""
    visible = re.sub(r"<(style|script)[^>]*>.*?</\1>|<[^>]+>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(visible)).strip()


def _fail_on_error_page(response: requests.Response) -> None:
    """Raise with the code and page text if this is one of Amazon's MDxxxx error pages."""
    code = _ERROR_CODE.search(response.text)
    if code:
        raise AssertionError(
            f"Amazon stand-in showed error {code.group(1)} "
            f"(HTTP {response.status_code}): {_text(response.text)}"
        )


def _form(response: requests.Response, form_id: str) -> _Form:
    """The named form of an Amazon page; an AssertionError with the page text if it is missing."""
    _fail_on_error_page(response)
    parser = _FormParser()
    parser.feed(response.text)
    if form_id not in parser.forms:
        raise AssertionError(
            f"expected form {form_id!r} at {response.url} (HTTP {response.status_code}): "
            f"{_text(response.text)}"
        )
    return parser.forms[form_id]


def consent(
    consent_url: str,
    email: str,
    password: str = "demo",
    *,
    confirm: bool = True,
    session: requests.Session | None = None,
) -> str:
    """Sign in as `email` and confirm the consent; return Amazon's redirect to the app.

    The redirect (`{redirect_uri}?state=…&selling_partner_id=…&spapi_oauth_code=…`) is returned,
    not followed. With confirm=False the seller presses Cancel: Amazon does not redirect, and the
    cancellation page's text is returned instead. Pass `session` to stay signed in across calls.
    """
    http = session or requests.Session()
    page = http.get(consent_url, timeout=TIMEOUT)
    signed_in_as = _SIGNED_IN_AS.search(page.text)
    if signed_in_as and signed_in_as.group(1) != email.strip().lower():
        form = _form(page, "signout-form")
        page = http.post(urljoin(page.url, form.action), data=form.fields, timeout=TIMEOUT)
    if 'id="signin-form"' in page.text:
        form = _form(page, "signin-form")
        page = http.post(
            urljoin(page.url, form.action),
            data={**form.fields, "email": email, "password": password},
            timeout=TIMEOUT,
        )
        if 'id="signin-error"' in page.text:
            raise AssertionError(f"sign-in as {email} failed: {_text(page.text)}")
    form = _form(page, "consent-form")
    answer = http.post(
        urljoin(page.url, form.action),
        data={**form.fields, "action": "confirm" if confirm else "cancel"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    if not confirm:
        assert answer.status_code == 200, f"cancel answered HTTP {answer.status_code}"
        return _text(answer.text)
    if answer.status_code != 302:
        _fail_on_error_page(answer)
        raise AssertionError(
            f"expected a redirect, got HTTP {answer.status_code}: {_text(answer.text)}"
        )
    return answer.headers["Location"]


def consent_error(consent_url: str) -> str:
    """The error code (MD1000, MD5101, ...) Amazon shows for this consent URL instead of sign-in."""
    page = requests.get(consent_url, timeout=TIMEOUT)
    code = _ERROR_CODE.search(page.text)
    if code is None:
        raise AssertionError(f"expected an Amazon error page, got: {_text(page.text)}")
    assert page.status_code == 400, f"error page answered HTTP {page.status_code}"
    return code.group(1)
