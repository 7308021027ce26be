"""The job reporter renders engine previews only when one is due, and scales them in one place."""

import base64
import io
import math

import numpy as np
import pytest
from PIL import Image

from restoration import pipeline, progress
from restoration.engines.base import Cancelled
from restoration.models import RestorationJob
from tests.restoration.test_services import _job


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def running(curator, simulated):
    job = _job(curator, simulated)
    RestorationJob.objects.filter(pk=job.pk).update(status=RestorationJob.Status.RUNNING)
    return job


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    return clock


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr(progress, "publish", lambda job_id, message: messages.append(message))
    return messages


def _reporter(job):
    return progress.Reporter(
        job.pk, encode_preview=pipeline.preview_jpeg, cancelled=Cancelled, time_limit=3600
    )


def _renderer(rendered, shape=(600, 900, 3)):
    def render():
        rendered.append(1)
        return np.full(shape, 90, np.uint8)

    return render


def test_previews_go_at_every_step_the_byte_budget_allows_and_always_at_the_end(
    running, clock, sent
):
    reporter, rendered = _reporter(running), []
    for step in range(1, 11):  # ten steps an eighth of a second apart, small flat previews
        reporter(step, 10, preview=_renderer(rendered))
        clock.now += 0.125
    # Not two a second: every step's estimate, since a few kilobytes fit the budget.
    assert [m["step"] for m in sent if "preview" in m] == list(range(1, 11))
    sent.clear()
    for step in range(1, 31):  # then steps of 10 ms: no more than a screen shows (15 a second)
        reporter(step, 30, preview=_renderer(rendered))
        clock.now += 0.01
    with_preview = [m["step"] for m in sent if "preview" in m]
    assert with_preview == [1, 8, 15, 22, 29, 30]
    assert [m["step"] for m in sent] == list(range(1, 31))  # every step still reported


def test_previews_are_shrunk_to_a_small_jpeg(running, clock, sent):
    _reporter(running)(1, 2, preview=_renderer([]))
    data = sent[0]["preview"]
    assert data.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1])))
    assert image.size == (pipeline.PREVIEW_SIDE, round(600 * pipeline.PREVIEW_SIDE / 900))


def test_slow_or_large_previews_are_thinned_further(running, clock, sent, monkeypatch):
    reporter, rendered = _reporter(running), []

    def slow_render():
        clock.now += 0.5  # rendering takes 0.5 s: at most a fifth of the time goes to it
        rendered.append(1)
        return np.full((64, 64, 3), 90, np.uint8)

    for step in range(1, 21):
        reporter(step, 100, preview=slow_render)
        clock.now += 0.125
    assert [m["step"] for m in sent if "preview" in m] == [1, 17]  # 0.5 s x 5 = 2.5 s apart
    monkeypatch.setattr(progress, "PREVIEW_BYTES_PER_SECOND", 100)
    clock.now += 60
    sent.clear()
    for step in range(21, 41):
        reporter(step, 100, preview=_renderer([], (16, 16, 3)))
        clock.now += 0.5
    jpeg_bytes = len(base64.b64decode(sent[0]["preview"].split(",", 1)[1]))
    # A preview of n bytes waits n / 100 s before the next: far fewer than one per step.
    assert [m["step"] for m in sent if "preview" in m] == [21, 21 + math.ceil(jpeg_bytes / 50)]


def test_the_eta_is_smoothed_and_one_slow_step_never_raises_it(running, clock, sent):
    reporter = _reporter(running)
    for step in range(1, 11):  # steady steps of 1 s
        clock.now += 1.0
        reporter(step, 100)
    assert sent[-1]["eta"] == pytest.approx(90.0)
    clock.now += 20.0  # one step of 20 s (a pause, a slow tile)
    reporter(11, 100)
    assert sent[-1]["eta"] <= sent[-2]["eta"]  # it counts down, it does not jump up
    etas = []
    for step in range(12, 20):  # back to 1 s steps
        clock.now += 1.0
        reporter(step, 100)
        etas.append(sent[-1]["eta"])
    assert etas == sorted(etas, reverse=True)
    assert etas[-1] == pytest.approx(81.0, abs=12.0)


def test_the_eta_rises_when_steps_stay_slower(running, clock, sent):
    reporter = _reporter(running)
    for step in range(1, 6):
        clock.now += 1.0
        reporter(step, 50)
    before = sent[-1]["eta"]
    for step in range(6, 16):  # every step now takes 4 s
        clock.now += 4.0
        reporter(step, 50)
    assert sent[-1]["eta"] > before  # the estimate followed, after a few steps
    assert sent[-1]["eta"] == pytest.approx(35 * 4.0, rel=0.3)
