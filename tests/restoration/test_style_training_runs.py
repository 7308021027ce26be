"""Training runs of style engines from the browser: cyclegan and cut learn to render the
motifs of domain A (photographs) in the style of domain B (paintings), with several losses a
step, sample grids, cancel and resume; the registered checkpoint stylizes through style jobs."""

import json

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from PIL import Image

from restoration import services, training_runs
from restoration.models import ModelCheckpoint, RestorationJob, TrainingRun
from tests import factories

pytest.importorskip("torch")
pytest.importorskip("safetensors")


def tiny(photos, paintings, **overrides) -> dict:
    return {
        "size": 32,
        "steps": 3,
        "batch": 1,
        "seed": 5,
        "sample_every": 2,
        "ngf": 8,
        "n_blocks": 1,
        "domain_a": [m.pk for m in photos],
        "domain_b": [m.pk for m in paintings],
        **overrides,
    }


@pytest.fixture(autouse=True)
def training_dir(settings, tmp_path):
    settings.TRAINING_DIR = tmp_path / "training"
    return settings.TRAINING_DIR


@pytest.fixture(autouse=True)
def sent_runs(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(
        training_runs, "training_run_dispatch", lambda *, run_id: ids.append(run_id)
    )
    return ids


@pytest.fixture
def photos(curator, media):
    return [
        factories.make_motif(
            user=curator,
            width=40,
            height=30,
            seed=40 + i,
            title=f"Photo {i}",
            kind="photograph",
            licence="CC0 1.0",
        )
        for i in range(2)
    ]


@pytest.fixture
def paintings(curator, media):
    return [
        factories.make_demo_motif(
            user=curator, width=96, height=64, seed=60 + i, title=f"Scroll {i}"
        )
        for i in range(2)
    ]


@pytest.fixture
def events(monkeypatch):
    sent: list[dict] = []
    original = training_runs._publish

    def publish(run_id, message):
        sent.append(message)
        original(run_id, message)

    monkeypatch.setattr(training_runs, "_publish", publish)
    return sent


def _create(curator, photos, paintings, engine="cyclegan", **options):
    return training_runs.training_run_create(
        requested_by=curator,
        engine=engine,
        motifs=photos + paintings,
        options=tiny(photos, paintings, **options),
    )


def test_create_keeps_both_domains_and_the_style_options(curator, photos, paintings, sent_runs):
    run = _create(curator, photos, paintings, engine="cut", variant="fastcut")
    assert run.options == {
        "size": 32,
        "steps": 3,
        "batch": 1,
        "lr": 2e-4,
        "seed": 5,
        "sample_every": 2,
        "ngf": 8,
        "n_blocks": 1,
        "variant": "fastcut",
        "domain_a": sorted(m.pk for m in photos),
        "domain_b": sorted(m.pk for m in paintings),
    }
    assert set(run.motifs.all()) == set(photos + paintings) and run.total == 3
    assert _create(curator, photos, paintings).options["variant"] == "cyclegan"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"domain_b": []}, "at least one motif for domain B"),
        ({"domain_a": []}, "at least one motif for domain A"),
        ({"variant": "fastcut"}, "cyclegan trains the variant cyclegan"),
        ({"size": 34}, "multiple of 4"),
        ({"size": 16}, "size must be from 32 to 512"),
        ({"ngf": 4}, "ngf must be from 8 to 128"),
        ({"widths": [16]}, "Unknown option 'widths'"),
        ({"domain_a": ["x"]}, "domain_a must be a list of motif ids"),
        ({"sample_every": 9}, "sample_every must not exceed steps"),
    ],
)
def test_create_refuses_bad_style_options_and_saves_nothing(
    curator, photos, paintings, change, message
):
    with pytest.raises(ValidationError, match=message):
        _create(curator, photos, paintings, **change)
    assert not TrainingRun.objects.exists()


def test_create_refuses_a_motif_in_both_domains_or_outside_the_run(curator, photos, paintings):
    with pytest.raises(ValidationError, match="cannot be in both domains"):
        _create(curator, photos, paintings, domain_b=[photos[0].pk, paintings[0].pk])
    with pytest.raises(ValidationError, match="not among the run's motifs"):
        training_runs.training_run_create(
            requested_by=curator,
            engine="cyclegan",
            motifs=photos,
            options=tiny(photos, paintings),
        )
    assert not TrainingRun.objects.exists()


def test_a_cyclegan_run_trains_reports_its_losses_and_samples_and_registers_weights_that_stylize(
    curator, photos, paintings, events
):
    run = _create(curator, photos, paintings)
    training_runs.training_run_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.step == 3 and [point[0] for point in run.losses] == [1, 2, 3]
    # Several losses a step: the generators', the discriminators', cycle and identity.
    names = set(run.losses[-1][1])
    assert len(names) >= 4 and all(value >= 0 for value in run.losses[-1][1].values())
    assert run.latest_sample and run.sample_step == 3

    progress = [e for e in events if e["type"] == "job.progress" and e.get("step")]
    assert [e["step"] for e in progress if "step_losses" in e] == [1, 2, 3]
    assert set(progress[-1]["step_losses"]) == names
    previews = [e for e in progress if e.get("preview")]
    assert previews and previews[0]["preview"].startswith("data:image/jpeg;base64,")
    assert previews[0]["sample_step"] == 2
    assert events[-1]["type"] == "job.finished"

    checkpoint = run.checkpoint
    assert checkpoint.engine == "cyclegan" and checkpoint.trained_by == curator
    assert checkpoint.steps == 3 and checkpoint.losses["points"] == run.losses
    paths = {entry["path"] for entry in checkpoint.files}
    assert {"model.safetensors", "config.json"} <= paths and "training_state.pt" not in paths
    data = checkpoint.training_data
    # The exported files of each domain, hashed, with the motifs' licences.
    assert len(data["domain_a"]) == 2 and all(len(e["sha256"]) == 64 for e in data["domain_a"])
    assert {e["licence"] for e in data["domain_a"]} == {"CC0 1.0"}
    assert len(data["domain_b"]) == 2 and data["training_run"] == run.pk
    assert {e["id"] for e in data["motifs"]["domain_a"]["motifs"]} == {m.pk for m in photos}

    # The registered weights stylize a photograph through a style job, with the real engine.
    pytest.importorskip("restoration.engines.cyclegan")
    job = services.style_job_create(
        requested_by=curator, motif=photos[0], engine="cyclegan", checkpoint=checkpoint
    )
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == RestorationJob.Status.SUCCEEDED, job.error
    assert job.result.checkpoint_sha256 == checkpoint.sha256
    with job.result.image.open("rb") as handle:
        assert np.asarray(Image.open(handle)).shape == (30, 40, 3)


def test_a_cut_run_can_be_cancelled_and_resumed_from_its_saved_state(
    curator, photos, paintings, events
):
    run = _create(curator, photos, paintings, engine="cut", steps=6, sample_every=2)
    original = training_runs._publish

    def cancel_at_step_3(run_id, message):
        original(run_id, message)
        if message.get("step") == 3 and run_id == run.pk:
            training_runs.training_run_cancel(run=TrainingRun.objects.get(pk=run_id), user=curator)

    training_runs._publish = cancel_at_step_3
    try:
        training_runs.training_run_run(run_id=run.pk)
    finally:
        training_runs._publish = original
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED and run.checkpoint is None
    assert training_runs.training_run_saved_step(run) == 2

    events.clear()
    resumed = training_runs.training_run_resume(run=run, user=curator, steps=4)
    assert resumed.options["domain_b"] == run.options["domain_b"]
    training_runs.training_run_run(run_id=resumed.pk)
    resumed.refresh_from_db()
    assert resumed.status == TrainingRun.Status.SUCCEEDED, resumed.error
    steps = [e["step"] for e in events if e["type"] == "job.progress" and "step_losses" in e]
    assert steps == [3, 4], "the resumed run continues from the saved step"
    assert resumed.checkpoint.engine == "cut" and resumed.checkpoint.steps == 4
    config = json.loads((training_runs.training_run_folder(resumed) / "config.json").read_text())
    assert config["variant"] == "cut" and config["antialias"] is True


def test_the_training_page_starts_a_style_run_and_shows_its_domains(
    curator_client, photos, paintings, sent_runs
):
    html = curator_client.get(reverse("restoration:training_list")).content.decode()
    assert 'value="cyclegan"' in html and 'value="cut"' in html and 'id="domain-b"' in html
    data = {
        "engine": "cut",
        "motifs": [m.pk for m in photos],
        "domain_b": [m.pk for m in paintings],
        "variant": "fastcut",
        "ngf": 8,
        "n_blocks": 1,
        "size": 32,
        "steps": 3,
        "batch": 1,
        "lr": 0.0002,
        "seed": 1,
        "sample_every": 3,
        "widths": "",
    }
    response = curator_client.post(reverse("restoration:training_list"), data)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response.url == run.get_absolute_url()
    assert run.options["variant"] == "fastcut" and run.options["ngf"] == 8
    assert run.options["domain_a"] == sorted(m.pk for m in photos)
    assert set(run.motifs.all()) == set(photos + paintings)

    page = curator_client.get(run.get_absolute_url()).content.decode()
    assert 'id="domain-a"' in page and "Photo 0" in page.split('id="domain-a"')[1].split("</dd>")[0]
    assert "Scroll 1" in page.split('id="domain-b"')[1].split("</dd>")[0]
    assert 'data-sample-legend="photograph | in the style"' in page
    assert 'id="loss-series"' in page

    refused = curator_client.post(reverse("restoration:training_list"), {**data, "domain_b": []})
    assert refused.status_code == 400
    assert "at least one motif for domain B" in refused.content.decode()
    assert TrainingRun.objects.count() == 1


def test_a_style_run_whose_paintings_are_all_damaged_fails_with_the_reason(
    curator, photos, paintings
):
    for painting in paintings:
        mask = np.full((painting.height, painting.width), 255, np.uint8)
        factories.make_annotation(motif=painting, user=curator, mask=mask)
    run = _create(curator, photos, paintings)
    training_runs.training_run_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert "intact area" in run.error and not ModelCheckpoint.objects.exists()
