"""Model checkpoints: registration (file, folder, Hugging Face id), hashes, local paths, command."""

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from restoration import checkpoints
from restoration.checkpoints import checkpoint_register, folder_sha256, local_path
from restoration.engines.base import EngineError
from restoration.models import ModelCheckpoint
from tests.restoration import fakes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def engines(settings, media):
    fakes.with_test_engines(settings)


def _model_folder(root: Path) -> Path:
    """A small diffusers-like folder: a config and weights in subfolders."""
    (root / "unet").mkdir(parents=True)
    (root / "scheduler").mkdir()
    (root / "model_index.json").write_text('{"_class_name": "Pipeline"}')
    (root / "unet" / "config.json").write_text('{"sample_size": 8}')
    (root / "unet" / "weights.safetensors").write_bytes(bytes(range(256)) * 4)
    (root / "scheduler" / "scheduler_config.json").write_text('{"steps": 20}')
    return root


def test_a_file_is_hashed_once_and_copied_into_storage(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"weights" * 1000)

    checkpoint = checkpoint_register(
        location=path, engine="weights", config={"channels": [32, 64]}, notes="from a laptop"
    )

    assert checkpoint.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (checkpoint.name, checkpoint.is_folder, checkpoint.size) == (
        "model.safetensors",
        False,
        7000,
    )
    assert checkpoint.weights == f"checkpoints/weights/{checkpoint.sha256[:16]}/model.safetensors"
    assert checkpoint.config == {"channels": [32, 64]} and checkpoint.source == ""
    path.unlink()  # the copy in storage is what engines read
    assert Path(local_path(checkpoint)).read_bytes() == b"weights" * 1000


def test_a_folder_is_stored_file_by_file_with_a_hash_over_its_files(tmp_path):
    folder = _model_folder(tmp_path / "tiny-pipeline")

    checkpoint = checkpoint_register(location=folder, engine="weights")

    assert checkpoint.is_folder and checkpoint.name == "tiny-pipeline"
    assert [entry["path"] for entry in checkpoint.files] == [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "unet/config.json",
        "unet/weights.safetensors",
    ]
    assert checkpoint.sha256 == folder_sha256(folder)
    stored = Path(local_path(checkpoint))
    assert stored.is_dir() and stored != folder
    assert (stored / "unet" / "weights.safetensors").read_bytes() == bytes(range(256)) * 4
    assert folder_sha256(stored) == checkpoint.sha256


def test_the_folder_hash_follows_content_and_names_not_place_or_time(tmp_path):
    folder = _model_folder(tmp_path / "a")
    copy = tmp_path / "b"
    shutil.copytree(folder, copy)
    os.utime(copy / "unet" / "config.json", (0, 0))
    assert folder_sha256(copy) == folder_sha256(folder)
    (copy / "unet" / "config.json").write_text('{"sample_size": 16}')
    assert folder_sha256(copy) != folder_sha256(folder)
    shutil.rmtree(copy)
    shutil.copytree(folder, copy)
    (copy / "unet" / "config.json").rename(copy / "unet" / "config2.json")
    assert folder_sha256(copy) != folder_sha256(folder)


def test_a_hugging_face_id_is_recorded_as_its_source_without_download(tmp_path):
    checkpoint = checkpoint_register(
        location="runwayml/stable-diffusion-inpainting", engine="weights"
    )

    assert checkpoint.source == "runwayml/stable-diffusion-inpainting"
    assert checkpoint.sha256 == "" and checkpoint.weights == "" and checkpoint.files == []
    assert local_path(checkpoint) == "runwayml/stable-diffusion-inpainting"


def test_a_local_folder_can_be_registered_in_place(tmp_path):
    folder = _model_folder(tmp_path / "big-model")

    checkpoint = checkpoint_register(location=folder, engine="weights", copy=False)

    assert checkpoint.source == str(folder) and checkpoint.weights == ""
    assert checkpoint.sha256 == folder_sha256(folder)
    assert local_path(checkpoint) == str(folder)
    assert not default_storage.exists(f"checkpoints/weights/{checkpoint.sha256[:16]}")


@pytest.mark.parametrize(
    "location, engine, message",
    [
        ("/no/such/model.safetensors", "weights", "No such file or folder: /no/such/model"),
        ("./models/missing", "weights", "No such file or folder: ./models/missing"),
        ("runwayml/sd", "dalle", "Unknown engine 'dalle'; known engines: "),
        ("runwayml/sd", "telea", "Engine 'telea' uses no weights"),
    ],
)
def test_registration_refuses_what_it_cannot_register(location, engine, message):
    with pytest.raises(ValidationError, match=message):
        checkpoint_register(location=location, engine=engine)
    assert not ModelCheckpoint.objects.exists()


def test_an_empty_folder_and_a_name_already_taken_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="holds no files"):
        checkpoint_register(location=tmp_path / "empty", engine="weights")
    checkpoint_register(location="org/model", engine="weights", name="v1")
    with pytest.raises(ValidationError, match="already has a checkpoint named 'v1'"):
        checkpoint_register(location="org/other", engine="weights", name="v1")


def test_one_default_per_engine(tmp_path):
    first = checkpoint_register(location="org/first", engine="weights", default=True)
    second = checkpoint_register(location="org/second", engine="weights", default=True)
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelCheckpoint.objects.filter(pk=first.pk).update(is_default=True)


def test_a_checkpoint_without_weights_nor_source_cannot_be_saved():
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelCheckpoint.objects.create(engine="weights", name="nothing")


def test_the_same_weights_under_two_names_share_their_stored_files(tmp_path):
    folder = _model_folder(tmp_path / "m")
    first = checkpoint_register(location=folder, engine="weights", name="one")
    second = checkpoint_register(location=folder, engine="weights", name="two")
    assert first.weights == second.weights
    assert local_path(first) == local_path(second)


class _RemoteStorage:
    """The default storage without a local path, as S3 is."""

    def __init__(self, storage):
        self._storage = storage

    def path(self, name):
        raise NotImplementedError("no local path")

    def __getattr__(self, name):
        return getattr(self._storage, name)


def test_remote_weights_are_copied_once_to_a_cache_keyed_by_their_hash(
    tmp_path, settings, monkeypatch
):
    settings.HERITAGE_MODEL_CACHE = tmp_path / "cache"
    checkpoint = checkpoint_register(location=_model_folder(tmp_path / "m"), engine="weights")
    monkeypatch.setattr(checkpoints, "default_storage", _RemoteStorage(default_storage))

    local = Path(local_path(checkpoint))

    assert local == tmp_path / "cache" / checkpoint.sha256 / "model"
    assert folder_sha256(local) == checkpoint.sha256
    opened = []
    monkeypatch.setattr(default_storage, "open", lambda *a, **k: opened.append(a))
    assert local_path(checkpoint) == str(local) and opened == []  # no second copy


def test_remote_weights_that_changed_after_registration_are_refused(
    tmp_path, settings, monkeypatch
):
    settings.HERITAGE_MODEL_CACHE = tmp_path / "cache"
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    checkpoint = checkpoint_register(location=path, engine="weights")
    stored = Path(default_storage.path(checkpoint.weights))
    stored.write_bytes(b"abd")
    monkeypatch.setattr(checkpoints, "default_storage", _RemoteStorage(default_storage))

    with pytest.raises(EngineError, match="does not match its sha256"):
        local_path(checkpoint)
    # Nothing half-copied is left for a later job to pick up.
    assert not (tmp_path / "cache" / checkpoint.sha256).exists()


def test_missing_stored_weights_are_a_clear_engine_error(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    checkpoint = checkpoint_register(location=path, engine="weights")
    default_storage.delete(checkpoint.weights)
    with pytest.raises(EngineError, match="weights of checkpoint .* are missing"):
        local_path(checkpoint)


# The command


def test_register_checkpoint_command_registers_a_folder_as_default(tmp_path, capsys):
    folder = _model_folder(tmp_path / "tiny")
    (tmp_path / "config.json").write_text('{"backbone": "pixel-unet"}')

    call_command(
        "register_checkpoint",
        str(folder),
        "--engine",
        "weights",
        "--name",
        "tiny v1",
        "--default",
        "--config",
        str(tmp_path / "config.json"),
        "--training-data",
        '{"files": [{"path": "a.png", "sha256": "00", "licence": "CC0"}]}',
    )

    checkpoint = ModelCheckpoint.objects.get()
    assert (checkpoint.name, checkpoint.is_default) == ("tiny v1", True)
    assert checkpoint.config == {"backbone": "pixel-unet"}
    assert checkpoint.training_data["files"][0]["licence"] == "CC0"
    out = capsys.readouterr().out
    assert f"sha256 {checkpoint.sha256}" in out and "(default)" in out and "4 file(s)" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/dir", "--engine", "weights"], "No such file or folder: /no/such/dir"),
        (["org/model", "--engine", "nope"], "Unknown engine 'nope'"),
        (["org/model", "--engine", "weights", "--config", "{bad"], "The config is not valid JSON"),
        (["org/model", "--engine", "weights", "--config", "[1]"], "must be a JSON object"),
    ],
)
def test_register_checkpoint_command_errors(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("register_checkpoint", *args)
    assert not ModelCheckpoint.objects.exists()


def test_the_admin_lists_checkpoints(admin_client):
    checkpoint = checkpoint_register(location="org/model", engine="weights")
    response = admin_client.get("/admin/restoration/modelcheckpoint/")
    assert response.status_code == 200
    assert "org/model" in response.content.decode()
    assert (
        admin_client.get(f"/admin/restoration/modelcheckpoint/{checkpoint.pk}/change/").status_code
        == 200
    )


def test_a_folders_config_json_is_its_architecture_unless_one_is_given(tmp_path, curator):
    folder = tmp_path / "trained"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"w" * 10)
    (folder / "config.json").write_text('{"channels": [32, 64], "attention": 16}')

    call_command(
        "register_checkpoint",
        str(folder),
        "--engine",
        "weights",
        "--steps",
        "1200",
        "--losses",
        '{"mse": [0.3, 0.1]}',
        "--metrics",
        '{"psnr": 27.1}',
        "--trained-by",
        curator.username,
    )
    given = checkpoint_register(
        location=folder, engine="weights", name="other", config={"channels": [8]}
    )

    checkpoint = ModelCheckpoint.objects.get(name="trained")
    assert checkpoint.config == {"channels": [32, 64], "attention": 16}
    assert (checkpoint.steps, checkpoint.losses, checkpoint.metrics) == (
        1200,
        {"mse": [0.3, 0.1]},
        {"psnr": 27.1},
    )
    assert checkpoint.trained_by == curator
    assert given.config == {"channels": [8]}


def test_register_checkpoint_refuses_an_unknown_trainer():
    with pytest.raises(CommandError, match="--trained-by: no user named 'ghost'"):
        call_command("register_checkpoint", "org/m", "--engine", "weights", "--trained-by", "ghost")
