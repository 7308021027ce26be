"""Live progress as a person sees it (issue 12): compare page panels finish without a reload,
a queued job says how many jobs are ahead of it, Cancel asks first, and a cancelled job's page
still says what was asked. Served by Daphne in-process with the embedded runner (see
test_restoration_job.py)."""

import pytest
from django.urls import reverse

from heritage import services as heritage_services
from restoration import consumers, services
from restoration.models import RestorationJob
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ENGINES = ("telea", "navier_stokes", "exemplar")


def _simulated(user):
    motif = factories.make_demo_motif(user=user, width=256, height=192)
    return heritage_services.annotation_simulate(
        motif=motif, author=user, protocol="blocks", seed=3
    )


def test_compare_page_panels_finish_live_without_a_reload(signed_in, asgi_server, settings):
    page, user = signed_in
    settings.RESTORATION_ENGINES = {
        name: spec for name, spec in settings.RESTORATION_ENGINES.items() if name in ENGINES
    }
    annotation = _simulated(user)
    websockets = []
    page.on("websocket", lambda socket: websockets.append(socket.url))
    page.goto(
        f"{asgi_server}{reverse('restoration:compare', args=[annotation.motif_id, annotation.pk])}"
    )
    assert page.locator(".compare-panel[data-engine] img[alt^='Restoration by']").count() == 0

    page.click("text=Run the missing engines")
    page.wait_for_selector("text=Started 3 restoration(s)")
    jobs = {job.engine: job for job in RestorationJob.objects.all()}
    assert set(jobs) == set(ENGINES)
    # From here on the page is never loaded again: a reload would lose this mark.
    page.evaluate("window.stillTheSamePage = true")
    # What the panels said while their jobs were under way.
    page.evaluate(
        """() => {
        window.liveTexts = [];
        new MutationObserver(() => {
          for (const status of document.querySelectorAll("[data-live-status]")) {
            window.liveTexts.push(status.textContent);
          }
        }).observe(document.querySelector(".compare-grid"),
                   {subtree: true, childList: true, characterData: true});
      }"""
    )

    for engine in ENGINES:
        panel = page.locator(f".compare-panel[data-engine={engine}]")
        panel.locator("img[alt='Restoration by " + engine + "']").wait_for(timeout=90_000)
        page.wait_for_function(
            "engine => document.querySelector("
            "`.compare-panel[data-engine=${engine}] img[alt='Restoration by ${engine}']`"
            ").naturalWidth > 0",
            arg=engine,
        )
        assert panel.locator("figcaption").inner_text().startswith(f"{engine} · ")
    assert page.evaluate("window.stillTheSamePage") is True
    said = page.evaluate("window.liveTexts")
    # One worker runs them in turn: the others waited in line, then went step by step.
    assert any("ahead of this one" in text or "is next" in text for text in said), said
    assert any(text.startswith("Step ") for text in said), said
    for engine, job in jobs.items():
        job.refresh_from_db()
        assert job.status == RestorationJob.Status.SUCCEEDED, (engine, job.error)
        assert any(url.endswith(f"/ws/restoration/jobs/{job.pk}/") for url in websockets)

    # The metrics table filled in too, each metric's best value marked, directions explained.
    for engine in ENGINES:
        row = page.locator(f"table.metrics tr[data-engine={engine}]")
        assert "no metrics" not in row.inner_text()
    assert page.locator("table.metrics td.best").count() >= 5 * 2  # PSNR..MSE, whole + damaged
    assert "higher is better" in page.locator(".metric-legend").inner_text()
    # Synchronised zoom still drives the panels whose content arrived live.
    frame = page.locator(".compare-panel[data-engine=telea] .zoom-frame")
    frame.hover()
    page.mouse.wheel(0, -400)
    transform = page.locator(".compare-panel[data-engine=exemplar] .zoom-content").evaluate(
        "element => element.style.transform"
    )
    assert "scale(" in transform and "scale(1)" not in transform


def test_a_queued_job_says_how_many_are_ahead_and_cancel_asks_first(signed_in, asgi_server):
    page, user = signed_in
    # Followed with the real interval (consumers.PENDING_RESYNC_INTERVAL, 3 s).
    assert consumers.PENDING_RESYNC_INTERVAL <= 5
    annotation = _simulated(user)
    # Pending jobs that no runner takes (queue=False): the page's job is third in line.
    ahead = [
        services.job_create(requested_by=user, annotation=annotation, engine="telea", queue=False)
        for _ in range(2)
    ]
    job = services.job_create(
        requested_by=user,
        annotation=annotation,
        engine="exemplar",
        params={"patch_size": 9},
        seed=7,
        queue=False,
    )

    page.goto(f"{asgi_server}{job.get_absolute_url()}")
    text = page.locator("#job-progress-text")
    page.wait_for_function(
        "() => document.querySelector('#job-progress-text').textContent.includes('2 jobs ahead')"
    )
    assert text.inner_text() == "Waiting for a worker: 2 jobs ahead of this one."
    # The input is shown beside where the estimate will appear, at a useful size.
    input_image = page.locator("#job-input")
    page.wait_for_function("() => document.querySelector('#job-input').naturalWidth > 0")
    assert input_image.bounding_box()["width"] >= 400
    assert page.locator("#job-preview").is_hidden()  # no broken image before the first estimate

    # A job ahead ends: the page follows without a reload.
    services.job_cancel(job=ahead[0], user=user)
    page.wait_for_function(
        "() => document.querySelector('#job-progress-text').textContent.includes('1 job ahead')"
    )
    services.job_cancel(job=ahead[1], user=user)
    page.wait_for_function(
        "() => document.querySelector('#job-progress-text').textContent.includes('is next')"
    )

    # Cancel asks first; saying no changes nothing.
    prompts = []

    def answer(dialog, accept):
        prompts.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.click("#cancel-job")
    assert prompts and prompts[0].startswith(f"Cancel restoration #{job.pk}?")
    job.refresh_from_db()
    assert job.status == RestorationJob.Status.PENDING
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.click("#cancel-job")
    page.wait_for_selector("#asked")
    job.refresh_from_db()
    assert job.status == RestorationJob.Status.CANCELLED

    # The cancelled job's page still says what was asked.
    asked = page.locator("#asked").inner_text()
    for shown in ("exemplar", "Patch size: 9", "7", "no step done"):
        assert shown in asked
    assert "This restoration was cancelled before it started." in page.inner_text("#job-error")
