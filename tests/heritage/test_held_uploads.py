"""The holding area of accepted uploads: tokens are per user, expire, and files are bounded."""

import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from heritage import held_uploads
from tests import factories


def _upload(name: str = "wall.png", data: bytes = b"bytes of a photograph"):
    return SimpleUploadedFile(name, data, content_type="image/png")


def test_a_held_file_comes_back_with_its_name_and_bytes(media):
    token = held_uploads.hold(user_id=7, upload=_upload("north.png", b"north wall"))

    taken = held_uploads.take(user_id=7, token=token)

    assert (taken.name, taken.read(), taken.content_type) == (
        "north.png",
        b"north wall",
        "image/png",
    )
    assert held_uploads.take(user_id=8, token=token) is None
    held_uploads.release(user_id=7, token=token)
    assert held_uploads.take(user_id=7, token=token) is None
    assert factories.files_under(media) == []


def test_an_expired_token_holds_nothing(media, monkeypatch):
    token = held_uploads.hold(user_id=7, upload=_upload())
    monkeypatch.setattr(held_uploads, "HOLD_SECONDS", -1)
    assert held_uploads.take(user_id=7, token=token) is None


@pytest.mark.parametrize("token", ["", "garbage", "a:b:c"])
def test_a_malformed_token_holds_nothing(media, token):
    assert held_uploads.take(user_id=7, token=token) is None


def test_expired_files_go_when_the_user_holds_another(media):
    folder = media / "held" / "7"
    first = held_uploads.hold(user_id=7, upload=_upload("0.png"))
    (old,) = os.listdir(folder)
    os.utime(folder / old, (time.time() - held_uploads.HOLD_SECONDS - 60,) * 2)
    second = held_uploads.hold(user_id=7, upload=_upload("1.png"))

    assert old not in os.listdir(folder) and len(os.listdir(folder)) == 1
    assert held_uploads.take(user_id=7, token=first) is None
    assert held_uploads.take(user_id=7, token=second).name == "1.png"


def test_a_user_holds_a_bounded_number_of_files(media):
    tokens = []
    for n in range(8):
        tokens.append(held_uploads.hold(user_id=7, upload=_upload(f"{n}.png")))
        time.sleep(0.01)  # distinct modification times

    assert len(os.listdir(media / "held" / "7")) == held_uploads.HOLD_MAX_FILES
    alive = [token for token in tokens if held_uploads.take(user_id=7, token=token)]
    assert alive == tokens[-held_uploads.HOLD_MAX_FILES :]
