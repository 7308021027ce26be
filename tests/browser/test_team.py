"""Team management in the browser: a curator invites an expert, who sets a password."""

import pytest
from playwright.sync_api import expect

from heritage.models import Invitation, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "ochre-figures-on-weathered-rock"


def test_an_invited_expert_sets_a_password_and_lands_on_my_reviews(
    browser, page, live_server, django_user_model
):
    django_user_model.objects.create_user(
        username="head-curator", password="a-long-test-password", role="curator", manages_team=True
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "head-curator")
    page.fill("#id_password", "a-long-test-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/motifs/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    page.wait_for_url(f"{live_server.url}/team/")
    page.fill("#id_username", "mei.lin")
    page.select_option("#id_position", "expert")
    page.get_by_role("button", name="Invite").click()
    link = page.input_value("#invitation-link")
    assert link.startswith(f"{live_server.url}/accounts/invitation/")
    expect(page.locator(".team-invitations")).to_contain_text("mei.lin")

    # The expert opens the link in a browser of their own.
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    expert_page = context.new_page()
    expert_page.set_default_timeout(15_000)
    expert_page.goto(link)
    expect(expert_page.locator("#invited-username")).to_have_text("mei.lin")
    expert_page.fill("#id_new_password1", "mei.lin")
    expert_page.fill("#id_new_password2", "mei.lin")
    expert_page.get_by_role("button", name="Set password and sign in").click()
    expect(expert_page.locator(".has-error")).to_contain_text("too similar")
    expert_page.fill("#id_new_password1", PASSWORD)
    expert_page.fill("#id_new_password2", PASSWORD)
    expert_page.get_by_role("button", name="Set password and sign in").click()
    expert_page.wait_for_url(f"{live_server.url}/review/")
    expect(expert_page.get_by_role("heading", level=1)).to_have_text("My reviews")
    expect(expert_page.locator("header .who")).to_contain_text("mei.lin · Expert")

    # The link works once.
    expert_page.goto(link)
    expect(expert_page.get_by_role("heading", level=1)).to_have_text(
        "This invitation link no longer works"
    )
    context.close()

    user = User.objects.get(username="mei.lin")
    assert user.is_expert and user.check_password(PASSWORD)
    assert Invitation.objects.get().user == user
    page.goto(f"{live_server.url}/team/")
    expect(page.locator(".team-members")).to_contain_text("mei.lin")
    expect(page.locator(".team-invitations")).to_have_count(0)
