"""Training runs API: start (202, the training form's messages), follow, cancel, resume."""

import pytest
from django.urls import reverse

from restoration import training_runs
from restoration.models import TrainingRun
from tests import factories

pytestmark = pytest.mark.usefixtures("media")

RUNS = "/api/v1/training-runs/"


@pytest.fixture(autouse=True)
def sent_runs(monkeypatch):
    """Runs are not handed to a runner; the ids that would have been."""
    ids: list[int] = []
    monkeypatch.setattr(
        training_runs, "training_run_dispatch", lambda *, run_id: ids.append(run_id)
    )
    return ids


@pytest.fixture
def motifs(curator):
    return [
        factories.make_motif(user=curator, seed=seed, width=64, height=64) for seed in (1, 2, 3)
    ]


def test_start_follow_and_cancel_a_run(
    curator_api, motifs, sent_runs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = curator_api.post(
            RUNS,
            {"engine": "prior_diffusion", "motifs": [m.pk for m in motifs], "steps": 20,
             "sample_every": 10},
            format="json",
        )  # fmt: skip
    assert response.status_code == 202, response.content
    body = response.json()
    run = TrainingRun.objects.get(pk=body["id"])
    assert sent_runs == [run.pk]
    assert body["websocket"] == f"/ws/restoration/training/{run.pk}/"
    assert response["Location"] == body["url"]
    # What the script left out took the values the page offers.
    assert (run.options["steps"], run.options["size"], run.options["batch"]) == (20, 128, 8)
    assert sorted(body["motifs"]) == sorted(m.pk for m in motifs)

    state = curator_api.get(body["url"]).json()
    assert (state["status"], state["total"], state["sample"]) == ("pending", 20, None)
    cancelled = curator_api.post(f"{body['url']}cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = curator_api.post(f"{body['url']}cancel/")
    assert again.status_code == 400 and "already ended" in again.json()["detail"]
    resume = curator_api.post(f"{body['url']}resume/", {"steps": 40}, format="json")
    assert resume.status_code == 400 and "saved no training state" in resume.json()["detail"]
    assert curator_api.get(f"{body['url']}sample/").status_code == 404


@pytest.mark.parametrize(
    ("fields", "key", "words"),
    [
        ({"engine": "telea"}, "engine", "Select a valid choice. telea is not one of"),
        ({"steps": "many"}, "steps", "Enter a whole number."),
        ({"motifs": [999_999]}, "motifs", "Select a valid choice. 999999 is not one of"),
        ({"size": 100}, "detail", "size must be a multiple of"),
        ({"colour": "blue"}, "detail", "Unknown fields: colour"),
    ],
)
def test_a_refused_start_names_the_reason_and_starts_nothing(
    curator_api, curator_client, motifs, fields, key, words
):
    body = {"engine": "prior_diffusion", "motifs": [m.pk for m in motifs]} | fields
    response = curator_api.post(RUNS, body, format="json")
    assert response.status_code == 400, response.content
    message = response.json()[key]
    assert words in (message if key == "detail" else " ".join(message))
    assert not TrainingRun.objects.exists()


def test_too_few_motifs_are_refused_as_on_the_page(curator_api, curator_client, motifs):
    response = curator_api.post(
        RUNS, {"engine": "prior_diffusion", "motifs": [motifs[0].pk]}, format="json"
    )
    assert response.status_code == 400
    page = curator_client.post(
        reverse("restoration:training_list"),
        {"engine": "prior_diffusion", "motifs": [motifs[0].pk], "size": 128, "steps": 2000,
         "batch": 8, "lr": 2e-4, "seed": 0, "sample_every": 100},
    )  # fmt: skip
    assert response.json()["detail"] in page.content.decode()


def test_runs_are_for_curators_only(expert_api, curator, motifs):
    run = training_runs.training_run_create(
        requested_by=curator, engine="prior_diffusion", motifs=motifs, options={}, queue=False
    )
    assert expert_api.get(RUNS).status_code == 403
    assert expert_api.get(f"{RUNS}{run.pk}/").status_code == 403
    assert expert_api.post(f"{RUNS}{run.pk}/cancel/").status_code == 403
    run.refresh_from_db()
    assert run.status == "pending"


def test_ids_no_database_holds_are_refused_in_the_forms_words(curator_api, motifs):
    body = {"engine": "prior_diffusion", "motifs": [motifs[0].pk, 2**70]}
    response = curator_api.post(RUNS, body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "motifs": [f"Select a valid choice. {2**70} is not one of the available choices."]
    }


def _checkpoint(name: str, engine: str = "prior_diffusion", **fields):
    from restoration.models import ModelCheckpoint

    return ModelCheckpoint.objects.create(
        engine=engine, name=name, weights=f"checkpoints/{name}", sha256="cd" * 32, **fields
    )


def test_a_run_starts_from_the_default_checkpoint_unless_told_otherwise(curator_api, motifs):
    default = _checkpoint("starter", is_default=True)
    other = _checkpoint("older")
    body = {"engine": "prior_diffusion", "motifs": [m.pk for m in motifs], "size": 64}
    left_out = curator_api.post(RUNS, body, format="json")
    assert left_out.status_code == 202, left_out.content
    assert left_out.json()["start_from"] == {
        "id": default.pk,
        "name": "starter",
        "sha256": default.sha256,
    }
    chosen = curator_api.post(RUNS, {**body, "start_from": other.pk}, format="json").json()
    new = curator_api.post(RUNS, {**body, "start_from": None}, format="json").json()
    # Widths ask for a new network: the default start does not apply to them.
    widths = curator_api.post(RUNS, {**body, "widths": "16,32"}, format="json").json()
    options = {
        run.pk: run.options
        for run in TrainingRun.objects.filter(pk__in=[chosen["id"], new["id"], widths["id"]])
    }
    assert options[chosen["id"]]["init_checkpoint"] == other.pk
    assert "init_checkpoint" not in options[new["id"]] and new["start_from"] is None
    assert "init_checkpoint" not in options[widths["id"]]
    assert options[widths["id"]]["architecture"] == {"block_out_channels": [16, 32]}
    # Style engines train no U-Net: they ignore it.
    style = {"engine": "cut", "motifs": [motifs[0].pk], "domain_b": [motifs[1].pk], "size": 32}
    styled = curator_api.post(RUNS, {**style, "start_from": other.pk}, format="json")
    assert styled.status_code == 202, styled.content
    assert "init_checkpoint" not in TrainingRun.objects.get(pk=styled.json()["id"]).options


@pytest.mark.parametrize(
    ("fields", "key", "words"),
    [
        ({"widths": "16,32"}, "widths", "choose widths or a checkpoint to start from, not both"),
        ({"start_from": "style"}, "detail", "holds weights of cut, not prior_diffusion"),
        ({"start_from": "adapter"}, "detail", "is an adapter on Stable Diffusion"),
        ({"start_from": 999_999}, "start_from", "No registered checkpoint has the id 999999"),
    ],
)
def test_a_refused_start_checkpoint_names_the_reason_and_starts_nothing(
    curator_api, motifs, fields, key, words
):
    checkpoints = {
        "pixel": _checkpoint("pixel", is_default=True),
        "style": _checkpoint("style", engine="cut"),
        "adapter": _checkpoint("adapter", config={"backbone": "sd"}),
    }
    start = fields.get("start_from", "pixel")
    body = {"engine": "prior_diffusion", "motifs": [m.pk for m in motifs]} | fields
    body["start_from"] = checkpoints[start].pk if start in checkpoints else start
    response = curator_api.post(RUNS, body, format="json")
    assert response.status_code == 400, response.content
    message = response.json()[key]
    assert words in (message if key == "detail" else " ".join(message))
    assert not TrainingRun.objects.exists()
