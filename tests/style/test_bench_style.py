"""bench/style.py's measuring code path, with a stand-in engine and a tiny classifier."""

import numpy as np
import pytest
import torch

from bench import style as bench
from restoration.style import classifier, measure


@pytest.fixture(scope="module")
def tiny_classifier():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    def example(group, tint):
        image = np.clip(rng.normal(tint, 30, (40, 40, 3)), 0, 255).astype(np.uint8)
        return classifier.Example(f"{group}.png", group, classifier.prepare(image, 32))

    examples = [example("style", (40, 160, 140)) for _ in range(3)]
    examples += [example("photo", (160, 120, 90)) for _ in range(3)]
    examples += [example("other", (90, 90, 90)) for _ in range(3)]
    options = classifier.ClassifierOptions(size=24, steps=2, batch=4, width=4)
    model, _ = classifier.train_classifier(examples, options)
    yield model
    torch.set_num_threads(before)


def test_measure_method_scores_a_stand_in_engine(tiny_classifier):
    rng = np.random.default_rng(1)
    inputs = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
    style = classifier.features(tiny_classifier, inputs[:2])
    calls = []

    def invert(image):
        calls.append(image.shape)
        return 255 - image

    row, outputs = bench.measure_method(
        "cyclegan",
        invert,
        inputs,
        model=tiny_classifier,
        ablation=tiny_classifier,
        style_features=style,
    )
    assert len(calls) == 5  # one warm-up, then each photo once
    assert np.array_equal(outputs[2], 255 - inputs[2])
    assert row["n"] == 4 and 0 <= row["deception"].value <= 1
    assert row["deception"].low <= row["deception"].value <= row["deception"].high
    assert row["ablation"].value == row["deception"].value
    assert row["edge_ssim"] == pytest.approx(
        np.mean([measure.edge_ssim(i, o) for i, o in zip(inputs, outputs, strict=True)])
    )
    lines = bench.table([row])
    assert lines[2].startswith("| cyclegan | 4 | ") and "| 0.602 |" in lines[2]

    held_out = {
        "accuracy": 0.95,
        "subsets": {"style (extra)": {"n": 3, "correct": 0, "accuracy": 0}},
    }
    said = bench.findings([row], held_out)
    assert said[0].startswith("- cyclegan: deception ") and "seed 003: 0.602" in said[0]
    assert "0.950 (meets the 0.9 target)" in said[-1] and "0 of the 3" in said[-1]

    grid = bench.sample_grid(["a", "b"], {"input": inputs, "cyclegan": outputs}, [0, 3])
    assert grid.size == (2 * bench.GRID_CELL, 18 + 2 * bench.GRID_CELL)


def test_findings_say_when_colour_alone_fools_the_classifier():
    estimate = measure.Estimate
    row = {
        "method": "reinhard",
        "deception": estimate(0.1, 0.05, 0.2),
        "ablation": estimate(0.7, 0.6, 0.8),
    }
    said = bench.findings([row], {"accuracy": 0.8, "subsets": {}})
    assert "70%" in said[0] and "10%" in said[0] and "colour alone fools" in said[0]
    assert "misses the 0.9 target" in said[-1]


def test_engine_without_checkpoint_is_skipped_with_a_reason(tmp_path):
    stylize, reason = bench.engine_stylizer("cut", tmp_path / "missing")
    assert stylize is None and "no checkpoint" in reason and "missing" in reason
