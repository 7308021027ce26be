"""Training CycleGAN / CUT / FastCUT a few steps on tiny crops, resuming, bad input, the command."""

import json

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command
from PIL import Image
from safetensors.torch import load_file

from restoration.models import ModelCheckpoint
from restoration.style import data
from restoration.style.losses import lsgan, patch_nce
from restoration.style.networks import ResnetGenerator, infer_architecture
from restoration.style.training import ImagePool, StyleTrainOptions, _lr_factor, train_style

TINY = {"size": 32, "load_size": 36, "ngf": 4, "n_blocks": 1, "ndf": 4, "threads": 1}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _folder(path, count, colour, seed):
    path.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = np.clip(rng.normal(colour, 40, size=(40, 52, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path / f"img_{i}.png")
    return path


@pytest.fixture
def domains(tmp_path):
    return (
        _folder(tmp_path / "photos", 3, (90, 120, 160), 1),
        _folder(tmp_path / "paintings", 3, (60, 150, 110), 2),
    )


def _options(domains, out, variant, **extra):
    values = dict(TINY, steps=3, sample_every=2, save_every=2) | extra
    return StyleTrainOptions(
        variant=variant, domain_a=[domains[0]], domain_b=[domains[1]], out=out, **values
    )


@pytest.mark.parametrize(
    ("variant", "engine", "loss_names"),
    [
        ("cyclegan", "cyclegan", {"G_A", "G_B", "D_A", "D_B", "cycle_A", "cycle_B", "idt_A"}),
        ("cut", "cut", {"G_GAN", "D_real", "D_fake", "NCE", "NCE_Y"}),
        ("fastcut", "cut", {"G_GAN", "D_real", "D_fake", "NCE"}),
    ],
)
def test_each_variant_trains_and_writes_a_loadable_checkpoint(
    tmp_path, domains, variant, engine, loss_names
):
    seen = []
    out = tmp_path / "ckpt"
    config = train_style(
        _options(domains, out, variant),
        on_step=lambda step, total, losses, sample: seen.append((step, total, losses, sample)),
        log=lambda message: None,
    )
    assert [s[0] for s in seen] == [1, 2, 3] and {s[1] for s in seen} == {3}
    assert set(seen[0][2]) >= loss_names and all(np.isfinite(list(seen[-1][2].values())))
    assert seen[0][3] is None and seen[1][3] == out / "samples" / "step_000002.png"
    assert seen[1][3].is_file() and (out / "samples" / "step_000003.png").is_file()
    grid = np.asarray(Image.open(seen[1][3]))
    assert grid.shape == (3 * 32, (3 if variant == "cyclegan" else 2) * 32, 3)  # 3 preview rows
    saved = json.loads((out / "config.json").read_text())
    assert saved == json.loads(json.dumps(config))
    assert (saved["engine"], saved["variant"], saved["steps"]) == (engine, variant, 3)
    assert (saved["ngf"], saved["n_blocks"], saved["antialias"]) == (4, 1, engine == "cut")
    assert saved["training_data"]["domain_a"][0]["file"] == "img_0.png"
    assert len(saved["training_data"]["domain_a"][0]["sha256"]) == 64
    assert set(saved["losses"]) >= loss_names
    weights = load_file(str(out / "model.safetensors"))
    # Only the A->B generator, in the original layout: a plain ResnetGenerator loads it.
    assert infer_architecture(weights) == {"ngf": 4, "n_blocks": 1, "antialias": engine == "cut"}
    generator = ResnetGenerator(ngf=4, n_blocks=1, antialias=engine == "cut")
    generator.load_state_dict(weights)
    assert (out / "training_state.pt").is_file()
    assert not list(out.glob("*.tmp"))


def test_training_is_deterministic_for_a_seed(tmp_path, domains):
    first = train_style(_options(domains, tmp_path / "a", "fastcut"), log=lambda m: None)
    second = train_style(_options(domains, tmp_path / "b", "fastcut"), log=lambda m: None)
    assert first["losses"] == second["losses"]
    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_resume_continues_the_step_count_and_matches_an_unbroken_run(tmp_path, domains):
    whole = train_style(
        _options(domains, tmp_path / "whole", "cyclegan", steps=4, decay_from=4),
        log=lambda m: None,
    )
    train_style(
        _options(domains, tmp_path / "part", "cyclegan", steps=2, decay_from=4),
        log=lambda m: None,
    )
    steps = []
    resumed = train_style(
        _options(
            domains, tmp_path / "part", "cyclegan", steps=4, decay_from=4, resume=tmp_path / "part"
        ),
        on_step=lambda step, *rest: steps.append(step),
        log=lambda m: None,
    )
    assert steps == [3, 4] and resumed["steps"] == 4
    assert resumed["losses"] == pytest.approx(whole["losses"], rel=1e-4, abs=1e-5)


def test_resume_refuses_another_variant_or_a_missing_state(tmp_path, domains):
    train_style(_options(domains, tmp_path / "run", "cut", steps=2), log=lambda m: None)
    with pytest.raises(ValueError, match="is a 'cut' run, not 'cyclegan'"):
        train_style(
            _options(domains, tmp_path / "x", "cyclegan", resume=tmp_path / "run"),
            log=lambda m: None,
        )
    with pytest.raises(ValueError, match="does not exist"):
        train_style(
            _options(domains, tmp_path / "y", "cut", resume=tmp_path / "nowhere"),
            log=lambda m: None,
        )


def test_should_stop_saves_and_stops_cleanly(tmp_path, domains):
    calls = []
    config = train_style(
        _options(domains, tmp_path / "ckpt", "fastcut", steps=50),
        on_step=lambda step, *rest: calls.append(step),
        should_stop=lambda: len(calls) >= 2,
        log=lambda m: None,
    )
    assert config["steps"] == 2 and calls == [1, 2]
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["steps"] == 2


def test_bad_input_gets_a_clear_error_and_writes_nothing(tmp_path, domains):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match="holds no images"):
        train_style(_options((empty, domains[1]), tmp_path / "out1", "cut"), log=lambda m: None)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "fake.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="fake.jpg is not a readable image"):
        train_style(_options((domains[0], broken), tmp_path / "out2", "cut"), log=lambda m: None)
    with pytest.raises(ValueError, match="neither a folder nor a list"):
        train_style(
            _options((tmp_path / "missing", domains[1]), tmp_path / "out3", "cut"),
            log=lambda m: None,
        )
    with pytest.raises(ValueError, match="multiple of 4"):
        train_style(_options(domains, tmp_path / "out4", "cut", size=30), log=lambda m: None)
    with pytest.raises(ValueError, match="variant must be one of"):
        train_style(_options(domains, tmp_path / "out5", "pix2pix"), log=lambda m: None)
    assert not any((tmp_path / f"out{i}").exists() for i in range(1, 6))


def test_a_list_file_selects_images_and_licences_come_from_the_manifest(tmp_path, domains):
    shared = tmp_path / "shared"
    (shared / "photos").mkdir(parents=True)
    for name in ("a.png", "b.png"):
        (shared / "photos" / name).write_bytes((domains[0] / "img_0.png").read_bytes())
    (shared / "manifest.csv").write_text(
        'file,group,licence\nphotos/a.png,photos,"CC0"\nphotos/b.png,photos,"none stated"\n'
    )
    listing = tmp_path / "list.txt"
    listing.write_text("# photos\nshared/photos/b.png\n" + str(shared / "photos" / "a.png") + "\n")
    images = data.load_domain([listing], load_size=36, size=32)
    assert [(i.file, i.licence) for i in images] == [("b.png", "none stated"), ("a.png", "CC0")]
    assert min(images[0].pixels.shape[:2]) == 36  # shorter side resized to load_size
    listing.write_text("shared/photos/c.png\n")
    with pytest.raises(ValueError, match="line 1: .*c.png does not exist"):
        data.load_domain([listing], load_size=36, size=32)


def test_random_crop_flips_and_stays_inside():
    image = data.StyleImage(
        "x", "0", "CC0", np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
    )
    rng = np.random.default_rng(0)
    crops = [data.random_crop(image, size=32, rng=rng) for _ in range(40)]
    assert {c.shape for c in crops} == {(32, 32, 3)}
    flipped = [
        c
        for c in crops
        if not any(
            np.array_equal(c, image.pixels[t : t + 32, left : left + 32])
            for t in range(9)
            for left in range(19)
        )
    ]
    assert 5 < len(flipped) < 35
    batch = data.to_tensor_batch(crops[:2])
    assert batch.shape == (2, 3, 32, 32) and batch.min() >= -1 and batch.max() <= 1


def test_lsgan_patch_nce_pool_and_lr_schedule():
    assert float(lsgan(torch.ones(1, 1, 4, 4), True)) == 0
    assert float(lsgan(torch.ones(1, 1, 4, 4), False)) == 1
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(2 * 8, 16), dim=1)
    # Keys equal to the queries: the positive is the best match, a low loss; shuffled, high.
    matched = patch_nce(q, q.clone(), batch=2)
    shuffled = patch_nce(q, q.flip(0), batch=2)
    assert matched.shape == (16,) and float(matched.mean()) < 0.01
    assert float(shuffled.mean()) > 1
    pool, rng = ImagePool(2), np.random.default_rng(0)
    first = torch.zeros(1, 3, 4, 4)
    assert torch.equal(pool.query(first, rng), first) and len(pool.images) == 1
    pool.query(torch.ones(1, 3, 4, 4), rng)
    answers = {float(pool.query(torch.full((1, 3, 4, 4), 7.0), rng).mean()) for _ in range(20)}
    assert 7.0 in answers and len(answers) > 1  # sometimes an earlier fake
    assert _lr_factor(0, 100, 50) == 1 and _lr_factor(50, 100, 50) == 1
    assert _lr_factor(100, 100, 50) == pytest.approx(1 / 51)
    assert _lr_factor(75, 100, 50) == pytest.approx(1 - 25 / 51)


@pytest.mark.django_db
def test_train_style_command_trains_and_registers(tmp_path, domains, media, capsys):
    out = tmp_path / "ckpt"
    call_command(
        "train_style",
        "tiny-cut",
        "--variant",
        "fastcut",
        "--domain-a",
        str(domains[0]),
        "--domain-b",
        str(domains[1]),
        "--out",
        str(out),
        "--size",
        "32",
        "--steps",
        "2",
        "--ngf",
        "4",
        "--n-blocks",
        "1",
        "--ndf",
        "4",
        "--threads",
        "1",
    )
    captured = capsys.readouterr()
    assert "NCE=" in captured.err and "G_GAN=" in captured.err  # progress bar shows the losses
    assert "after 2 steps" in captured.out
    checkpoint = ModelCheckpoint.objects.get(name="tiny-cut")
    assert checkpoint.engine == "cut" and checkpoint.steps == 2
    assert {entry["path"] for entry in checkpoint.files} == {
        "config.json",
        "model.safetensors",
        "samples/step_000002.png",
    }
    assert checkpoint.training_data["domain_b"][0]["file"] == "img_0.png"


def test_train_style_command_reports_bad_input(tmp_path, domains):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CommandError, match="holds no images"):
        call_command(
            "train_style",
            "x",
            "--domain-a",
            str(empty),
            "--domain-b",
            str(domains[1]),
            "--out",
            str(tmp_path / "out"),
            "--no-register",
        )


def test_max_minutes_decays_the_rate_by_time_and_stops(tmp_path, domains, monkeypatch):
    from types import SimpleNamespace

    from restoration.style import training

    clock = iter(range(0, 10_000, 150))  # 2.5 minutes pass between readings
    monkeypatch.setattr(training, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    config = train_style(
        _options(domains, tmp_path / "timed", "fastcut", steps=8, max_minutes=10, save_every=100),
        log=lambda m: None,
    )
    # 12.5 minutes are past the limit after 4 of 8 steps. The 4th step ran at 10 minutes: by
    # time the schedule was at step 8, 4/5 through the decay from step 4 (by steps, not begun).
    assert config["steps"] == 4
    assert config["training"]["history"][-1]["lr"] == pytest.approx(2e-4 * (1 - 4 / 5))


def test_licences_of_a_split_folder_come_from_its_split_json(tmp_path, domains):
    split = tmp_path / "split"
    (split / "trainA").mkdir(parents=True)
    (split / "trainA" / "x.png").symlink_to(domains[0] / "img_1.png")
    (split / "split.json").write_text(
        json.dumps({"files": [{"name": "x.png", "side": "trainA", "licence": "CC0 (test)"}]})
    )
    images = data.load_domain([split / "trainA"], load_size=36, size=32)
    assert [(i.file, i.licence) for i in images] == [("x.png", "CC0 (test)")]
    # Without a split.json or manifest the licence is unknown, said so.
    assert data.load_domain([domains[0]], load_size=36, size=32)[0].licence == "unknown"
