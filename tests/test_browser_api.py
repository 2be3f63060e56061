"""The API's pages in a real browser: a key made and shown once, and the reference to read."""

import requests

from tests.browser import needs_chromium, sign_up
from tests.support import unique_email

pytestmark = needs_chromium


def test_a_bookkeeper_makes_a_key_uses_it_and_reads_the_reference(people, mailbox, live_server):
    bea = people("bookkeeper")
    page = bea.page
    sign_up(bea, mailbox, "Bea Keeper", unique_email("bea"), "Ledger & Co")
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Practice manager sync")
    page.get_by_role("button", name="Create a key").click()
    key = page.get_by_test_id("new-key").inner_text()
    bea.shot("28-api-key-created")

    answer = requests.get(
        f"{live_server}/api/v1/accounts/", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert answer.status_code == 200
    page.reload()  # shown once: gone on the next look, and its last use is there instead
    assert page.get_by_test_id("new-key").count() == 0
    assert "never" not in page.locator("table").inner_text()

    page.get_by_role("link", name="API reference").first.click()
    page.get_by_role("heading", name="POST /api/v1/connection-requests/", exact=True).wait_for()
    bea.shot("29-api-reference", full_page=False)  # the top: the page is long
