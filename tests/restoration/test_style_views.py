"""Style-transfer pages: launch from a photograph's page, follow the job, see input and output
side by side with provenance, cancel and retry; restoration pages leave style engines out."""

import pytest
from django.urls import reverse

from heritage.media import restoration_file_url
from restoration import services
from restoration.models import RestorationJob, Task
from tests import factories
from tests.restoration import fakes

Status = RestorationJob.Status


@pytest.fixture
def tint(settings, media, tmp_path):
    fakes.with_style_engines(settings)
    return fakes.register_tint(tmp_path / "tint", byte=180, name="Tint of the test")


@pytest.fixture
def photo(curator, media):
    return factories.make_motif(
        user=curator, width=40, height=30, seed=8, title="Hills at dawn", kind="photograph"
    )


def _url(motif) -> str:
    return reverse("restoration:style_create", args=[motif.pk])


def _stylize(curator, motif, engine="tint", **kwargs) -> RestorationJob:
    return services.style_job_create(requested_by=curator, motif=motif, engine=engine, **kwargs)


def test_stylize_redirects_a_curator_to_the_job_page(curator_client, photo, tint):
    response = curator_client.post(
        _url(photo),
        {"engine": "tint", "seed": "5", "checkpoint": tint.pk, "param-tint-strength": "0.75"},
    )
    job = RestorationJob.objects.get()
    assert response.status_code == 302 and response.url == job.get_absolute_url()
    assert (job.task, job.annotation, job.motif, job.checkpoint) == ("stylize", None, photo, tint)
    assert (job.seed, job.params) == (5, {"strength": 0.75})


def test_a_script_stylizes_through_the_api_with_202_and_the_websocket(curator_client, photo, tint):
    response = curator_client.post(
        reverse("restoration_api:style_jobs"),
        {"motif": photo.pk, "engine": "tint"},
        content_type="application/json",
    )
    job = RestorationJob.objects.get()
    assert response.status_code == 202
    body = response.json()
    assert (body["id"], body["status"], body["page"]) == (job.pk, "pending", job.get_absolute_url())
    assert body["websocket"] == f"/ws/restoration/jobs/{job.pk}/"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"engine": "telea", "seed": "0"}, "'telea' restores damage"),
        ({"engine": "tint", "seed": "0", "param-tint-strength": "3"}, "strength"),
        ({"engine": "tint", "seed": "-2"}, "greater than or equal to 0"),
        ({"engine": "nope", "seed": "0"}, "not one of the available choices"),
    ],
)
def test_stylize_refuses_bad_requests_and_starts_nothing(
    curator_client, photo, tint, data, message
):
    page = curator_client.post(_url(photo), data, follow=True)
    assert "The style transfer was not started" in page.content.decode()
    assert message.replace("'", "&#x27;") in page.content.decode()
    # The API refuses the same request with the same words.
    params = {k.rpartition("-")[2]: v for k, v in data.items() if k.startswith("param-")}
    body = {"motif": photo.pk, "engine": data["engine"], "seed": data["seed"], "params": params}
    response = curator_client.post(
        reverse("restoration_api:style_jobs"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert message in str(response.json())
    assert not RestorationJob.objects.exists()


def test_stylize_is_refused_to_experts(expert_client, photo, tint):
    assert expert_client.post(_url(photo), {"engine": "tint", "seed": "0"}).status_code == 403
    assert not RestorationJob.objects.exists()


def test_stylize_sends_visitors_to_the_login_page(client, photo, tint):
    response = client.post(_url(photo), {"engine": "tint", "seed": "0"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not RestorationJob.objects.exists()


def test_a_pending_style_job_page_shows_live_progress_and_no_damage(
    curator, curator_client, photo, tint
):
    job = _stylize(curator, photo)
    html = curator_client.get(job.get_absolute_url()).content.decode()
    assert f"Style transfer #{job.pk}" in html
    assert 'id="job-live"' in html and 'id="job-progress"' in html and 'id="cancel-job"' in html
    assert "Compare engines" not in html
    assert "job-progress.js" in html


def test_the_result_page_shows_input_and_output_side_by_side_with_provenance(
    curator, curator_client, photo, tint
):
    job = _stylize(curator, photo, seed=12)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    result = job.result

    html = curator_client.get(job.get_absolute_url()).content.decode()

    assert 'class="side-by-side"' in html
    assert f'src="{restoration_file_url(result, "input")}"' in html
    assert f'src="{restoration_file_url(result, "preview")}"' in html
    assert restoration_file_url(result, "image") in html
    assert "Tint of the test" in html and tint.sha256 in html
    assert "<dt>Seed</dt><dd>12</dd>" in html
    assert f"<dt>Device</dt><dd>{result.device}</dd>" in html
    assert "<dt>Seconds</dt>" in html and "strength=0.5" in html
    assert "tiles=2" in html
    # No restoration furniture: no outline, no damage, no metrics, no colour correction.
    for absent in (
        "toggle-outline",
        "Outline the reconstructed area",
        "<dt>Damage</dt>",
        "Metrics",
        "Colour correction",
        "compare-slider",
    ):
        assert absent not in html
    # The input and output images are served to curators.
    for kind in ("input", "preview", "image"):
        assert curator_client.get(restoration_file_url(result, kind)).status_code == 200


def test_a_failed_style_job_offers_a_retry_that_keeps_the_task(
    curator, curator_client, photo, tint
):
    job = _stylize(curator, photo, engine="exploding_style", seed=6)
    services.job_run(job_id=job.pk)
    html = curator_client.get(job.get_absolute_url()).content.decode()
    assert "This style transfer failed" in html and "out of GPU memory" in html

    response = curator_client.post(reverse("restoration:job_retry", args=[job.pk]))
    retry = RestorationJob.objects.exclude(pk=job.pk).get()
    assert response.url == retry.get_absolute_url()
    assert (retry.task, retry.motif, retry.annotation, retry.seed) == ("stylize", photo, None, 6)


def test_a_style_job_can_be_cancelled_from_its_page(curator, curator_client, photo, tint):
    job = _stylize(curator, photo)
    curator_client.post(reverse("restoration:job_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert (
        "This style transfer was cancelled"
        in curator_client.get(job.get_absolute_url()).content.decode()
    )


def test_a_photographs_page_offers_stylize_with_the_style_engines_and_their_checkpoints(
    curator, curator_client, photo, tint
):
    job = _stylize(curator, photo)
    html = curator_client.get(photo.get_absolute_url()).content.decode()

    assert 'id="style-transfers"' in html and "data-style-form" in html
    assert _url(photo) in html and 'id="stylize"' in html
    assert 'data-engine-params="tint"' in html and 'name="param-tint-strength"' in html
    assert f'<option value="{tint.pk}" selected>Tint of the test' in html
    assert 'data-engine-params="telea"' not in html, "restoration engines are not offered"
    assert job.get_absolute_url() in html
    assert 'class="style-thumb"' not in html, "no thumbnail before a result"
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    html = curator_client.get(photo.get_absolute_url()).content.decode()
    assert f'class="style-thumb" src="{restoration_file_url(job.result, "preview")}"' in html
    # A photograph has no damage to mark and no restoration panel until it has annotations.
    assert "Mark damage" not in html and 'id="restorations"' not in html
    assert "<dt>Kind</dt>" in html and "Photograph" in html


def test_a_photograph_with_damage_still_offers_restorations(curator, curator_client, photo, tint):
    factories.make_annotation(motif=photo, user=curator)
    html = curator_client.get(photo.get_absolute_url()).content.decode()
    assert 'id="restorations"' in html and 'id="style-transfers"' in html


def test_an_artworks_page_keeps_restorations_and_folds_style_transfer_away(
    curator, curator_client, simulated, tint
):
    html = curator_client.get(simulated.motif.get_absolute_url()).content.decode()
    restore_form = html.split("data-engine-form", 1)[1].split("</form>", 1)[0]
    assert 'data-engine-params="telea"' in restore_form
    assert 'data-engine-params="tint"' not in restore_form, "style engines do not restore"
    assert "Mark damage" in html
    assert '<details class="style-launch" >' in html, "folded on an artwork"
    assert "Render this artwork in another style" in html


def test_a_photographs_page_says_when_no_style_engine_is_configured(
    curator_client, photo, settings
):
    settings.RESTORATION_ENGINES = {
        name: entry
        for name, entry in settings.RESTORATION_ENGINES.items()
        if name not in ("cyclegan", "cut")
    }
    html = curator_client.get(photo.get_absolute_url()).content.decode()
    assert "No style-transfer engine is configured" in html


def test_the_style_panel_is_hidden_from_experts(curator, expert_client, photo, tint):
    job = _stylize(curator, photo)
    html = expert_client.get(photo.get_absolute_url()).content.decode()
    assert 'id="style-transfers"' not in html and job.get_absolute_url() not in html


def test_the_compare_page_leaves_style_engines_out(curator, curator_client, simulated, tint):
    html = curator_client.get(
        reverse("restoration:compare", args=[simulated.motif_id, simulated.pk])
    ).content.decode()
    assert "telea" in html and "tint" not in html
    curator_client.post(reverse("restoration:compare", args=[simulated.motif_id, simulated.pk]))
    assert not RestorationJob.objects.filter(engine="tint").exists()
    assert set(RestorationJob.objects.values_list("task", flat=True)) == {Task.RESTORE}


def test_the_admin_lists_and_filters_jobs_and_results_by_task(curator, admin_client, photo, tint):
    job = _stylize(curator, photo)
    services.job_run(job_id=job.pk)
    jobs = admin_client.get(
        reverse("admin:restoration_restorationjob_changelist"), {"task__exact": "stylize"}
    )
    assert jobs.status_code == 200 and "Style transfer" in jobs.content.decode()
    results = admin_client.get(
        reverse("admin:restoration_restoration_changelist"), {"task__exact": "stylize"}
    )
    assert results.status_code == 200 and "Style transfer" in results.content.decode()
    none = admin_client.get(
        reverse("admin:restoration_restorationjob_changelist"), {"task__exact": "restore"}
    )
    assert "0 restoration jobs" in none.content.decode()


def test_the_stylize_form_opens_on_an_engine_that_has_weights(
    curator_client, photo, settings, tmp_path
):
    fakes.with_style_engines(settings)
    settings.RESTORATION_ENGINES = {
        "zz_tint": {"BACKEND": "tests.restoration.fakes.TintStyleEngine", "OPTIONS": {}},
        "aa_tint": {"BACKEND": "tests.restoration.fakes.TintStyleEngine", "OPTIONS": {}},
        **settings.RESTORATION_ENGINES,
    }
    fakes.register_tint(tmp_path / "w", engine="zz_tint", name="Only weights")
    html = curator_client.get(photo.get_absolute_url()).content.decode()
    form = html.split("data-style-form", 1)[1]
    options = form.split('id="id_style_engine"', 1)[1].split("</select>", 1)[0]
    assert options.index('value="zz_tint"') < options.index('value="aa_tint"')
