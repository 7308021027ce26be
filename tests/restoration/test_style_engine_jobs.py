"""The real style engines through the product's paths: a tiny generator built with
restoration.style.networks, saved as a training folder (safetensors + config.json) or as the
original projects' .pth state dict, registered as a checkpoint and run as a style job."""

import json

import numpy as np
import pytest
from PIL import Image

from restoration import progress, services
from restoration.checkpoints import checkpoint_register
from restoration.models import Restoration, RestorationJob
from tests import factories

torch = pytest.importorskip("torch")
pytest.importorskip("restoration.engines.cyclegan")
pytest.importorskip("restoration.engines.cut")

Status = RestorationJob.Status


def _generator(engine: str):
    from restoration.style.networks import ResnetGenerator

    torch.manual_seed(0)
    return ResnetGenerator(ngf=8, n_blocks=1, antialias=engine == "cut").eval()


def _folder(tmp_path, engine: str):
    from safetensors.torch import save_file

    folder = tmp_path / f"{engine}-tiny"
    folder.mkdir()
    state = {k: v.contiguous() for k, v in _generator(engine).state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))
    config = {"engine": engine, "ngf": 8, "n_blocks": 1, "antialias": engine == "cut", "steps": 0}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.fixture
def photo(curator, media):
    return factories.make_motif(
        user=curator, width=300, height=200, seed=9, title="Valley", kind="photograph"
    )


@pytest.mark.parametrize("engine", ["cyclegan", "cut"])
def test_a_style_job_runs_the_real_engine_in_tiles_with_live_previews(
    engine, curator, photo, tmp_path, monkeypatch
):
    sent = []
    monkeypatch.setattr(progress, "publish", lambda job_id, message: sent.append(message))
    checkpoint = checkpoint_register(location=_folder(tmp_path, engine), engine=engine)
    job = services.style_job_create(
        requested_by=curator, motif=photo, engine=engine, params={"tile": 128}, seed=3
    )
    assert job.checkpoint == checkpoint
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error

    result = job.result
    with result.image.open("rb") as handle:
        output = np.asarray(Image.open(handle).convert("RGB"))
    assert output.shape == (200, 300, 3)
    assert result.checkpoint_sha256 == checkpoint.sha256
    assert result.info["ngf"] == 8 and result.info["n_blocks"] == 1
    assert result.info["antialias"] is (engine == "cut")
    assert result.device == job.device and result.seconds > 0
    # 300 x 200 in tiles of 128: several passes, each reported with the picture so far.
    steps = [m for m in sent if m["type"] == "job.progress" and m.get("total")]
    assert steps[-1]["step"] == steps[-1]["total"] >= 4
    assert any(m.get("preview", "").startswith("data:image/jpeg") for m in steps)
    assert sent[-1]["type"] == "job.finished"


def test_the_original_projects_pth_state_dict_runs_as_a_cyclegan_checkpoint(
    curator, photo, tmp_path
):
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(_generator("cyclegan").state_dict(), path)
    checkpoint = checkpoint_register(location=path, engine="cyclegan", name="from the original")
    job = services.style_job_create(
        requested_by=curator, motif=photo, engine="cyclegan", checkpoint=checkpoint
    )
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.result.info["checkpoint_format"] == "pth"


def test_a_checkpoint_of_the_other_style_engine_fails_the_job_with_the_engine_to_use(
    curator, photo, tmp_path
):
    # Registered under cyclegan by mistake: the weights are CUT's (anti-aliased sampling).
    checkpoint = checkpoint_register(
        location=_folder(tmp_path, "cut") / "model.safetensors",
        engine="cyclegan",
        name="mislabelled",
    )
    job = services.style_job_create(
        requested_by=curator, motif=photo, engine="cyclegan", checkpoint=checkpoint
    )
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Status.FAILED and "cut" in job.error
    assert not Restoration.objects.filter(job=job).exists()
