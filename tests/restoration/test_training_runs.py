"""Training runs from the UI: create, run end to end, cancel, resume, live socket, pages."""

import asyncio
import json

import numpy as np
import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from heritage import services as heritage_services
from restoration import training_runs
from restoration.models import ModelCheckpoint, TrainingRun
from restoration.routing import websocket_urlpatterns
from tests import factories

pytest.importorskip("torch")
pytest.importorskip("diffusers")

TINY = {"block_out_channels": [16, 16], "prior_channels": 8, "norm_groups": 8}


def tiny(**overrides) -> dict:
    return {
        "size": 16,
        "steps": 3,
        "batch": 2,
        "seed": 5,
        "sample_every": 2,
        "architecture": TINY,
        **overrides,
    }


@pytest.fixture(autouse=True)
def training_dir(settings, tmp_path):
    settings.TRAINING_DIR = tmp_path / "training"
    settings.TRAINING_MIN_MOTIFS = 3
    return settings.TRAINING_DIR


@pytest.fixture(autouse=True)
def sent_runs(monkeypatch):
    """Runs are not handed to a runner; tests run them with training_run_run."""
    ids: list[int] = []
    monkeypatch.setattr(
        training_runs, "training_run_dispatch", lambda *, run_id: ids.append(run_id)
    )
    return ids


@pytest.fixture
def motifs(curator, media):
    return [
        factories.make_demo_motif(user=curator, width=96, height=64, seed=i, title=f"Motif {i}")
        for i in range(3)
    ]


@pytest.fixture
def events(monkeypatch):
    """Every event published to training runs' watchers, in order."""
    sent: list[dict] = []
    original = training_runs._publish

    def publish(run_id, message):
        sent.append(message)
        original(run_id, message)

    monkeypatch.setattr(training_runs, "_publish", publish)
    return sent


def _create(curator, motifs, **options):
    return training_runs.training_run_create(
        requested_by=curator, engine="prior_diffusion", motifs=motifs, options=tiny(**options)
    )


# --- create: who, what, and clear refusals ---------------------------------------------------


def test_create_saves_a_pending_run_on_queue_train_with_cleaned_options(
    curator, motifs, sent_runs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = _create(curator, motifs)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.PENDING and run.total == 3
    assert run.options["lr"] == 2e-4 and run.options["architecture"] == TINY
    assert set(run.motifs.all()) == set(motifs)
    assert sent_runs == [run.pk] and run.dispatches == 1


def test_the_celery_runner_sends_runs_to_queue_train(curator, motifs, settings, monkeypatch):
    from restoration import tasks

    monkeypatch.undo()  # the real training_run_dispatch
    settings.RESTORATION_RUNNER = "celery"
    calls = []
    monkeypatch.setattr(
        tasks.run_training_run, "apply_async", lambda **kwargs: calls.append(kwargs)
    )
    training_runs.training_run_dispatch(run_id=7)
    assert calls == [{"args": [7], "queue": "train"}]
    assert settings.CELERY_TASK_ROUTES["restoration.tasks.run_training_run"] == {"queue": "train"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 18}, "size must be a multiple of 4"),
        ({"size": 8}, "size must be from 16 to 512"),
        ({"steps": 0}, "steps must be from 1"),
        ({"batch": "two"}, "batch must be a whole number"),
        ({"lr": float("nan")}, "lr must be a number"),
        ({"sample_every": 10}, "sample_every must not exceed steps"),
        ({"epochs": 3}, "Unknown option 'epochs'"),
        ({"architecture": {"block_out_channels": [12, 16]}}, "multiple of 16"),
        ({"architecture": {"depth": 3}}, "Unknown architecture option 'depth'"),
    ],
)
def test_create_refuses_bad_options_with_a_clear_message_and_saves_nothing(
    curator, motifs, options, message
):
    with pytest.raises(ValidationError) as caught:
        _create(curator, motifs, **options)
    assert any(message in text for text in caught.value.messages), caught.value.messages
    assert not TrainingRun.objects.exists()


def test_create_needs_enough_motifs_a_trainable_engine_and_a_curator(curator, expert, motifs):
    with pytest.raises(ValidationError, match="at least 3 motifs"):
        _create(curator, motifs[:2])
    with pytest.raises(ValidationError, match="cannot be trained"):
        training_runs.training_run_create(
            requested_by=curator, engine="telea", motifs=motifs, options=tiny()
        )
    with pytest.raises(PermissionDenied):
        _create(expert, motifs)
    assert not TrainingRun.objects.exists()


# --- real damage is never ground truth -------------------------------------------------------


def test_motifs_with_real_damage_give_only_their_intact_tiles(curator, motifs, tmp_path):
    damaged = motifs[0]
    mask = np.zeros((64, 96), np.uint8)
    mask[:, :40] = 255  # the left part is lost paint
    heritage_services.annotation_create(motif=damaged, author=curator, mask=mask, method="drawn")
    # Simulated damage is not real: that motif is still used whole.
    heritage_services.annotation_simulate(motif=motifs[1], author=curator, protocol="dust", seed=1)
    run = _create(curator, motifs)
    out = tmp_path / "export"
    out.mkdir()
    manifest = training_runs._export_motifs(run, out, tile=32)

    entries = {entry["id"]: entry for entry in manifest["motifs"]}
    assert entries[motifs[1].pk]["files"] == [f"motif-{motifs[1].pk}.png"]
    tiles = entries[damaged.pk]["files"]
    # 32 px tiles clear of the damage and its 8 px margin: only x = 64 in the grid (0, 32, 64).
    assert tiles and all("tile" in name for name in tiles)
    from PIL import Image

    from heritage.services import motif_read_rgb

    original = motif_read_rgb(motif=damaged)
    for name in tiles:
        tile = np.asarray(Image.open(out / name).convert("RGB"))
        matches = [
            (y, x)
            for y in range(0, 64 - 31, 32)
            for x in range(0, 96 - 31, 32)
            if np.array_equal(original[y : y + 32, x : x + 32], tile)
        ]
        assert matches and all(x >= 40 + 8 for _, x in matches)
    licences = (out / "manifest.csv").read_text()
    assert "motif-" in licences and "unknown" in licences


def test_a_run_whose_motifs_are_all_damaged_fails_with_the_reason(curator, motifs):
    for motif in motifs:
        heritage_services.annotation_create(
            motif=motif, author=curator, mask=np.full((64, 96), 255, np.uint8), method="drawn"
        )
    run = _create(curator, motifs)
    training_runs.training_run_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert "intact area" in run.error
    assert not ModelCheckpoint.objects.exists()


# --- a run end to end, cancel, resume --------------------------------------------------------


def test_a_run_trains_registers_its_checkpoint_and_reports_losses_and_samples(
    curator, motifs, events, training_dir
):
    run = _create(curator, motifs)
    training_runs.training_run_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.step == 3 and [point[0] for point in run.losses] == [1, 2, 3]
    assert all(point[1] > 0 for point in run.losses)
    assert run.latest_sample and run.sample_step == 3

    checkpoint = run.checkpoint
    assert checkpoint.engine == "prior_diffusion" and checkpoint.trained_by == curator
    assert checkpoint.steps == 3 and checkpoint.losses["points"] == run.losses
    assert checkpoint.config["architecture"]["block_out_channels"] == [16, 16]
    assert len(checkpoint.sha256) == 64 and checkpoint.is_folder
    # Weights, config and the latest samples are registered; the optimiser state is not.
    paths = {entry["path"] for entry in checkpoint.files}
    assert {"model.safetensors", "config.json"} <= paths and "training_state.pt" not in paths
    data = checkpoint.training_data
    assert {entry["id"] for entry in data["motifs"]} == {m.pk for m in motifs}
    assert {entry["sha256"] for entry in data["motifs"]} == {m.sha256 for m in motifs}
    assert len(data["files"]) == 3 and all(len(f["sha256"]) == 64 for f in data["files"])
    # Restorations with the engine can now choose it.
    assert checkpoint in ModelCheckpoint.objects.filter(engine="prior_diffusion")

    progress = [e for e in events if e["type"] == "job.progress" and e.get("step")]
    assert [e["step"] for e in progress if "loss" in e] == [1, 2, 3]
    assert [e["point"][0] for e in progress if "point" in e] == [1, 2, 3]
    previews = [e for e in progress if e.get("preview")]
    assert previews and previews[-1]["sample_step"] == 3
    assert previews[0]["preview"].startswith("data:image/jpeg;base64,")
    assert events[-1]["type"] == "job.finished"
    assert events[-1]["checkpoint"]["id"] == checkpoint.pk


def test_cancel_stops_at_the_next_step_and_resume_continues_the_step_count(curator, motifs, events):
    run = _create(curator, motifs, steps=6, sample_every=2)

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
    assert run.status == TrainingRun.Status.CANCELLED
    assert run.step <= 4, "training must stop at the step after the cancel"
    assert run.checkpoint is None
    assert training_runs.training_run_saved_step(run) == 2

    with pytest.raises(ValidationError, match="more steps than that"):
        training_runs.training_run_resume(run=run, user=curator, steps=2)
    events.clear()
    resumed = training_runs.training_run_resume(run=run, user=curator, steps=5)
    assert resumed.resumed_from == run and resumed.losses == run.losses[:2]
    training_runs.training_run_run(run_id=resumed.pk)
    resumed.refresh_from_db()
    assert resumed.status == TrainingRun.Status.SUCCEEDED, resumed.error
    steps = [e["step"] for e in events if e["type"] == "job.progress" and "loss" in e]
    assert steps == [3, 4, 5], "the resumed run continues from the saved step"
    assert [point[0] for point in resumed.losses] == [1, 2, 3, 4, 5]
    assert resumed.checkpoint.steps == 5


def test_cancelling_a_pending_run_ends_it_and_an_ended_run_is_refused(curator, motifs):
    run = _create(curator, motifs)
    training_runs.training_run_cancel(run=run, user=curator)
    assert run.status == TrainingRun.Status.CANCELLED
    with pytest.raises(ValidationError, match="already ended"):
        training_runs.training_run_cancel(run=run, user=curator)
    with pytest.raises(ValidationError, match="saved no training state"):
        training_runs.training_run_resume(run=run, user=curator)
    training_runs.training_run_run(run_id=run.pk)  # a late message does nothing
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED and run.attempts == 0


def test_the_sweep_runs_again_a_run_whose_worker_died(curator, motifs, sent_runs, settings):
    from datetime import timedelta

    from django.utils import timezone

    run = _create(curator, motifs)
    long_ago = timezone.now() - timedelta(seconds=settings.RESTORATION_HEARTBEAT_TIMEOUT + 5)
    TrainingRun.objects.filter(pk=run.pk).update(
        status="running",
        attempts=1,
        worker="elsewhere:1",
        heartbeat_at=long_ago,
        started_at=long_ago,
    )
    result = training_runs.training_run_sweep()
    assert result.retried == [run.pk]
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.PENDING and sent_runs[-1] == run.pk


def test_a_run_whose_worker_died_continues_from_its_last_saved_state(
    curator, motifs, events, settings
):
    from datetime import timedelta

    from django.utils import timezone

    class WorkerKilled(BaseException):
        """Stands for the process dying: nothing in the run catches it."""

    run = _create(curator, motifs, steps=5, sample_every=2)
    original = training_runs._publish

    def die_at_step_3(run_id, message):
        original(run_id, message)
        if message.get("step") == 3 and "loss" in message:
            raise WorkerKilled

    training_runs._publish = die_at_step_3
    try:
        with pytest.raises(WorkerKilled):
            training_runs.training_run_run(run_id=run.pk)
    finally:
        training_runs._publish = original
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING and run.attempts == 1

    long_ago = timezone.now() - timedelta(seconds=settings.RESTORATION_HEARTBEAT_TIMEOUT + 5)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=long_ago)
    assert training_runs.training_run_sweep().retried == [run.pk]
    events.clear()
    training_runs.training_run_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED and run.attempts == 2, run.error
    assert [e["step"] for e in events if "loss" in e] == [3, 4, 5]
    assert [point[0] for point in run.losses] == [1, 2, 3, 4, 5]
    assert run.checkpoint.steps == 5


# --- the live socket -------------------------------------------------------------------------


def _communicator(run_id, user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), f"/ws/restoration/training/{run_id}/"
    )
    communicator.scope["user"] = user
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_the_socket_sends_a_snapshot_then_losses_and_samples_then_finished(
    curator, expert, media, settings, tmp_path
):
    motifs = await database_sync_to_async(
        lambda: [
            factories.make_demo_motif(user=curator, seed=i, title=f"Motif {i}") for i in range(3)
        ]
    )()
    run = await database_sync_to_async(_create)(curator, motifs)

    refused = _communicator(run.pk, expert)
    assert (await refused.connect()) == (False, 4403)

    communicator = _communicator(run.pk, curator)
    assert (await communicator.connect())[0]
    snapshot = await communicator.receive_json_from()
    assert snapshot["type"] == "snapshot" and snapshot["status"] == "pending"
    assert snapshot["losses"] == [] and snapshot["sample_url"] is None

    task = asyncio.ensure_future(
        database_sync_to_async(training_runs.training_run_run)(run_id=run.pk)
    )
    messages = []
    while True:
        message = await communicator.receive_json_from(timeout=120)
        messages.append(message)
        if message["type"] in {"finished", "failed", "cancelled"}:
            break
    await task
    await communicator.disconnect()
    assert messages[-1]["type"] == "finished", messages[-1]
    points = [m["point"] for m in messages if m["type"] == "progress" and "point" in m]
    assert [p[0] for p in points] == [1, 2, 3]
    assert any(m.get("preview", "").startswith("data:image/jpeg") for m in messages)
    assert messages[-1]["losses"] == points and messages[-1]["checkpoint"]["name"]

    # A late watcher gets the whole curve and the latest sample in its snapshot.
    late = _communicator(run.pk, curator)
    assert (await late.connect())[0]
    snapshot = await late.receive_json_from()
    assert snapshot["status"] == "succeeded" and snapshot["losses"] == points
    assert snapshot["sample_url"].startswith(f"/restoration/training/{run.pk}/sample.jpg")
    await late.disconnect()


# --- pages -----------------------------------------------------------------------------------


def test_the_training_page_lists_runs_and_starts_one(curator_client, motifs, sent_runs):
    page = curator_client.get(reverse("restoration:training_list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Start training" in html and "Motif 0" in html and 'value="prior_diffusion"' in html

    data = {
        "engine": "prior_diffusion",
        "motifs": [m.pk for m in motifs],
        "size": 16,
        "steps": 3,
        "batch": 2,
        "lr": 0.0002,
        "seed": 1,
        "sample_every": 3,
        "widths": "16,16",
    }
    response = curator_client.post(reverse("restoration:training_list"), data)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response.url == run.get_absolute_url()
    assert run.options["architecture"] == {"block_out_channels": [16, 16]}

    refused = curator_client.post(reverse("restoration:training_list"), {**data, "size": 18})
    assert refused.status_code == 400
    assert "size must be a multiple of 4" in refused.content.decode()
    assert TrainingRun.objects.count() == 1


def test_the_run_page_renders_the_live_panel_and_is_for_curators(
    curator_client, expert, curator, motifs
):
    from django.test import Client

    expert_client = Client()
    expert_client.force_login(expert)
    run = _create(curator, motifs)
    page = curator_client.get(run.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="loss-curve"' in html and "js/training.js" in html and 'id="cancel-training"' in html
    state = json.loads(html.split('id="training-state" type="application/json">')[1].split("<")[0])
    assert state["job"] == run.pk and state["status"] == "pending"
    assert expert_client.get(run.get_absolute_url()).status_code == 403

    curator_client.post(reverse("restoration:training_cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED
    html = curator_client.get(run.get_absolute_url()).content.decode()
    assert "cannot be resumed" in html and 'id="cancel-training"' not in html


def test_a_finished_run_page_shows_its_checkpoint_sample_and_resume(
    curator_client, curator, motifs
):
    run = _create(curator, motifs)
    training_runs.training_run_run(run_id=run.pk)
    run.refresh_from_db()
    html = curator_client.get(run.get_absolute_url()).content.decode()
    assert run.checkpoint.name in html and 'id="resume-training"' in html
    # The restoration form of any motif now offers the trained weights for the engine.
    heritage_services.annotation_simulate(motif=motifs[0], author=curator, protocol="dust", seed=2)
    motif_page = curator_client.get(motifs[0].get_absolute_url()).content.decode()
    assert f'<option value="{run.checkpoint.pk}"' in motif_page
    sample = curator_client.get(reverse("restoration:training_sample", args=[run.pk]))
    assert sample.status_code == 200 and sample["Content-Type"] == "image/jpeg"

    response = curator_client.post(
        reverse("restoration:training_resume", args=[run.pk]), {"steps": 4}
    )
    resumed = TrainingRun.objects.exclude(pk=run.pk).get()
    assert response.url == resumed.get_absolute_url() and resumed.resumed_from == run


# --- fine-tuning a registered checkpoint ------------------------------------------------------


def _weights_sha256(checkpoint: ModelCheckpoint) -> str:
    return next(f["sha256"] for f in checkpoint.files if f["path"] == "model.safetensors")


@pytest.fixture
def start(curator, motifs):
    """A tiny prior_diffusion checkpoint (not the default architecture) registered by a run."""
    run = _create(curator, motifs)
    training_runs.training_run_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return run.checkpoint


def test_a_run_started_from_a_checkpoint_fine_tunes_it_and_records_its_lineage(
    curator, curator_client, motifs, start, monkeypatch
):
    from restoration.learned import training

    calls = []
    original = training.train

    def train(options, **kwargs):
        calls.append((options.init, options.resume))
        return original(options, **kwargs)

    monkeypatch.setattr(training, "train", train)
    extra = factories.make_demo_motif(user=curator, width=96, height=64, seed=9, title="New")
    run = _create(curator, [*motifs, extra], architecture={}, init_checkpoint=start.pk, steps=4)
    assert run.options["init_checkpoint"] == start.pk
    training_runs.training_run_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert calls[-1][0] and calls[-1][1] is None

    result = run.checkpoint
    init = result.config["training"]["init"]
    assert init["sha256"] == _weights_sha256(start) and init["steps"] == 3
    # The start's architecture is kept; its images and the new one are all in the manifest.
    assert result.config["architecture"] == start.config["architecture"]
    assert len(result.training_data["files"]) == 4
    assert result.training_data["init_checkpoint"] == {
        "id": start.pk,
        "name": start.name,
        "sha256": start.sha256,
    }
    assert f"fine-tuning checkpoint {start.name!r} (sha256 {start.sha256[:12]})" in result.notes
    html = curator_client.get(run.get_absolute_url()).content.decode()
    shown = html.split('id="training-start">')[1].split("</dd>")[0]
    assert start.name in shown and start.sha256[:12] in shown

    # Resuming continues the run's own state (no second --init) and keeps the lineage.
    resumed = training_runs.training_run_resume(run=run, user=curator, steps=6)
    training_runs.training_run_run(run_id=resumed.pk)
    resumed.refresh_from_db()
    assert resumed.status == TrainingRun.Status.SUCCEEDED, resumed.error
    assert calls[-1][0] is None and calls[-1][1]
    assert [point[0] for point in resumed.losses] == [1, 2, 3, 4, 5, 6]
    config = resumed.checkpoint.config
    assert config["training"]["init"]["sha256"] == _weights_sha256(start)
    assert config["architecture"] == start.config["architecture"]
    assert resumed.checkpoint.training_data["init_checkpoint"]["id"] == start.pk


def _checkpoint(name: str, engine: str = "prior_diffusion", **fields) -> ModelCheckpoint:
    return ModelCheckpoint.objects.create(
        engine=engine, name=name, weights=f"checkpoints/{name}", sha256="ab" * 32, **fields
    )


@pytest.mark.parametrize(
    ("make", "options", "message"),
    [
        (lambda: _checkpoint("pixel"), {}, "choose widths or a checkpoint to start from"),
        (lambda: _checkpoint("style", engine="cut"), {"architecture": {}}, "weights of cut"),
        (
            lambda: _checkpoint("adapter", config={"backbone": "sd"}),
            {"architecture": {}},
            "adapter on Stable Diffusion",
        ),
        (lambda: None, {"architecture": {}}, "No checkpoint with the id 999999"),
    ],
)
def test_a_start_checkpoint_is_refused_with_a_clear_message_and_nothing_saved(
    curator, motifs, make, options, message
):
    checkpoint = make()
    with pytest.raises(ValidationError) as caught:
        _create(
            curator, motifs, init_checkpoint=checkpoint.pk if checkpoint else 999_999, **options
        )
    assert any(message in text for text in caught.value.messages), caught.value.messages
    assert not TrainingRun.objects.exists()


def test_the_training_page_offers_pixel_checkpoints_to_start_from_the_default_chosen(
    curator_client, motifs
):
    default = _checkpoint("starter", is_default=True)
    other = _checkpoint("older")
    adapter = _checkpoint("adapter", config={"backbone": "sd"})
    style = _checkpoint("style", engine="cut")
    page = curator_client.get(reverse("restoration:training_list")).content.decode()
    select = page.split('name="start_from"')[1].split("</select>")[0]
    assert f'<option value="{default.pk}" selected>starter (sha256 abababababab, the default)' in (
        select
    )
    assert f'value="{other.pk}"' in select and "a new network" in select
    assert f'value="{adapter.pk}"' not in select and f'value="{style.pk}"' not in select

    data = {
        "engine": "prior_diffusion",
        "motifs": [m.pk for m in motifs],
        "size": 16,
        "steps": 3,
        "batch": 2,
        "lr": 0.0002,
        "seed": 1,
        "sample_every": 3,
        "start_from": default.pk,
    }
    url = reverse("restoration:training_list")
    refused = curator_client.post(url, {**data, "widths": "16,16"})
    assert refused.status_code == 400
    assert training_runs.WIDTHS_WITH_START in refused.content.decode().replace("&#x27;", "'")
    foreign = curator_client.post(url, {**data, "start_from": style.pk})
    assert foreign.status_code == 400 and "holds weights of cut" in foreign.content.decode()
    missing = curator_client.post(url, {**data, "start_from": 999_999})
    assert missing.status_code == 400
    assert "No registered checkpoint has the id 999999" in missing.content.decode()
    assert not TrainingRun.objects.exists()

    curator_client.post(url, data)
    curator_client.post(url, {**data, "start_from": "", "widths": "16,16"})
    started, new = TrainingRun.objects.order_by("pk")
    assert started.options["init_checkpoint"] == default.pk
    assert "init_checkpoint" not in new.options
    assert new.options["architecture"] == {"block_out_channels": [16, 16]}
