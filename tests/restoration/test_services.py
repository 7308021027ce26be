"""Job services: queue on commit, claim once, run, cancel, fail, retry (the sweep of stale jobs:
test_lifecycle)."""

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from PIL import Image

from heritage import services as heritage_services
from restoration import progress, services
from restoration.checkpoints import checkpoint_register
from restoration.engines import registry
from restoration.engines.base import EngineError
from restoration.models import Restoration, RestorationJob
from tests import factories
from tests.restoration import fakes

Status = RestorationJob.Status


def _job(curator, annotation, engine="telea", **kwargs):
    return services.job_create(requested_by=curator, annotation=annotation, engine=engine, **kwargs)


def _events(monkeypatch) -> list[dict]:
    sent = []
    monkeypatch.setattr(progress, "publish", lambda job_id, message: sent.append(message))
    return sent


def test_job_create_queues_the_job_only_when_the_transaction_commits(
    curator, simulated, dispatched, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = _job(curator, simulated, params={"radius": "7"})
        assert dispatched == []
    assert len(callbacks) == 1
    assert dispatched == [job.pk]
    assert job.status == Status.PENDING
    assert job.params == {"radius": 7}


def test_job_create_refuses_unknown_engines_bad_parameters_and_non_curators(
    curator, expert, simulated
):
    with pytest.raises(ValidationError, match="Unknown engine 'nope'.*telea"):
        _job(curator, simulated, engine="nope")
    with pytest.raises(ValidationError, match="radius"):
        _job(curator, simulated, params={"radius": 500})
    with pytest.raises(ValidationError, match="Unknown parameter"):
        _job(curator, simulated, params={"strength": 1})
    with pytest.raises(PermissionDenied):
        _job(expert, simulated)
    assert not RestorationJob.objects.exists()


def test_job_run_stores_the_result_with_provenance_and_metrics(curator, motif, simulated):
    job = _job(curator, simulated, seed=5)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    # OpenCV runs on the CPU whatever HERITAGE_DEVICE says.
    assert job.started_at and job.finished_at and job.worker
    assert job.device == job.result.device == "cpu"
    result = job.result
    assert (result.engine, result.seed, result.params) == ("telea", 5, {"radius": 5})
    assert result.engine_version and result.seconds > 0
    assert result.info["method"] == "cv2.inpaint INPAINT_TELEA"
    assert result.checkpoint_sha256 == "" and job.checkpoint is None

    original = heritage_services.motif_read_rgb(motif=motif)
    mask = heritage_services.annotation_read_mask(annotation=simulated) > 127
    with result.image.open("rb") as handle:
        restored = np.asarray(Image.open(handle).convert("RGB"))
    assert np.array_equal(restored[~mask], original[~mask]), "intact pixels must be untouched"
    assert not np.array_equal(restored[mask], original[mask])
    assert set(result.metrics) == {"whole", "damaged"}
    assert 0 < result.metrics["damaged"]["ssim"] < 1
    assert result.metrics["whole"]["psnr"] > result.metrics["damaged"]["psnr"]


def test_job_run_without_ground_truth_stores_no_metrics(curator, motif):
    annotation = factories.make_annotation(motif=motif, user=curator)
    job = _job(curator, annotation)
    services.job_run(job_id=job.pk)
    assert Restoration.objects.get(job=job).metrics is None


def test_a_second_delivery_of_the_same_job_does_nothing(curator, simulated):
    job = _job(curator, simulated)
    assert services.job_claim(job_id=job.pk, worker="a")
    assert not services.job_claim(job_id=job.pk, worker="b")
    services.job_run(job_id=job.pk)  # redelivered while running elsewhere: not claimable
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (Status.RUNNING, "a", 1)
    assert not Restoration.objects.exists()


def test_cancelling_a_pending_job_stops_it_before_it_runs(curator, simulated, monkeypatch):
    sent = _events(monkeypatch)
    job = _job(curator, simulated)
    services.job_cancel(job=job, user=curator)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert not Restoration.objects.exists()
    assert sent[-1]["type"] == "job.cancelled"


def test_cancelling_mid_run_stops_the_engine_at_its_next_step(curator, simulated, monkeypatch):
    job = _job(curator, simulated, engine="exemplar")
    sent = []

    def publish(job_id, message):
        sent.append(message)
        if message["type"] == "job.progress" and message["step"] == 1:
            # The curator presses Cancel while step 1 is on screen.
            services.job_cancel(job=RestorationJob.objects.get(pk=job_id), user=curator)

    monkeypatch.setattr(progress, "publish", publish)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert job.step <= 1, "the engine went on after the cancel"
    assert not Restoration.objects.exists()
    assert sent[-1]["type"] == "job.cancelled"


def test_a_failing_engine_is_recorded_and_the_job_can_be_retried(
    curator, simulated, monkeypatch, settings
):
    sent = _events(monkeypatch)
    fakes.with_test_engines(settings)
    job = _job(curator, simulated, engine="exploding")
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "out of GPU memory" in job.error
    assert sent[-1]["type"] == "job.failed" and sent[-1]["error"] == job.error

    retry = services.job_retry(job=job, user=curator)
    assert retry.pk != job.pk and retry.retry_of == job and retry.status == Status.PENDING
    assert (retry.engine, retry.params, retry.seed) == (job.engine, job.params, job.seed)
    with pytest.raises(ValidationError, match="Only failed or cancelled"):
        services.job_retry(job=retry, user=curator)


def test_a_job_past_its_time_limit_fails_with_a_clear_error(curator, simulated, settings):
    settings.RESTORATION_TIME_LIMIT = 0
    job = _job(curator, simulated, engine="exemplar")
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "time limit" in job.error


def test_cancelling_a_finished_job_is_refused(curator, simulated):
    job = _job(curator, simulated)
    services.job_run(job_id=job.pk)
    with pytest.raises(ValidationError, match="already ended"):
        services.job_cancel(job=job, user=curator)


@pytest.fixture
def weights(settings, media, tmp_path):
    """The test engine that needs weights, with one file of weights registered as default."""
    fakes.with_test_engines(settings)
    path = tmp_path / "fill.bin"
    path.write_bytes(bytes([200]) * 64)
    return checkpoint_register(location=path, engine="weights", default=True)


def test_a_job_runs_with_its_checkpoint_and_records_its_hash_and_info(curator, simulated, weights):
    job = _job(curator, simulated, engine="weights", checkpoint=weights)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.checkpoint == weights
    assert job.result.checkpoint_sha256 == weights.sha256
    # A model runs where HERITAGE_DEVICE resolves to in this worker ("auto": cpu without a GPU).
    assert job.device == job.result.device == registry.device()
    # The engine was given a local path to the registered (stored) weights.
    assert job.result.info == {"fill": 200, "device": registry.device()}
    with job.result.image.open("rb") as handle:
        restored = np.asarray(Image.open(handle).convert("RGB"))
    mask = heritage_services.annotation_read_mask(annotation=simulated) > 127
    assert (restored[mask] == 200).all()


def test_a_job_without_a_checkpoint_takes_the_engines_default(
    curator, simulated, weights, tmp_path
):
    other = tmp_path / "other.bin"
    other.write_bytes(b"\x01" * 8)
    checkpoint_register(location=other, engine="weights")
    job = _job(curator, simulated, engine="weights")
    assert job.checkpoint == weights


def test_job_create_refuses_checkpoints_that_do_not_fit_the_engine(
    curator, simulated, weights, settings
):
    with pytest.raises(ValidationError, match="holds weights of engine 'weights', not 'exemplar'"):
        _job(curator, simulated, engine="exemplar", checkpoint=weights)
    weights.engine = "telea"  # as if registered for telea: telea takes none
    with pytest.raises(ValidationError, match="Engine 'telea' uses no weights"):
        _job(curator, simulated, engine="telea", checkpoint=weights)
    assert not RestorationJob.objects.exists()


def test_an_engine_that_needs_weights_is_refused_while_none_are_registered(
    curator, simulated, settings
):
    fakes.with_test_engines(settings)
    with pytest.raises(ValidationError, match="needs trained weights and none are registered"):
        _job(curator, simulated, engine="weights")
    assert not RestorationJob.objects.exists()


def test_a_retry_runs_with_the_same_checkpoint(curator, simulated, weights):
    job = _job(curator, simulated, engine="weights", checkpoint=weights)
    RestorationJob.objects.filter(pk=job.pk).update(status=Status.FAILED)
    job.refresh_from_db()
    assert services.job_retry(job=job, user=curator).checkpoint == weights


def test_jobs_on_alternating_checkpoints_keep_one_model_loaded(
    curator, simulated, weights, tmp_path
):
    other = tmp_path / "other.bin"
    other.write_bytes(bytes([10]) * 8)
    second = checkpoint_register(location=other, engine="weights")
    fakes.loaded.clear()
    for checkpoint in (weights, second, weights):
        job = _job(curator, simulated, engine="weights", checkpoint=checkpoint)
        services.job_run(job_id=job.pk)
        assert RestorationJob.objects.get(pk=job.pk).status == Status.SUCCEEDED
    assert [engine.fill for engine in fakes.loaded] == [200, 10, 200]
    assert len(registry.registry().loaded()) == 1


def test_a_classical_job_runs_on_the_cpu_without_resolving_the_device(curator, simulated, settings):
    settings.RESTORATION_DEVICE = "cuda"  # would fail to resolve on a machine without a GPU
    job = _job(curator, simulated)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.device) == (Status.SUCCEEDED, "cpu")


def test_a_model_job_on_a_device_the_worker_lacks_fails_clearly(
    curator, simulated, weights, settings, monkeypatch
):
    def no_gpu(value):
        raise EngineError(f"HERITAGE_DEVICE={value} but this worker sees no such CUDA device")

    monkeypatch.setattr(registry, "resolve_device", no_gpu)
    settings.RESTORATION_DEVICE = "cuda"
    job = _job(curator, simulated, engine="weights")
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error == "HERITAGE_DEVICE=cuda but this worker sees no such CUDA device"
