"""Restoration pages: launch a job, follow it, cancel, retry, compare; only curators see jobs."""

import json

from django.template.defaultfilters import floatformat
from django.urls import reverse

from heritage.media import restoration_file_url
from restoration import selectors, services
from restoration.checkpoints import checkpoint_register
from restoration.engines.registry import registry
from restoration.models import RestorationJob
from tests import factories
from tests.restoration import fakes

Status = RestorationJob.Status


def _form(annotation, engine="telea", **params) -> dict:
    data = {"annotation": annotation.pk, "engine": engine, "seed": "4"}
    data.update({f"param-{engine}-{name}": value for name, value in params.items()})
    return data


def _create_url(motif) -> str:
    return reverse("restoration:job_create", args=[motif.pk])


def _job(curator, annotation, engine="telea", **kwargs) -> RestorationJob:
    return services.job_create(requested_by=curator, annotation=annotation, engine=engine, **kwargs)


def _ran(curator, annotation, engine="telea", **kwargs) -> RestorationJob:
    job = _job(curator, annotation, engine, **kwargs)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    return job


def _detail_url(job) -> str:
    return reverse("restoration:job_detail", args=[job.pk])


def _compare_url(annotation) -> str:
    return reverse("restoration:compare", args=[annotation.motif_id, annotation.pk])


# Launching a job


def test_job_create_redirects_a_curator_to_the_job_page(curator_client, motif, simulated):
    response = curator_client.post(_create_url(motif), _form(simulated, radius="7"))

    job = RestorationJob.objects.get()
    assert response.status_code == 302
    assert response.url == _detail_url(job)
    assert job.engine == "telea"
    assert job.params == {"radius": 7}
    assert job.seed == 4
    assert job.annotation == simulated
    assert job.status == Status.PENDING
    assert job.colour_correction is False


def test_job_create_passes_colour_correction_and_only_the_chosen_engines_params(
    curator_client, motif, simulated
):
    data = {**_form(simulated, "exemplar", iterations="2"), "colour_correction": "on"}
    # The page posts every engine's fieldset; only the chosen engine's fields count.
    data["param-telea-radius"] = "500"
    response = curator_client.post(_create_url(motif), data)

    job = RestorationJob.objects.get()
    assert response.status_code == 302
    assert job.engine == "exemplar"
    assert job.params == {"patch_size": 7, "iterations": 2, "levels": 0}
    assert job.colour_correction is True


def test_job_create_answers_every_client_with_the_job_page(curator_client, motif, simulated):
    # Scripts launch through the API (tests/api/test_jobs_api.py): the page has no JSON answer.
    response = curator_client.post(
        _create_url(motif), _form(simulated), HTTP_ACCEPT="application/json"
    )

    job = RestorationJob.objects.get()
    assert response.status_code == 302 and response.url == _detail_url(job)


def test_job_create_queues_the_job_only_on_commit(
    curator_client, motif, simulated, dispatched, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = curator_client.post(_create_url(motif), _form(simulated))
        assert response.status_code == 302
        assert dispatched == [], "queued before the job row was committed"
    assert len(callbacks) == 1
    assert dispatched == [RestorationJob.objects.get().pk]


def test_job_create_refuses_bad_parameters_naming_them(
    curator_client, motif, simulated, dispatched, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.post(
            _create_url(motif), _form(simulated, radius="500"), follow=True
        )

    text = [str(message) for message in response.context["messages"]]
    assert any("radius" in line for line in text), text
    assert not RestorationJob.objects.exists()
    assert dispatched == []


def test_job_create_refuses_bad_parameters_on_the_page_with_a_message(
    curator_client, motif, simulated
):
    response = curator_client.post(_create_url(motif), _form(simulated, radius="500"), follow=True)

    assert response.redirect_chain[-1][0] == motif.get_absolute_url()
    text = [str(message) for message in response.context["messages"]]
    assert any("not started" in line and "radius" in line for line in text), text
    assert not RestorationJob.objects.exists()


def test_job_create_refuses_an_unknown_engine(curator_client, motif, simulated):
    response = curator_client.post(_create_url(motif), _form(simulated, "nope"), follow=True)

    text = [str(message) for message in response.context["messages"]]
    assert any("not started" in line and "nope" in line for line in text), text
    assert not RestorationJob.objects.exists()


def test_job_create_refuses_an_annotation_of_another_motif(curator, curator_client, motif):
    other = factories.make_demo_motif(user=curator, seed=1, title="Other motif")
    foreign = factories.make_annotation(motif=other, user=curator)

    response = curator_client.post(_create_url(motif), _form(foreign), follow=True)

    text = [str(message) for message in response.context["messages"]]
    assert any("not started" in line for line in text), text
    assert not RestorationJob.objects.exists()


def test_job_create_is_refused_to_experts(expert_client, motif, simulated):
    response = expert_client.post(_create_url(motif), _form(simulated))

    assert response.status_code == 403
    assert not RestorationJob.objects.exists()


def test_job_create_sends_visitors_to_the_login_page(client, motif, simulated):
    response = client.post(_create_url(motif), _form(simulated))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not RestorationJob.objects.exists()


# Seeing a job


def test_job_page_is_hidden_from_experts_whether_or_not_the_job_exists(
    curator, expert_client, simulated
):
    job = _job(curator, simulated, "exemplar")
    missing = reverse("restoration:job_detail", args=[job.pk + 1000])

    for headers in ({}, {"HTTP_ACCEPT": "application/json"}):
        seen = expert_client.get(_detail_url(job), **headers)
        unknown = expert_client.get(missing, **headers)
        # Jobs name their engines, which experts must not learn: refused, and a job that
        # exists cannot be told from one that does not.
        assert seen.status_code in (403, 404)
        assert seen.status_code == unknown.status_code
        assert b"exemplar" not in seen.content


def test_job_page_sends_visitors_to_the_login_page(client, curator, simulated):
    job = _job(curator, simulated)

    for headers in ({}, {"HTTP_ACCEPT": "application/json"}):
        response = client.get(_detail_url(job), **headers)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_job_page_of_a_missing_job_is_404_for_curators(curator_client):
    response = curator_client.get(reverse("restoration:job_detail", args=[999]))

    assert response.status_code == 404


def test_job_page_shows_live_progress_while_pending(curator, curator_client, simulated):
    job = _job(curator, simulated)

    response = curator_client.get(_detail_url(job))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="job-progress"' in html
    assert 'id="job-live"' in html and 'data-status="pending"' in html
    assert 'id="result"' not in html
    assert "js/job-progress.js" in html
    assert reverse("restoration:job_cancel", args=[job.pk]) in html
    state = response.context["state"]
    assert state["job"] == job.pk and state["status"] == "pending"


def test_job_state_for_scripts_is_the_apis(curator, curator_client, simulated):
    job = _job(curator, simulated)

    response = curator_client.get(reverse("restoration_api:job", args=[job.pk]))

    assert response.status_code == 200
    assert response.json()["id"] == job.pk
    assert response.json()["status"] == "pending"
    # The page answers HTML whatever the client accepts.
    page = curator_client.get(_detail_url(job), HTTP_ACCEPT="application/json")
    assert page["Content-Type"].startswith("text/html")


def test_job_page_shows_the_result_with_provenance_and_metrics(curator, curator_client, simulated):
    job = _ran(curator, simulated, params={"radius": 3}, seed=9)
    restoration = job.result

    response = curator_client.get(_detail_url(job))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="result"' in html
    assert "data-slider" in html and "data-slider-input" in html
    for kind in ("input", "preview", "outline", "image"):
        url = restoration_file_url(restoration, kind)
        assert url in html
        assert curator_client.get(url).status_code == 200
    assert 'id="toggle-outline"' in html
    # The live section is hidden once the job has ended.
    assert 'id="job-live" class="card job-live" data-status="succeeded" hidden' in html
    # Provenance: what ran, with which inputs, and how long it took.
    assert f"<dd>telea {restoration.engine_version}</dd>" in html
    assert "<dd>radius=3</dd>" in html
    assert "<dd>9</dd>" in html
    assert f"<dd>{floatformat(restoration.seconds, 2)}</dd>" in html
    # The damage was simulated, so metrics against the intact motif are shown.
    assert '<table class="metrics">' in html
    assert "Against the intact motif" in html
    whole_psnr = restoration.metrics["whole"]["psnr"]
    assert whole_psnr is not None
    # Each metric at the precision worth reading: hundredths of a dB, thousandths of SSIM.
    assert f"{whole_psnr:.2f} dB" in html and f"{whole_psnr:.4f}" not in html
    assert f"{restoration.metrics['whole']['ssim']:.3f}" in html
    assert [row["key"] for row in response.context["metric_rows"]][:2] == ["psnr", "ssim"]
    # The only result on its annotation: nothing marked best yet, the directions explained.
    assert 'class="best"' not in html
    assert "↑ higher is better, ↓ lower is better" in html


def test_job_page_marks_the_metrics_where_its_result_is_the_best_of_the_annotation(
    curator, curator_client, simulated
):
    telea = _ran(curator, simulated, "telea", params={"radius": 3})
    navier = _ran(curator, simulated, "navier_stokes", params={"radius": 3})
    response = curator_client.get(_detail_url(telea))
    html = response.content.decode()
    rows = {row["key"]: row for row in response.context["metric_rows"]}
    mine, theirs = telea.result.metrics["whole"], navier.result.metrics["whole"]
    # MAE: lower is better; marked here exactly when telea's is at most navier_stokes'.
    assert rows["mae"]["whole_best"] == (mine["mae"] <= theirs["mae"])
    assert rows["ssim"]["whole_best"] == (mine["ssim"] >= theirs["ssim"])
    assert rows["tv"]["whole_best"] is False and rows["tv"]["damaged_best"] is False
    assert "among the 2 results on this damage annotation" in html


def test_job_page_of_drawn_damage_says_there_is_no_ground_truth(curator, curator_client, motif):
    drawn = factories.make_annotation(motif=motif, user=curator)
    job = _ran(curator, drawn)

    response = curator_client.get(_detail_url(job))

    html = response.content.decode()
    assert 'id="result"' in html
    assert job.result.metrics is None
    assert "there is no ground truth" in html
    assert '<table class="metrics">' not in html


def test_job_page_of_a_failed_job_shows_the_error_and_offers_a_retry(
    curator, curator_client, simulated
):
    job = _job(curator, simulated)
    RestorationJob.objects.filter(pk=job.pk).update(status=Status.FAILED, error="Out of memory.")

    html = curator_client.get(_detail_url(job)).content.decode()

    assert "This restoration failed: Out of memory." in html
    assert reverse("restoration:job_retry", args=[job.pk]) in html
    assert 'id="result"' not in html


# Cancel and retry


def test_job_cancel_cancels_a_pending_job(curator, curator_client, simulated):
    job = _job(curator, simulated)

    response = curator_client.post(reverse("restoration:job_cancel", args=[job.pk]))

    assert response.status_code == 302
    assert response.url == _detail_url(job)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert job.cancel_requested


def test_job_cancel_of_a_finished_job_is_an_error_and_changes_nothing(
    curator, curator_client, simulated
):
    job = _ran(curator, simulated)

    response = curator_client.post(reverse("restoration:job_cancel", args=[job.pk]), follow=True)

    text = [str(message) for message in response.context["messages"]]
    assert any("already ended" in line for line in text), text
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    assert not job.cancel_requested


def test_job_cancel_is_refused_to_experts(curator, expert_client, simulated):
    job = _job(curator, simulated)

    response = expert_client.post(reverse("restoration:job_cancel", args=[job.pk]))

    assert response.status_code in (403, 404)
    job.refresh_from_db()
    assert job.status == Status.PENDING


def test_job_cancel_needs_a_post(curator, curator_client, simulated):
    job = _job(curator, simulated)

    response = curator_client.get(reverse("restoration:job_cancel", args=[job.pk]))

    assert response.status_code == 405
    job.refresh_from_db()
    assert job.status == Status.PENDING


def test_job_retry_of_a_failed_job_starts_a_new_job(
    curator, curator_client, simulated, dispatched, django_capture_on_commit_callbacks
):
    job = _job(curator, simulated, params={"radius": 4}, seed=11, colour_correction=True)
    RestorationJob.objects.filter(pk=job.pk).update(status=Status.FAILED, error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.post(reverse("restoration:job_retry", args=[job.pk]))

    retry = RestorationJob.objects.exclude(pk=job.pk).get()
    assert response.status_code == 302
    assert response.url == _detail_url(retry)
    assert retry.retry_of == job
    assert retry.status == Status.PENDING
    assert (retry.engine, retry.params, retry.seed, retry.colour_correction) == (
        "telea",
        {"radius": 4},
        11,
        True,
    )
    assert dispatched[-1] == retry.pk
    job.refresh_from_db()
    assert job.status == Status.FAILED


def test_job_retry_of_a_pending_job_is_refused(curator, curator_client, simulated):
    job = _job(curator, simulated)

    response = curator_client.post(reverse("restoration:job_retry", args=[job.pk]), follow=True)

    assert response.redirect_chain[-1][0] == _detail_url(job)
    text = [str(message) for message in response.context["messages"]]
    assert any("Only failed or cancelled" in line for line in text), text
    assert RestorationJob.objects.count() == 1


# Comparing engines


def test_compare_page_lists_every_engine_with_its_latest_result(curator, curator_client, simulated):
    _ran(curator, simulated, "telea", params={"radius": 2})
    newer = _ran(curator, simulated, "telea", params={"radius": 6})
    pending = _job(curator, simulated, "navier_stokes")

    response = curator_client.get(_compare_url(simulated))

    assert response.status_code == 200
    rows = {row["engine"]: row for row in response.context["rows"]}
    # Every restoration engine; style engines (task "stylize") restore nothing.
    restorers = selectors.engine_names(task="restore")
    assert set(rows) == set(restorers)
    assert {"telea", "navier_stokes", "exemplar"} <= set(restorers)
    assert rows["telea"]["job"] == newer
    assert rows["telea"]["restoration"] == newer.result
    assert rows["navier_stokes"]["job"] == pending and rows["navier_stokes"]["restoration"] is None
    assert rows["exemplar"]["job"] is None
    html = response.content.decode()
    for engine in restorers:
        assert f'data-engine="{engine}"' in html
    assert restoration_file_url(newer.result, "preview") in html
    assert f"<th>telea</th><td>{floatformat(newer.result.seconds, 2)}</td>" in html
    ssim = newer.result.metrics["whole"]["ssim"]
    assert f"<td>{ssim:.3f}</td>" in html or f'<td class="best">{ssim:.3f} ' in html
    assert "Not run yet" in html
    assert response.context["missing"] == ["exemplar", "harmonic"]


def test_compare_post_launches_only_the_missing_engines(
    curator, curator_client, simulated, dispatched, django_capture_on_commit_callbacks
):
    _ran(curator, simulated, "telea")
    under_way = _job(curator, simulated, "navier_stokes")
    failed = _job(curator, simulated, "exemplar")
    RestorationJob.objects.filter(pk=failed.pk).update(status=Status.FAILED)
    before = set(RestorationJob.objects.values_list("pk", flat=True))
    dispatched.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = curator_client.post(_compare_url(simulated))

    assert response.status_code == 302
    assert response.url == _compare_url(simulated)
    new = RestorationJob.objects.exclude(pk__in=before)
    # A failed job has no result: its engine is missing. A result or a job under way is not.
    assert sorted(job.engine for job in new) == ["exemplar", "harmonic"]
    assert sorted(dispatched) == sorted(job.pk for job in new)
    assert RestorationJob.objects.filter(engine="navier_stokes").get() == under_way
    assert RestorationJob.objects.filter(engine="telea").count() == 1


def test_compare_post_explains_an_engine_that_cannot_be_loaded(
    curator, curator_client, simulated, settings
):
    # A misconfigured HERITAGE_ENGINES entry: the registry only checks the path's shape.
    settings.RESTORATION_ENGINES = {
        "telea": {"BACKEND": "restoration.engines.telea.TeleaEngine"},
        "zz_broken": {"BACKEND": "nowhere.Engine"},
    }

    response = curator_client.post(_compare_url(simulated), follow=True)

    text = [str(message) for message in response.context["messages"]]
    assert any("'zz_broken' cannot be loaded" in line for line in text), text
    # The message is a sentence, not the repr of ValidationError's message list.
    assert not any(line.startswith("[") for line in text), text


def test_compare_post_with_nothing_missing_launches_nothing(curator, curator_client, simulated):
    runnable = set(registry().names()) - selectors.engines_without_weights(registry().names())
    for engine in runnable:
        _job(curator, simulated, engine)

    response = curator_client.post(_compare_url(simulated), follow=True)

    assert RestorationJob.objects.count() == len(runnable)
    text = [str(message) for message in response.context["messages"]]
    assert any("none missing" in line for line in text), text


def test_compare_page_says_which_engines_await_weights_and_does_not_launch_them(
    curator_client, simulated
):
    assert "prior_diffusion" in registry().names()

    html = curator_client.get(_compare_url(simulated)).content.decode()
    response = curator_client.post(_compare_url(simulated), follow=True)

    panel = html.split('data-engine="prior_diffusion"')[1].split("</figure>")[0]
    assert "No weights registered" in panel
    assert "prior_diffusion" not in html.split("Run the missing engines")[1].split("</button>")[0]
    assert not RestorationJob.objects.filter(engine="prior_diffusion").exists()
    assert not any("prior_diffusion" in str(m) for m in response.context["messages"])


def test_compare_page_is_refused_to_experts_and_visitors(client, expert, simulated):
    assert client.get(_compare_url(simulated)).status_code == 302
    client.force_login(expert)
    assert client.get(_compare_url(simulated)).status_code == 403
    assert client.post(_compare_url(simulated)).status_code == 403
    assert not RestorationJob.objects.exists()


def test_compare_page_of_an_annotation_of_another_motif_is_404(curator, curator_client, motif):
    other = factories.make_demo_motif(user=curator, seed=1, title="Other motif")
    foreign = factories.make_annotation(motif=other, user=curator)

    response = curator_client.get(reverse("restoration:compare", args=[motif.pk, foreign.pk]))

    assert response.status_code == 404


# The panel on the motif page


def test_motif_page_shows_the_restoration_panel_to_curators(curator, curator_client, simulated):
    job = _job(curator, simulated, "exemplar")

    response = curator_client.get(simulated.motif.get_absolute_url())

    html = response.content.decode()
    assert 'id="restorations"' in html
    assert "data-engine-form" in html
    assert _create_url(simulated.motif) in html
    for engine in registry().names():
        assert f'data-engine-params="{engine}"' in html
    assert 'name="param-exemplar-iterations"' in html
    assert 'name="param-telea-radius"' in html
    assert '<table class="jobs">' in html
    assert job.get_absolute_url() in html
    assert _compare_url(simulated) in html


def test_motif_page_without_damage_asks_to_mark_it_first(curator_client, motif):
    html = curator_client.get(motif.get_absolute_url()).content.decode()

    assert 'id="restorations"' in html
    assert 'class="card restore-form"' not in html
    assert "Mark the damage first" in html


def test_motif_page_hides_the_restoration_panel_from_experts(curator, expert_client, simulated):
    job = _job(curator, simulated, "exemplar")

    response = expert_client.get(simulated.motif.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="restorations"' not in html
    assert "data-engine-form" not in html
    assert job.get_absolute_url() not in html
    for engine in registry().names():
        assert f'data-engine-params="{engine}"' not in html


def test_job_state_is_json_serialisable_after_a_run(curator, curator_client, simulated):
    job = _ran(curator, simulated)

    state = json.loads(json.dumps(selectors.job_state(job=job)))
    assert state["status"] == "succeeded"
    assert state["result_url"] == _detail_url(job) + "#result"
    assert state["step"] == state["total"] > 0
    api = curator_client.get(reverse("restoration_api:job", args=[job.pk])).json()
    assert api["result"] == reverse("restoration_api:job_result", args=[job.pk])


def test_motif_page_survives_an_engine_that_cannot_be_loaded(curator_client, simulated, settings):
    settings.RESTORATION_ENGINES = {
        "telea": {"BACKEND": "restoration.engines.telea.TeleaEngine"},
        "zz_broken": {"BACKEND": "nowhere.Engine"},
    }

    response = curator_client.get(simulated.motif.get_absolute_url())

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "&#x27;zz_broken&#x27; cannot be loaded" in page or "'zz_broken' cannot be loaded" in page
    )
    assert 'value="telea"' in page and 'value="zz_broken"' not in page


# Checkpoints


def _weights(settings, tmp_path, name="fill.bin", fill=200, **kwargs):
    fakes.with_test_engines(settings)
    path = tmp_path / name
    path.write_bytes(bytes([fill]) * 32)
    return checkpoint_register(location=path, engine="weights", **kwargs)


def test_the_panel_offers_each_engine_its_checkpoints(
    curator_client, simulated, settings, tmp_path, media
):
    default = _weights(settings, tmp_path, default=True)
    other = _weights(settings, tmp_path, name="later.bin", fill=3)

    html = curator_client.get(simulated.motif.get_absolute_url()).content.decode()

    fieldset = html.split('data-engine-params="weights"')[1].split("</fieldset>")[0]
    assert f'<option value="{default.pk}" selected>fill.bin (default) · {default.sha256[:12]}' in (
        fieldset
    )
    assert f'<option value="{other.pk}" >later.bin' in fieldset
    telea = html.split('data-engine-params="telea"')[1].split("</fieldset>")[0]
    assert 'name="checkpoint"' not in telea


def test_the_panel_says_when_an_engine_has_no_weights_yet(curator_client, simulated, settings):
    fakes.with_test_engines(settings)

    html = curator_client.get(simulated.motif.get_absolute_url()).content.decode()

    fieldset = html.split('data-engine-params="weights"')[1].split("</fieldset>")[0]
    assert "needs trained weights and none are registered" in fieldset
    assert "register_checkpoint PATH --engine weights" in fieldset


def test_job_create_runs_with_the_chosen_checkpoint(
    curator_client, simulated, settings, tmp_path, media
):
    _weights(settings, tmp_path, default=True)
    chosen = _weights(settings, tmp_path, name="later.bin", fill=3)

    response = curator_client.post(
        _create_url(simulated.motif), {**_form(simulated, "weights"), "checkpoint": chosen.pk}
    )

    job = RestorationJob.objects.get()
    assert response.status_code == 302 and job.checkpoint == chosen


def test_job_create_refuses_a_checkpoint_of_another_engine(
    curator_client, simulated, settings, tmp_path, media
):
    weights = _weights(settings, tmp_path)

    response = curator_client.post(
        reverse("restoration_api:jobs"),
        {"annotation": simulated.pk, "engine": "exemplar", "checkpoint": weights.pk},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "holds weights of engine 'weights', not 'exemplar'" in response.json()["detail"]
    assert not RestorationJob.objects.exists()


def test_job_create_refuses_an_engine_without_weights_with_a_clear_message(
    curator_client, simulated, settings
):
    fakes.with_test_engines(settings)

    response = curator_client.post(
        _create_url(simulated.motif), _form(simulated, "weights"), follow=True
    )

    text = " ".join(str(message) for message in response.context["messages"])
    assert "Engine 'weights' needs trained weights and none are registered" in text
    assert not RestorationJob.objects.exists()


def test_provenance_shows_the_checkpoint_the_device_and_the_engine_details(
    curator, curator_client, simulated, settings, tmp_path, media
):
    weights = _weights(settings, tmp_path)
    job = _ran(curator, simulated, "weights", checkpoint=weights)

    html = curator_client.get(_detail_url(job)).content.decode()

    checkpoint = html.split('id="provenance-checkpoint">')[1].split("</dd>")[0]
    assert "fill.bin" in checkpoint and weights.sha256 in checkpoint
    assert f"<dd>{job.result.device}</dd>" in html
    details = html.split('id="provenance-info">')[1].split("</dd>")[0]
    assert details == f"device={job.result.device}, fill=200"


def test_text_parameters_get_a_text_field_with_their_default(curator_client, simulated):
    html = curator_client.get(simulated.motif.get_absolute_url()).content.decode()

    fieldset = html.split('data-engine-params="sd_inpaint"')[1].split("</fieldset>")[0]
    assert 'type="text" name="param-sd_inpaint-negative_prompt"' in fieldset
    assert "watermark" in fieldset


# What a person sees on the job page (issue 12)


def test_job_page_shows_the_input_beside_the_live_estimate_and_the_queue(
    curator, curator_client, simulated
):
    _job(curator, simulated)
    job = _job(curator, simulated, "exemplar")

    response = curator_client.get(_detail_url(job))

    html = response.content.decode()
    live = html[html.index('id="job-live"') : html.index("</section>", html.index('id="job-live"'))]
    # The input (with its damage) and the engine's estimate, side by side.
    assert 'class="live-preview side-by-side"' in live
    assert 'id="job-input"' in live and 'id="job-preview"' in live
    assert reverse("heritage:annotation_mask", args=[simulated.pk]) in live
    # Its place in the queue, for the page's script: one job ahead of it.
    assert response.context["state"]["ahead"] == 1
    assert "js/job-socket.js" in html


def test_cancel_asks_for_confirmation(curator, curator_client, simulated):
    job = _job(curator, simulated)
    RestorationJob.objects.filter(pk=job.pk).update(status=Status.RUNNING)

    html = curator_client.get(_detail_url(job)).content.decode()

    assert 'id="cancel-job" data-confirm="Cancel restoration #' in html
    assert "its work so far is lost" in html


def test_a_cancelled_jobs_page_keeps_what_was_asked_and_how_far_it_got(
    curator, curator_client, simulated
):
    job = _job(curator, simulated, "exemplar", params={"patch_size": 9}, seed=12)
    RestorationJob.objects.filter(pk=job.pk).update(
        status=Status.CANCELLED, step=3, total=10, device="cpu", attempts=1
    )

    html = curator_client.get(_detail_url(job)).content.decode()

    assert "This restoration was cancelled at step 3 of 10." in html
    asked = html[html.index('id="asked"') : html.index("</dl>", html.index('id="asked"'))]
    assert "<dd>exemplar</dd>" in asked
    assert "Patch size: 9" in asked  # labelled as the engine declares it
    assert "<dd>12</dd>" in asked and "<dd>cpu</dd>" in asked
    assert "step 3 of 10, attempt 1" in asked
    assert f"annotation #{simulated.pk}" in asked


def test_engine_parameters_are_labelled_in_words(curator_client, simulated):
    html = curator_client.get(simulated.motif.get_absolute_url()).content.decode()

    assert "<legend>Exemplar parameters" in html
    assert "exemplar 1 parameters" not in html
    assert "<label>Patch size" in html
    assert "<label>patch_size" not in html
    # The field names, which scripts post, stay the engine's.
    assert 'name="param-exemplar-patch_size"' in html


def test_compare_page_panels_of_jobs_under_way_are_followed_live(
    curator, curator_client, simulated
):
    pending = _job(curator, simulated, "navier_stokes")

    html = curator_client.get(_compare_url(simulated)).content.decode()

    assert f'data-engine="navier_stokes" data-job="{pending.pk}" data-status="pending"' in html
    assert "data-live-preview" in html and "data-live-status" in html
    assert "js/job-socket.js" in html and "js/compare-live.js" in html
    assert '<tr data-engine="navier_stokes">' in html
