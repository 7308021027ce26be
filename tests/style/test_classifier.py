"""The style classifier: splits that keep crops together, training on tiny images, save/load."""

import numpy as np
import pytest
import torch

from restoration.style import classifier


def _stripes(seed: int, size: int = 48) -> np.ndarray:
    """Green-blue diagonal stripes (the 'style'), random phase and period."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    period = rng.integers(6, 10)
    wave = (np.sin((x + y + rng.integers(0, 10)) * 2 * np.pi / period) > 0).astype(np.uint8)
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 1] = 90 + 120 * wave
    image[..., 2] = 150
    return image


def _noise(seed: int, size: int = 48, tint=(160, 120, 90)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(tint, 40, (size, size, 3)), 0, 255).astype(np.uint8)


def _examples(group: str, make, count: int, start: int):
    return [
        classifier.Example(f"{group}_{i}.png", group, classifier.prepare(make(start + i), 32))
        for i in range(count)
    ]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_prepare_sets_the_short_side_and_caps_the_aspect():
    wide = np.zeros((100, 1000, 3), np.uint8)
    prepared = classifier.prepare(wide, 64)
    assert prepared.shape == (64, 192, 3)
    with pytest.raises(ValueError, match="uint8"):
        classifier.prepare(wide.astype(float), 64)


def test_split_keeps_every_file_of_one_qianli_crop_index_on_one_side():
    names = [
        f"qianli_jiangshan_spx0_{i:02d}{tail}.jpg" for i in range(22) for tail in ("", "_tile10")
    ]
    image = np.zeros((40, 40, 3), np.uint8)
    examples = [classifier.Example(name, "style", image) for name in names]
    train, test = classifier.split(examples, 0.2)
    train_keys = {classifier.split_key(e.name) for e in train}
    test_keys = {classifier.split_key(e.name) for e in test}
    assert not train_keys & test_keys
    assert len(test_keys) == round(0.2 * 22)
    assert classifier.split_key("qianli_jiangshan_spx0_07_tile11.jpg") == "spx0_07"
    # The same names always split the same way.
    assert [e.name for e in classifier.split(examples, 0.2)[1]] == [e.name for e in test]


def test_classifier_learns_to_separate_two_trivially_different_classes(tmp_path):
    train = (
        _examples("style", _stripes, 6, 0)
        + _examples("photo", _noise, 6, 100)
        + _examples("other", lambda s: _noise(s, tint=(60, 60, 60)), 6, 200)
    )
    options = classifier.ClassifierOptions(
        size=24, short_side=32, steps=40, batch=8, lr=5e-3, width=4, smooth_negatives=True
    )
    steps = []
    model, meta = classifier.train_classifier(
        train, options, on_step=lambda step, total, loss: steps.append(step)
    )
    assert steps[-1] == 40
    test = _examples("style", _stripes, 4, 50) + _examples("photo", _noise, 4, 150)
    result = classifier.evaluate(model, test)
    assert result["accuracy"] == 1.0
    assert result["subsets"]["style"] == {"n": 4, "correct": 4, "accuracy": 1.0}
    assert classifier.features(model, [test[0].image]).shape == (1, 32)
    # The palette of the style images is kept for the Reinhard baseline.
    assert len(meta["palette"]["mean"]) == 3

    classifier.save(tmp_path / "clf", model, meta)
    loaded, loaded_meta = classifier.load(tmp_path / "clf")
    images = [e.image for e in test]
    assert np.allclose(
        classifier.probabilities(loaded, images), classifier.probabilities(model, images)
    )
    assert loaded_meta["palette"] == meta["palette"]


def test_training_needs_every_group():
    only_style = _examples("style", _stripes, 2, 0)
    with pytest.raises(ValueError, match="photo, other"):
        classifier.train_classifier(only_style, classifier.ClassifierOptions(steps=1))


def test_load_refuses_a_folder_without_a_classifier(tmp_path):
    with pytest.raises(ValueError, match="not a style classifier folder"):
        classifier.load(tmp_path)


def test_image_files_reports_missing_paths(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        classifier.image_files([tmp_path / "nope"])
    with pytest.raises(ValueError, match="holds no image"):
        classifier.image_files([tmp_path])
