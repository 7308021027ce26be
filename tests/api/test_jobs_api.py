"""Jobs API: engines, launch (202, the job form's messages), follow, cancel, retry, results."""

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from heritage import services as heritage_services
from restoration import services
from restoration.models import RestorationJob
from tests import factories
from tests.restoration import fakes

pytestmark = pytest.mark.usefixtures("media")

JOBS = "/api/v1/jobs/"


@pytest.fixture(autouse=True)
def dispatched(monkeypatch):
    """Jobs are not handed to a runner; tests run them with services.job_run."""
    ids: list[int] = []
    monkeypatch.setattr(services, "job_dispatch", lambda *, job_id: ids.append(job_id))
    return ids


@pytest.fixture
def simulated(curator):
    motif = factories.make_demo_motif(user=curator, width=96, height=64)
    return heritage_services.annotation_simulate(
        motif=motif, author=curator, protocol="blocks", seed=3
    )


def _launch(client, annotation, **fields):
    body = {"annotation": annotation.pk, "engine": "telea"} | fields
    return client.post(JOBS, body, format="json")


def test_engines_list_parameters_ranges_and_weights(curator_api):
    response = curator_api.get("/api/v1/engines/")
    assert response.status_code == 200
    engines = {row["name"]: row for row in response.json()}
    telea = engines["telea"]
    assert telea["task"] == "restore" and telea["needs_weights"] is False
    assert telea["available"] is True and telea["description"]
    radius = telea["parameters"]["radius"]
    assert radius["kind"] == "int" and radius["minimum"] is not None and radius["help"]
    # An engine that needs weights and has none says so and cannot be launched.
    waiting = [row for row in engines.values() if row["needs_weights"] and not row["checkpoints"]]
    assert waiting and all(not row["available"] for row in waiting)
    assert curator_api.get("/api/v1/engines/telea/").json() == telea
    assert curator_api.get("/api/v1/engines/nope/").status_code == 404


def test_launch_answers_202_with_the_job_and_its_websocket(
    curator_api, simulated, dispatched, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _launch(curator_api, simulated, params={"radius": 5}, seed=7)
    assert response.status_code == 202, response.content
    body = response.json()
    job = RestorationJob.objects.get(pk=body["id"])
    assert body["websocket"] == f"/ws/restoration/jobs/{job.pk}/"
    assert response["Location"] == body["url"] == f"/api/v1/jobs/{job.pk}/"
    assert (body["status"], body["engine"], body["seed"]) == ("pending", "telea", 7)
    assert job.params["radius"] == 5 and dispatched == [job.pk]

    services.job_run(job_id=job.pk)
    state = curator_api.get(body["url"]).json()
    assert state["status"] == "succeeded" and state["step"] == state["total"] > 0
    result = curator_api.get(state["result"]).json()
    assert (result["job"], result["engine"], result["seed"]) == (job.pk, "telea", 7)
    assert result["params"]["radius"] == 5 and result["engine_version"] and result["device"]
    psnr = next(row for row in result["metrics"] if row["key"] == "psnr")
    assert psnr["whole"] is not None and psnr["higher_is_better"] is True
    download = curator_api.get(result["files"]["image"])
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert download["Cache-Control"].startswith("private")
    image = Image.open(io.BytesIO(b"".join(download.streaming_content)))
    assert image.size == (96, 64)
    assert job.result.image.name not in str(result)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"engine": "nope"}, "engine", "Select a valid choice. nope is not one of"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
        ({"params": {"radius": 10_000}}, "detail", "radius"),
        ({"params": {"no_such": 1}}, "detail", "no_such"),
        ({"annotation": 999_999}, "annotation", "Select a valid choice"),
        ({"engine": "tint"}, "detail", "transfers a style"),
    ],
)
def test_a_refused_launch_names_the_reason_and_makes_no_job(
    curator_api, simulated, settings, fields, field, words
):
    fakes.with_style_engines(settings)
    response = curator_api.post(
        JOBS, {"annotation": simulated.pk, "engine": "telea"} | fields, format="json"
    )
    assert response.status_code == 400, response.content
    message = response.json()[field]
    assert words in (message if field == "detail" else " ".join(message))
    assert not RestorationJob.objects.exists()


def test_a_refused_launch_says_what_the_page_says(curator_api, curator_client, simulated):
    # A form posts text; the same text gets the same words (a JSON number reads "got 10000").
    api = _launch(curator_api, simulated, params={"radius": "10000"}).json()["detail"]
    page = curator_client.post(
        reverse("restoration:job_create", args=[simulated.motif_id]),
        {"annotation": simulated.pk, "engine": "telea", "seed": 0, "param-telea-radius": 10_000},
        follow=True,
    )
    assert api in page.content.decode().replace("&#x27;", "'")


def test_a_superseded_annotation_is_refused_as_on_the_page(curator_api, curator, simulated):
    heritage_services.annotation_create(
        motif=simulated.motif,
        author=curator,
        mask=np.full((64, 96), 255, np.uint8),
        method="drawn",
        supersedes=simulated,
    )
    response = _launch(curator_api, simulated)
    assert response.status_code == 400 and "annotation" in response.json()


def test_cancel_and_retry(curator_api, simulated, dispatched, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = _launch(curator_api, simulated).json()
    cancelled = curator_api.post(f"{job['url']}cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = curator_api.post(f"{job['url']}cancel/")
    assert again.status_code == 400 and "already ended" in again.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        retry = curator_api.post(f"{job['url']}retry/")
    assert retry.status_code == 202
    body = retry.json()
    assert body["retry_of"] == job["id"] and body["status"] == "pending" and body["id"] != job["id"]
    assert dispatched == [job["id"], body["id"]]
    services.job_run(job_id=body["id"])
    refused = curator_api.post(f"/api/v1/jobs/{body['id']}/retry/")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Only failed or cancelled jobs can be retried."
    assert curator_api.get(f"{job['url']}result/").status_code == 404


def test_style_job_has_no_annotation(curator_api, curator, settings, tmp_path):
    fakes.with_style_engines(settings)
    fakes.register_tint(tmp_path / "tint", byte=200)
    photo = factories.make_motif(user=curator, kind="photograph", width=64, height=48)
    response = curator_api.post(
        "/api/v1/style-jobs/", {"motif": photo.pk, "engine": "tint", "seed": 2}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["task"], body["annotation"], body["motif"]) == ("stylize", None, photo.pk)
    assert body["checkpoint"]["name"] == "tint weights"
    services.job_run(job_id=body["id"])
    result = curator_api.get(f"{body['url']}result/").json()
    assert result["task"] == "stylize" and result["metrics"] == []
    assert result["files"]["outline"] is None
    refused = curator_api.post(
        "/api/v1/style-jobs/", {"motif": photo.pk, "engine": "telea"}, format="json"
    )
    assert refused.status_code == 400 and "does not transfer a style" in refused.json()["detail"]
    missing = curator_api.post("/api/v1/style-jobs/", {"engine": "tint"}, format="json")
    assert missing.status_code == 400 and "motif" in missing.json()
    assert RestorationJob.objects.count() == 1


def test_results_and_their_files_are_for_curators_only(
    curator_api, expert_api, expert_client, simulated
):
    job = _launch(curator_api, simulated).json()
    services.job_run(job_id=job["id"])
    result = curator_api.get(f"{job['url']}result/").json()
    for url in (job["url"], f"{job['url']}result/", result["files"]["image"]):
        assert expert_api.get(url).status_code == 403
        assert expert_client.get(url).status_code == 403
    assert curator_api.get(result["files"]["outline"]).status_code == 200
    assert curator_api.get(f"{job['url']}result/nope/").status_code == 404


@pytest.mark.parametrize("field", ["annotation", "checkpoint"])
def test_ids_no_database_holds_are_refused_as_unknown_choices(curator_api, simulated, field):
    body = {"annotation": simulated.pk, "engine": "telea", field: 2**70}
    response = curator_api.post(JOBS, body, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not RestorationJob.objects.exists()


def test_a_pending_jobs_state_says_how_many_jobs_are_ahead(curator_api, simulated):
    first = _launch(curator_api, simulated).json()
    second = _launch(curator_api, simulated).json()
    assert (first["ahead"], second["ahead"]) == (0, 1)
    RestorationJob.objects.filter(pk=first["id"]).update(status=RestorationJob.Status.SUCCEEDED)
    assert curator_api.get(second["url"]).json()["ahead"] == 0
    assert curator_api.get(first["url"]).json()["ahead"] is None  # not waiting any more
