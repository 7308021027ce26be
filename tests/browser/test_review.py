"""An expert signs in and scores three items of a blind review with the keyboard alone."""

import pytest
from playwright.sync_api import expect

from gallery.models import DEFAULT_RUBRIC, ExpertScore, ReviewResponse
from gallery.services.reviews import campaign_create
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = [criterion["key"] for criterion in DEFAULT_RUBRIC]


def _digits(index: int) -> list[str]:
    """A different score per criterion and per item, so a key landing wrong shows."""
    return [str((index + offset) % 5 + 1) for offset in range(len(KEYS))]


@pytest.fixture
def restorations(curator, media):
    """Three restorations of one damaged demo motif."""
    motif = factories.make_demo_motif(user=curator, title="Keyboard motif")
    annotation = factories.make_annotation(motif=motif, user=curator)
    return [
        factories.make_restoration(annotation=annotation, user=curator, engine=engine, seed=seed)
        for engine, seed in (("telea", 0), ("navier_stokes", 0), ("telea", 1))
    ]


def test_expert_scores_three_items_with_the_keyboard(
    page, live_server, curator, expert, restorations
):
    campaign = campaign_create(
        created_by=curator,
        title="Keyboard pilot",
        instructions="Score the restored area.",
        reference="damaged",
        restorations=restorations,
        experts=[expert],
        open_now=True,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", expert.username)
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")
    # Experts land on My reviews.
    page.wait_for_url(f"{live_server.url}/review/")
    expect(page.get_by_role("link", name="My reviews")).to_be_visible()
    expect(page.locator(".campaigns")).to_contain_text("0 of 3 scored")
    page.get_by_role("link", name="Start").click()

    expected = {}
    for index in range(3):
        progress = page.locator("#review-progress")
        expect(progress).to_contain_text(f"Item {index + 1} of 3")
        # The shortcuts exist once review.js has run: keys pressed before would be lost.
        page.wait_for_load_state("load")
        token = page.url.rstrip("/").split("/")[-1]
        digits = _digits(index)
        for digit in digits:
            page.keyboard.press(digit)
        expect(page.locator("#review-submit")).to_be_focused()
        if index == 0:
            # Back up one criterion and change its score; the last one is kept.
            page.keyboard.press("ArrowUp")
            page.keyboard.press("5")
            digits[-2] = "5"
            expect(page.locator("[data-criterion=overall]")).to_have_class("criterion is-current")
        if index == 1:
            # Typing in the comment must not score, skip or submit.
            page.keyboard.press("Shift+Tab")
            expect(page.locator("#review-comment")).to_be_focused()
            page.keyboard.type("seams 12 show")
            page.keyboard.press("Enter")
            page.keyboard.press("Tab")
            expect(page.locator("#review-submit")).to_be_focused()
        expected[token] = dict(zip(KEYS, map(int, digits), strict=True))
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url, token=token: token not in url)

    expect(page.locator("h1")).to_contain_text("All done")
    responses = ReviewResponse.objects.filter(item__campaign=campaign, expert=expert)
    assert responses.count() == 3
    assert all(r.submitted_at is not None and not r.skipped for r in responses)
    comments = {r.item.token: r.comment for r in responses}
    assert sorted(comments.values()) == ["", "", "seams 12 show"]
    stored = {}
    for score in ExpertScore.objects.filter(item__campaign=campaign, expert=expert):
        stored.setdefault(score.item.token, {})[score.criterion] = score.score
    assert stored == expected
