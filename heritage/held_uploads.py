"""A per-user holding area for an accepted photograph whose upload form was refused.

A browser cannot put a file back into a file input, so a form refused for its metadata (no
site, say) would make the curator choose the file again. Instead the page keeps it: the bytes
go to MEDIA_ROOT/held/<user id>/<random name>, and the form carries a signed token naming that
file and its user. The next submission without a new file uses the held one; a new file
replaces it. Tokens expire after HOLD_SECONDS; when a user holds another file, their expired
files go, and so do all but their newest HOLD_MAX_FILES - 1 (several tabs may each keep one).
"""

import os
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile

HOLD_SECONDS = 24 * 60 * 60
HOLD_MAX_FILES = 5
SALT = "heritage.held_uploads"
FIELD = "held_image"


def _folder(user_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "held" / str(int(user_id))


def hold(*, user_id: int, upload: UploadedFile) -> str:
    """Keep an accepted upload for `user_id`; returns the signed token for the form."""
    folder = _folder(user_id)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_old(folder)
    stored = secrets.token_hex(16)
    upload.seek(0)
    with open(folder / stored, "wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    upload.seek(0)
    return signing.dumps(
        {"user": int(user_id), "file": stored, "name": upload.name, "type": upload.content_type},
        salt=SALT,
    )


def _read_token(*, user_id: int, token: str) -> dict | None:
    try:
        data = signing.loads(token, salt=SALT, max_age=HOLD_SECONDS)
    except signing.BadSignature:
        return None
    if data.get("user") != int(user_id):
        return None
    if not (folder_file := _folder(user_id) / str(data.get("file", ""))).is_file():
        return None
    return {**data, "path": folder_file}


def take(*, user_id: int, token: str) -> UploadedFile | None:
    """The held file as an upload (its original name), or None for a token that is not this
    user's, has expired or names a file already gone."""
    data = _read_token(user_id=user_id, token=token)
    if data is None:
        return None
    return SimpleUploadedFile(
        data["name"], data["path"].read_bytes(), content_type=data.get("type") or ""
    )


def release(*, user_id: int, token: str) -> None:
    """Remove the held file of a token (once its motif is catalogued)."""
    data = _read_token(user_id=user_id, token=token)
    if data is not None:
        data["path"].unlink(missing_ok=True)


def _remove_old(folder: Path) -> None:
    """Remove expired files, and the oldest beyond HOLD_MAX_FILES - 1 (room for a new one)."""
    cutoff = time.time() - HOLD_SECONDS
    entries = sorted(
        (entry for entry in os.scandir(folder) if entry.is_file()),
        key=lambda entry: entry.stat().st_mtime,
        reverse=True,
    )
    for index, entry in enumerate(entries):
        if index >= HOLD_MAX_FILES - 1 or entry.stat().st_mtime < cutoff:
            Path(entry.path).unlink(missing_ok=True)
