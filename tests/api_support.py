"""A practice tool's side of the API: a key made on the settings page, calls over real HTTP."""

import re
import uuid

import requests

from tests.support import Bookkeeper


def new_key(bookkeeper: Bookkeeper, name: str = "Practice manager") -> str:
    """Create a key on the API keys page and read it off the page, as a person would."""
    made = bookkeeper.client.post("/settings/api-keys/", data={"name": name})
    assert made.status_code == 303, made.text
    page = bookkeeper.client.get("/settings/api-keys/")
    assert page.headers["Cache-Control"] == "no-store"
    return re.search(r'data-testid="new-key">(ak_[A-Za-z0-9_-]+)<', page.text).group(1)


class Api:
    """Calls to /api/v1 with a key, over HTTP to the live server."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base = f"{base_url}/api/v1"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str, **params) -> requests.Response:
        return self.http.get(self.base + path, params=params, timeout=30)

    def post(
        self, path: str, body: dict | None = None, key: str | None = "new"
    ) -> requests.Response:
        """POST with a fresh Idempotency-Key unless `key` names one (None: send none)."""
        headers = {}
        if key is not None:
            headers["Idempotency-Key"] = uuid.uuid4().hex if key == "new" else key
        return self.http.post(self.base + path, json=body, headers=headers, timeout=30)


def assert_problem(response: requests.Response, status: int, kind: str) -> dict:
    """An RFC 9457 problem of this status and type, with words for a person."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["status"] == status and body["type"].endswith(f"#problem-{kind}"), body
    assert body["title"] and body["detail"] and body["instance"], body
    return body
