"""The API's documentation and the token page, as a curator meets them in the browser."""

import re
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_the_schema_from_the_sites_own_files(signed_in, live_server):
    page, _user = signed_in
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))

    page.goto(f"{live_server.url}/motifs/")
    page.click("footer >> text=API")
    page.wait_for_url(f"{live_server.url}/api/v1/docs/")
    # Swagger UI drew the operations from /api/v1/schema/: its script and styles loaded.
    page.locator(".opblock-summary-path", has_text="/api/v1/jobs/{id}/cancel/").first.wait_for()
    assert page.locator(".opblock").count() > 30
    assert hosts == {urlsplit(live_server.url).netloc}, hosts


def test_a_curator_makes_a_token_sees_it_once_and_revokes_it(signed_in, live_server):
    page, user = signed_in
    page.goto(f"{live_server.url}/motifs/")
    page.click(f"header >> text={user.username}")
    page.wait_for_url(f"{live_server.url}/accounts/profile/")
    page.fill("#id_name", "nightly import")
    page.get_by_role("button", name="Make a token").click()
    key = page.input_value("#new-key")
    assert re.fullmatch(r"[\w-]{40}", key)
    assert page.locator("td", has_text="nightly import").is_visible()

    page.goto(f"{live_server.url}/accounts/profile/")  # opened again: the key is not shown
    assert page.locator("#new-key").count() == 0
    assert page.locator("td", has_text=key[:8]).is_visible()
    page.get_by_role("button", name="Revoke the token nightly import").click()
    page.locator(".message", has_text="was revoked").wait_for()
    assert page.locator("td", has_text="revoked").is_visible()
    assert user.api_tokens.get().revoked_at is not None
