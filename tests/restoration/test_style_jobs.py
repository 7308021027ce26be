"""Style transfers as restoration jobs (task "stylize"): create, run, result, cancel, retry,
with the test style engine (tests.restoration.fakes.TintStyleEngine)."""

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from PIL import Image

from heritage import services as heritage_services
from restoration import progress, services
from restoration.engines import registry
from restoration.models import Restoration, RestorationJob, Task
from tests import factories
from tests.restoration import fakes

Status = RestorationJob.Status


@pytest.fixture
def tint(settings, media, tmp_path):
    """The tint style engine with one checkpoint (mean byte 200) registered as its default."""
    fakes.with_style_engines(settings)
    fakes.with_test_engines(settings)
    checkpoint = fakes.register_tint(tmp_path / "tint", byte=200)
    checkpoint.is_default = True
    checkpoint.save(update_fields=["is_default"])
    return checkpoint


@pytest.fixture
def photo(curator, media):
    return factories.make_motif(
        user=curator, width=40, height=30, seed=7, title="Landscape", kind="photograph"
    )


def _stylize(curator, motif, engine="tint", **kwargs):
    return services.style_job_create(requested_by=curator, motif=motif, engine=engine, **kwargs)


def _events(monkeypatch) -> list[dict]:
    sent = []
    monkeypatch.setattr(progress, "publish", lambda job_id, message: sent.append(message))
    return sent


def _pixels(field) -> np.ndarray:
    with field.open("rb") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def test_style_job_create_queues_a_job_without_annotation_on_the_default_checkpoint(
    curator, photo, tint, dispatched, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _stylize(curator, photo, params={"strength": "0.25"}, seed=9)
    assert dispatched == [job.pk]
    assert (job.task, job.annotation, job.motif) == (Task.STYLIZE, None, photo)
    assert (job.checkpoint, job.params, job.seed) == (tint, {"strength": 0.25}, 9)
    assert job.status == Status.PENDING and not job.colour_correction


def test_style_job_create_refuses_restoration_engines_bad_input_and_non_curators(
    curator, expert, photo, tint, simulated
):
    with pytest.raises(ValidationError, match="'telea' restores damage; it does not transfer"):
        _stylize(curator, photo, engine="telea")
    with pytest.raises(ValidationError, match="Unknown engine 'nope'"):
        _stylize(curator, photo, engine="nope")
    with pytest.raises(ValidationError, match="strength"):
        _stylize(curator, photo, params={"strength": 2})
    with pytest.raises(ValidationError, match="seed"):
        _stylize(curator, photo, seed=-1)
    with pytest.raises(PermissionDenied):
        _stylize(expert, photo)
    # A restoration cannot be launched with a style engine either.
    with pytest.raises(ValidationError, match="'tint' transfers a style"):
        services.job_create(requested_by=curator, annotation=simulated, engine="tint")
    assert not RestorationJob.objects.exists()


def test_style_job_create_needs_weights_of_its_own_engine(curator, photo, settings, tmp_path):
    fakes.with_style_engines(settings)
    fakes.with_test_engines(settings)
    with pytest.raises(ValidationError, match="'tint' needs trained weights"):
        _stylize(curator, photo)
    path = tmp_path / "w.bin"
    path.write_bytes(b"\x05" * 8)
    from restoration.checkpoints import checkpoint_register

    other = checkpoint_register(location=path, engine="weights")
    with pytest.raises(ValidationError, match="holds weights of engine 'weights'"):
        _stylize(curator, photo, checkpoint=other)


def test_a_job_of_each_task_must_match_its_annotation(curator, photo, simulated):
    with pytest.raises(IntegrityError), transaction.atomic():
        RestorationJob.objects.create(motif=photo, task=Task.STYLIZE, annotation=simulated)
    with pytest.raises(IntegrityError), transaction.atomic():
        RestorationJob.objects.create(motif=photo, task=Task.RESTORE, annotation=None)


def test_style_job_run_stores_the_whole_output_with_provenance_and_no_outline(
    curator, photo, tint, monkeypatch
):
    sent = _events(monkeypatch)
    job = _stylize(curator, photo, params={"strength": 0.5}, seed=3)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    result = job.result
    assert result.task == Task.STYLIZE
    assert (result.engine, result.engine_version, result.seed) == ("tint", "1", 3)
    assert result.params == {"strength": 0.5}
    assert result.checkpoint_sha256 == tint.sha256 and len(tint.sha256) == 64
    assert job.device == result.device == registry.device()
    assert result.info == {"fill": 200, "device": registry.device(), "tiles": 2}
    assert result.seconds > 0 and result.metrics is None
    assert not result.outline and not result.colour_correction

    original = heritage_services.motif_read_rgb(motif=photo)
    expected = np.round(0.5 * original + 0.5 * 200).astype(np.uint8)
    assert np.array_equal(_pixels(result.image), expected), "every pixel is the engine's"
    # The input preview is the motif itself (nothing blacked out), as a JPEG of noise.
    given = _pixels(result.input_preview).astype(int)
    assert given.shape == original.shape
    assert np.abs(given.mean(axis=(0, 1)) - original.mean(axis=(0, 1))).max() < 3
    assert np.abs(given - original).mean() < np.abs(given - expected).mean() / 2

    kinds = [message["type"] for message in sent]
    assert kinds[0] == "job.progress" and kinds[-1] == "job.finished"
    assert sent[-1]["result_url"].endswith(f"/restoration/jobs/{job.pk}/#result")
    assert any(message.get("preview", "").startswith("data:image/jpeg") for message in sent)


def test_a_failing_style_engine_is_recorded_and_the_retry_keeps_the_task(
    curator, photo, tint, monkeypatch
):
    sent = _events(monkeypatch)
    job = _stylize(curator, photo, engine="exploding_style", seed=4)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.FAILED and "out of GPU memory" in job.error
    assert sent[-1]["type"] == "job.failed"
    assert not Restoration.objects.exists()

    retry = services.job_retry(job=job, user=curator)
    assert retry.retry_of == job and retry.status == Status.PENDING
    assert (retry.task, retry.annotation, retry.motif) == (Task.STYLIZE, None, photo)
    assert (retry.engine, retry.seed, retry.params) == ("exploding_style", 4, {})


def test_cancelling_a_style_job_mid_run_stops_it_at_its_next_tile(
    curator, photo, tint, monkeypatch
):
    job = _stylize(curator, photo)

    def publish(job_id, message):
        if message["type"] == "job.progress" and message["step"] == 1:
            services.job_cancel(job=RestorationJob.objects.get(pk=job_id), user=curator)

    monkeypatch.setattr(progress, "publish", publish)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert not Restoration.objects.exists()


def test_retrying_a_cancelled_style_job_runs_it(curator, photo, tint):
    job = _stylize(curator, photo)
    services.job_cancel(job=job, user=curator)
    retry = services.job_retry(job=job, user=curator)
    services.job_run(job_id=retry.pk)
    retry.refresh_from_db()
    assert retry.status == Status.SUCCEEDED, retry.error
    assert retry.result.task == Task.STYLIZE and retry.checkpoint == tint


def test_an_artwork_can_be_stylized_too(curator, motif, tint):
    job = _stylize(curator, motif)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert _pixels(job.result.image).shape == (motif.height, motif.width, 3)
