"""A curator adding a work picks a motif and sees only its results, each with its thumbnail."""

import pytest

from gallery.models import ExhibitionEntry
from gallery.services import exhibitions as services
from restoration import services as restoration_services
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Visible result choices: [job number, label, thumbnail loaded].
VISIBLE_CHOICES = """
() => [...document.querySelectorAll("#add-work .result-choice")]
  .filter((choice) => !choice.hidden && choice.querySelector("input").value)
  .map((choice) => {
    const image = choice.querySelector("img");
    return [choice.querySelector("input").value, choice.innerText.trim(),
            Boolean(image && image.complete && image.naturalWidth > 0)];
  })
"""


def test_curator_picks_a_motif_and_sees_only_its_results_with_thumbnails(signed_in, live_server):
    page, curator = signed_in
    caves = factories.make_demo_motif(user=curator, seed=1, width=96, height=64, title="Caves")
    deer = factories.make_demo_motif(user=curator, seed=2, width=96, height=64, title="Deer")
    caves_damage = factories.make_annotation(motif=caves, user=curator)
    deer_damage = factories.make_annotation(motif=deer, user=curator)
    first = factories.make_restoration(annotation=caves_damage, user=curator)
    cancelled = restoration_services.job_create(
        requested_by=curator, annotation=caves_damage, engine="telea", queue=False
    )
    restoration_services.job_cancel(job=cancelled, user=curator)
    second = factories.make_restoration(
        annotation=caves_damage, user=curator, engine="navier_stokes"
    )
    other = factories.make_restoration(annotation=deer_damage, user=curator)
    exhibition = services.exhibition_create(created_by=curator, title="Rock art")

    page.goto(f"{live_server.url}/manage/exhibitions/{exhibition.pk}/")
    form = page.locator("#add-work")
    # With the script running, the motif filters as it changes: no button to press.
    assert form.locator("[data-show-results]").count() == 0
    assert page.evaluate(VISIBLE_CHOICES) == []
    assert form.locator("[data-results-status]").inner_text() == (
        "Choose a motif to see its results."
    )

    form.locator("select[name=motif]").select_option(label="Deer")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#add-work .result-choice img')]"
        ".filter((i) => i.offsetParent).every((i) => i.complete && i.naturalWidth > 0)"
    )
    assert page.evaluate(VISIBLE_CHOICES) == [
        [str(other.job_id), f"Restoration #{other.job_id} · telea · Deer", True]
    ]
    assert form.locator("[data-results-status]").inner_text() == "1 result of this motif."

    form.locator("select[name=motif]").select_option(label="Caves")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#add-work .result-choice img')]"
        ".filter((i) => i.offsetParent).every((i) => i.complete && i.naturalWidth > 0)"
    )
    shown = page.evaluate(VISIBLE_CHOICES)
    assert sorted(shown) == sorted(
        [
            [str(first.job_id), f"Restoration #{first.job_id} · telea · Caves", True],
            [str(second.job_id), f"Restoration #{second.job_id} · navier_stokes · Caves", True],
        ]
    )
    # The label the curator reads is the job page's: after the cancelled job, not the result's id.
    assert second.pk != second.job_id

    form.get_by_label(f"Restoration #{second.job_id} · navier_stokes · Caves").check()
    form.get_by_role("button", name="Add the work").click()
    page.wait_for_selector("text=was added as work 1")
    entry = ExhibitionEntry.objects.get(exhibition=exhibition)
    assert (entry.motif, entry.restoration) == (caves, second)
    # The work's own picker names the same job, ticked.
    ticked = page.locator(f"#entry-{entry.pk} .result-choice:has(input:checked)")
    assert ticked.inner_text().strip() == f"Restoration #{second.job_id} · navier_stokes · Caves"


def test_without_script_the_motif_filter_reloads_the_page_with_its_results(
    browser, live_server, django_user_model, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    curator = django_user_model.objects.create_user(
        username="curator-nojs", password="a-long-test-password", role="curator"
    )
    caves = factories.make_demo_motif(user=curator, seed=1, width=96, height=64, title="Caves")
    deer = factories.make_demo_motif(user=curator, seed=2, width=96, height=64, title="Deer")
    # A result of another motif, which the filtered page does not list.
    factories.make_restoration(
        annotation=factories.make_annotation(motif=caves, user=curator), user=curator
    )
    deer_result = factories.make_restoration(
        annotation=factories.make_annotation(motif=deer, user=curator), user=curator
    )
    exhibition = services.exhibition_create(created_by=curator, title="Rock art")

    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1400, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "curator-nojs")
        page.fill("#id_password", "a-long-test-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/motifs/")
        page.goto(f"{live_server.url}/manage/exhibitions/{exhibition.pk}/")
        form = page.locator("#add-work")
        choices = form.locator(".result-choice")
        assert [c.inner_text().strip() for c in choices.all() if c.is_visible()] == [
            "None: show the motif as photographed"
        ]

        form.locator("select[name=motif]").select_option(label="Deer")
        form.get_by_role("button", name="Show its results").click()
        page.wait_for_url(f"**/manage/exhibitions/{exhibition.pk}/?motif={deer.pk}#add-work")
        visible = [c.inner_text().strip() for c in choices.all() if c.is_visible()]
        assert visible == [
            "None: show the motif as photographed",
            f"Restoration #{deer_result.job_id} · telea · Deer",
        ]
        thumbnail = form.locator(".result-choice:visible img")
        assert thumbnail.count() == 1
        assert thumbnail.evaluate("(image) => image.complete && image.naturalWidth > 0")

        form.get_by_label(f"Restoration #{deer_result.job_id} · telea · Deer").check()
        form.get_by_role("button", name="Add the work").click()
        page.wait_for_selector("text=was added as work 1")
        entry = ExhibitionEntry.objects.get(exhibition=exhibition)
        assert (entry.motif, entry.restoration) == (deer, deer_result)
    finally:
        context.close()
