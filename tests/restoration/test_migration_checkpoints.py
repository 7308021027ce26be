"""Migration 0004: the path jobs held becomes a registered checkpoint they point to."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("restoration", "0003_job_dispatch")]
AFTER = [("restoration", "0004_model_checkpoints")]


@pytest.mark.django_db(transaction=True)
def test_checkpoint_paths_become_checkpoints_the_jobs_point_to(tmp_path, curator, simulated):
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"old weights")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Job = old.get_model("restoration", "RestorationJob")
    fields = {
        "motif_id": simulated.motif_id,
        "annotation_id": simulated.pk,
        "requested_by_id": curator.pk,
    }
    with_path = [
        Job.objects.create(engine="sd", checkpoint=str(weights), **fields) for _ in range(2)
    ]
    gone = Job.objects.create(engine="sd", checkpoint="/gone/model.pt", **fields)
    plain = Job.objects.create(engine="telea", checkpoint="", **fields)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Job = new.get_model("restoration", "RestorationJob")
    Checkpoint = new.get_model("restoration", "ModelCheckpoint")

    first, second = (Job.objects.get(pk=job.pk).checkpoint for job in with_path)
    assert first == second and first.engine == "sd" and first.source == str(weights)
    assert first.sha256 == hashlib.sha256(b"old weights").hexdigest()
    missing = Job.objects.get(pk=gone.pk).checkpoint
    assert missing.source == "/gone/model.pt" and missing.sha256 == ""
    assert Job.objects.get(pk=plain.pk).checkpoint is None
    assert Checkpoint.objects.count() == 2

    # And back: the jobs hold their paths again.
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    Job = executor.loader.project_state(BEFORE).apps.get_model("restoration", "RestorationJob")
    assert Job.objects.get(pk=with_path[0].pk).checkpoint == str(weights)
    assert Job.objects.get(pk=plain.pk).checkpoint == ""
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
