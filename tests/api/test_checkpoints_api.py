"""The checkpoints API: list (by engine), detail, and uploaded weights registered as
`register_checkpoint --verify` registers a local path (same loader, same words), or refused with
nothing stored."""

import hashlib
import io
import json
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from restoration.checkpoints import checkpoint_register
from restoration.models import ModelCheckpoint
from tests.restoration import fakes

pytestmark = pytest.mark.django_db

URL = "/api/v1/checkpoints/"


@pytest.fixture(autouse=True)
def engines(settings, media):
    fakes.with_test_engines(settings)


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """The temporary folder uploads are unpacked in, to check that nothing stays there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def stored_files(media: Path) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def zip_bytes(members: dict[str, bytes], *, links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def upload(client, name: str, data: bytes, **fields):
    return client.post(URL, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def command_error(*args: str) -> str:
    with pytest.raises(CommandError) as raised:
        call_command("register_checkpoint", *args)
    return str(raised.value)


def test_curators_list_checkpoints_by_engine_with_a_summary_of_their_training_data(
    curator_api, tmp_path
):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"w" * 100)
    old = checkpoint_register(location=weights, engine="weights", name="old", steps=10)
    new = checkpoint_register(
        location=weights,
        engine="weights",
        name="new",
        default=True,
        metrics={"psnr": 31.5},
        training_data={
            "files": [{"path": "a.jpg", "licence": "CC0"}, {"path": "b.jpg", "licence": "CC0"}],
            "domain_b": [{"file": "c.jpg", "licence": "CC BY 4.0"}, {"file": "d.jpg"}],
            "options": {"size": 64},
        },
    )
    ModelCheckpoint.objects.create(engine="prior_diffusion", name="hub", source="owner/model")

    listed = curator_api.get(URL, {"engine": "weights"})
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 2
    assert [row["name"] for row in body["results"]] == ["new", "old"]  # the default first
    row = body["results"][0]
    assert row["is_default"] and row["engine"] == "weights" and row["stored"]
    assert row["sha256"] == hashlib.sha256(b"w" * 100).hexdigest() == old.sha256
    assert row["metrics"] == {"psnr": 31.5}
    assert row["training_data"] == {
        "sets": {
            "files": {"items": 2, "licences": {"CC0": 2}},
            "domain_b": {"items": 2, "licences": {"CC BY 4.0": 1, "not stated": 1}},
        }
    }
    assert row["url"] == f"{URL}{new.pk}/" and row["created_at"]
    assert curator_api.get(URL).json()["count"] == 3
    assert curator_api.get(URL, {"engine": "nothing-here"}).json()["count"] == 0

    detail = curator_api.get(row["url"]).json()
    assert detail["manifest"]["options"] == {"size": 64}
    assert (
        detail["files"] == [{"path": "w.safetensors", "sha256": old.sha256, "size": 100}]
        and detail["steps"] is None
    )
    assert curator_api.get(f"{URL}999999/").json() == {"detail": "No such checkpoint."}

    # The engines endpoint links each of its checkpoints, and all of them, here.
    engine = curator_api.get("/api/v1/engines/weights/").json()
    assert [c["url"] for c in engine["checkpoints"]] == [f"{URL}{new.pk}/", f"{URL}{old.pk}/"]
    assert engine["checkpoints_url"] == f"{URL}?engine=weights"


def test_an_uploaded_weights_file_is_checked_by_its_engine_hashed_and_stored(
    curator_api, curator, media, temp_dir
):
    data = bytes(range(256)) * 8
    fakes.loaded.clear()
    answer = upload(
        curator_api,
        "laptop.safetensors",
        data,
        engine="weights",
        default="true",
        steps="1200",
        trained_by=curator.username,
        metrics=json.dumps({"fid": 40.2}),
        training_data=json.dumps({"files": [{"path": "x.jpg", "licence": "CC0"}]}),
        notes="trained elsewhere",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    sha = hashlib.sha256(data).hexdigest()
    assert answer["Location"] == body["url"] == f"{URL}{body['id']}/"
    assert (body["name"], body["engine"], body["sha256"], body["size"]) == (
        "laptop.safetensors",
        "weights",
        sha,
        len(data),
    )
    assert body["is_default"] and body["steps"] == 1200 and body["trained_by"] == "curator-user"
    assert body["metrics"] == {"fid": 40.2} and body["notes"] == "trained elsewhere"
    assert body["training_data"] == {"sets": {"files": {"items": 1, "licences": {"CC0": 1}}}}
    # The engine's own loader opened it (from the temporary copy, now gone).
    assert len(fakes.loaded) == 1
    assert stored_files(media) == [f"checkpoints/weights/{sha[:16]}/laptop.safetensors"]
    assert (media / stored_files(media)[0]).read_bytes() == data
    assert list(temp_dir.iterdir()) == []

    # The same name again: refused with the command's words, nothing more stored.
    again = upload(curator_api, "laptop.safetensors", b"other", engine="weights")
    assert again.status_code == 400
    assert again.json() == {
        "name": [
            "Engine 'weights' already has a checkpoint named 'laptop.safetensors'; "
            "choose another --name."
        ]
    }
    assert len(stored_files(media)) == 1 and ModelCheckpoint.objects.count() == 1
    assert list(temp_dir.iterdir()) == []


def test_a_zipped_folder_is_unpacked_and_registered_as_a_folder(curator_api, media, temp_dir):
    members = {
        "tiny-pipeline/model_index.json": b'{"_class_name": "Pipeline"}',
        "tiny-pipeline/unet/config.json": b'{"sample_size": 8}',
        "tiny-pipeline/unet/weights.safetensors": bytes(range(256)) * 4,
        "__MACOSX/tiny-pipeline/._model_index.json": b"resource fork",
    }
    answer = upload(curator_api, "upload.zip", zip_bytes(members), engine="weights")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["name"] == "tiny-pipeline" and body["is_folder"]
    assert [entry["path"] for entry in body["files"]] == [
        "model_index.json",
        "unet/config.json",
        "unet/weights.safetensors",
    ]
    assert body["config"] == {}  # only a top-level config.json is the architecture
    prefix = f"checkpoints/weights/{body['sha256'][:16]}"
    assert stored_files(media) == [f"{prefix}/{entry['path']}" for entry in body["files"]]
    assert list(temp_dir.iterdir()) == []

    # Files at the top of the zip: the folder is named after the zip.
    flat = upload(
        curator_api,
        "flat.zip",
        zip_bytes({"config.json": b'{"channels": 8}', "model.safetensors": b"m" * 64}),
        engine="weights",
    )
    assert flat.status_code == 201, flat.json()
    assert flat.json()["name"] == "flat" and flat.json()["config"] == {"channels": 8}


@pytest.mark.parametrize(
    ("members", "links", "message"),
    [
        ({"../evil.safetensors": b"x"}, (), "would be written outside its folder"),
        ({"model/../../evil.safetensors": b"x"}, (), "would be written outside its folder"),
        ({"/etc/evil.safetensors": b"x"}, (), "would be written outside its folder"),
        ({"C:/evil.safetensors": b"x"}, (), "would be written outside its folder"),
        ({"..\\evil.safetensors": b"x"}, (), "would be written outside its folder"),
        ({"model/a.safetensors": b"x"}, ("model/link",), "is a link"),
        ({}, (), "the zip holds no files"),
    ],
)
def test_an_unsafe_zip_is_refused_and_nothing_is_written(
    curator_api, media, temp_dir, tmp_path, members, links, message
):
    answer = upload(curator_api, "bad.zip", zip_bytes(members, links=links), engine="weights")
    assert answer.status_code == 400
    assert list(answer.json()) == ["file"] and message in answer.json()["file"][0]
    assert answer.json()["file"][0].startswith("bad.zip: ")
    assert stored_files(media) == [] and not ModelCheckpoint.objects.exists()
    assert list(temp_dir.iterdir()) == []
    assert not (tmp_path / "evil.safetensors").exists()


def test_a_zip_over_the_limit_once_unpacked_is_refused(curator_api, media, temp_dir, settings):
    settings.HERITAGE_MAX_UPLOAD_BYTES = 10_000
    bomb = zip_bytes({"model/model.safetensors": bytes(50_000)})
    assert len(bomb) < 10_000  # zeros compress: only unpacking shows the size
    answer = upload(curator_api, "bomb.zip", bomb, engine="weights")
    assert answer.status_code == 400
    assert answer.json() == {
        "file": ["bomb.zip: over the upload limit of 10,000 bytes once unpacked."]
    }
    big = upload(curator_api, "big.safetensors", bytes(10_001), engine="weights")
    assert big.json() == {"file": ["big.safetensors is over the upload limit of 10,000 bytes."]}
    assert stored_files(media) == [] and list(temp_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "data", "fields", "expected"),
    [
        (
            "w.safetensors",
            b"x",
            {"engine": "nope"},
            {"engine": ["Unknown engine 'nope'; known engines: "]},
        ),
        (
            "w.safetensors",
            b"x",
            {"engine": "telea"},
            {"engine": ["Engine 'telea' uses no weights; it takes no checkpoint."]},
        ),
        (
            "notes.txt",
            b"x",
            {"engine": "weights"},
            {"file": ["notes.txt is not a weights file: send a .safetensors, .pth, .pt file, "]},
        ),
        ("w.zip", b"not a zip", {"engine": "weights"}, {"file": ["w.zip: not a readable zip"]}),
        (
            "w.safetensors",
            b"x",
            {"engine": "weights", "metrics": "[1, 2]"},
            {"metrics": ["Send a JSON object."]},
        ),
        (
            "w.safetensors",
            b"x",
            {"engine": "weights", "metrics": "{not json"},
            {"metrics": ["Value must be valid JSON."]},
        ),
        (
            "w.safetensors",
            b"x",
            {"engine": "weights", "trained_by": "nobody"},
            {"trained_by": ["Object with username=nobody does not exist."]},
        ),
        ("w.safetensors", b"x", {}, {"engine": ["This field is required."]}),
    ],
)
def test_bad_input_is_refused_by_field_and_stores_nothing(
    curator_api, media, temp_dir, name, data, fields, expected
):
    answer = upload(curator_api, name, data, **fields)
    assert answer.status_code == 400
    body = answer.json()
    assert list(body) == list(expected)
    for field, (start,) in expected.items():
        assert body[field][0].startswith(start), body
    assert stored_files(media) == [] and not ModelCheckpoint.objects.exists()
    assert list(temp_dir.iterdir()) == []


def test_the_engine_messages_are_the_commands(curator_api, tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"x")
    for engine in ("nope", "telea"):
        answer = upload(curator_api, "w.safetensors", b"x", engine=engine)
        assert answer.json()["engine"] == [command_error(str(path), "--engine", engine)]


def test_without_a_file_nothing_is_registered(curator_api):
    answer = curator_api.post(URL, {"engine": "weights"}, format="multipart")
    assert answer.status_code == 400 and answer.json() == {"file": ["No file was submitted."]}


def test_experts_and_visitors_cannot_upload(expert_api, client, media):
    for who in (expert_api, client):
        answer = upload(who, "w.safetensors", b"x", engine="weights")
        assert answer.status_code in (401, 403) and "detail" in answer.json()
    assert stored_files(media) == [] and not ModelCheckpoint.objects.exists()


# The real style engines: their loader checks the upload.


def generator_bytes(*, antialias: bool) -> bytes:
    """A tiny generator's weights (.safetensors): CUT's layout when anti-aliased, else
    CycleGAN's."""
    from safetensors.torch import save

    from restoration.style.networks import ResnetGenerator

    model = ResnetGenerator(ngf=4, n_blocks=1, antialias=antialias)
    return save({key: value.contiguous() for key, value in model.state_dict().items()})


def test_style_weights_are_loaded_by_their_engine_before_they_are_registered(
    curator_api, media, temp_dir, tmp_path
):
    pytest.importorskip("torch")
    cyclegan = generator_bytes(antialias=False)
    answer = upload(curator_api, "g.safetensors", cyclegan, engine="cyclegan")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["sha256"] == hashlib.sha256(cyclegan).hexdigest()

    # CycleGAN's weights offered to CUT: the loader's words, as the command says them,
    # with the file's name instead of the server's temporary path.
    wrong = upload(curator_api, "g2.safetensors", cyclegan, engine="cut")
    assert wrong.status_code == 400
    (message,) = wrong.json()["file"]
    assert message.startswith(
        "Engine 'cut' cannot load these weights: g2.safetensors holds a CycleGAN-layout "
        "generator (strided and transposed convolutions), not CUT's anti-aliased one: "
        "use the cyclegan engine"
    )
    assert str(temp_dir) not in message and "/tmp" not in message
    local = tmp_path / "g2.safetensors"
    local.write_bytes(cyclegan)
    said = command_error(str(local), "--engine", "cut", "--verify")
    assert said == message.replace("g2.safetensors", str(local))

    corrupt = upload(curator_api, "broken.pth", b"\x00garbage" * 100, engine="cut")
    assert corrupt.status_code == 400
    assert corrupt.json()["file"][0].startswith(
        "Engine 'cut' cannot load these weights: broken.pth is not a PyTorch state dict"
    )
    assert ModelCheckpoint.objects.count() == 1 and len(stored_files(media)) == 1
    assert list(temp_dir.iterdir()) == []

    # A training folder, zipped: its config.json says the engine.
    folder = zip_bytes(
        {
            "cut-mine/model.safetensors": generator_bytes(antialias=True),
            "cut-mine/config.json": json.dumps({"engine": "cut"}).encode(),
        }
    )
    zipped = upload(curator_api, "cut-mine.zip", folder, engine="cut")
    assert zipped.status_code == 201, zipped.json()
    assert zipped.json()["name"] == "cut-mine" and zipped.json()["config"]["engine"] == "cut"


def test_a_long_file_name_is_cut_to_the_longest_name_a_checkpoint_has(curator_api):
    long_name = "w" * 240 + ".safetensors"
    answer = upload(curator_api, long_name, b"x" * 10, engine="weights")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["name"] == long_name[:200]
    assert answer.json()["files"][0]["path"] == long_name
    too_long = curator_api.get(URL, {"engine": "e" * 65})
    assert too_long.status_code == 400 and list(too_long.json()) == ["engine"]
