"""Weights uploaded over HTTP: a file, or a zipped folder unpacked safely, then registered.

The upload is written to a fresh temporary folder (a .zip unpacked there, refusing paths that
leave it, links, encrypted or duplicate members, and more than the upload limit once unpacked),
then handed to `checkpoints.checkpoint_register(verify=True)` as `register_checkpoint PATH
--verify` would hand a local path: the engine's own loader checks it, the sha256 is computed
once, the weights are copied into storage. The temporary folder goes in every case, and the
messages name files inside the upload, never the server's temporary paths.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from heritage.uploads import safe_upload_name
from restoration import checkpoints
from restoration.models import ModelCheckpoint

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt")
ARCHIVE_SUFFIX = ".zip"
# A diffusers folder has a few dozen files; thousands of members is not a checkpoint.
MAX_MEMBERS = 2000
# Written by macOS's archiver beside the real files: never part of a checkpoint.
IGNORED_TOP = {"__MACOSX"}
NAME_LENGTH = ModelCheckpoint._meta.get_field("name").max_length


def checkpoint_upload_register(
    *,
    upload: UploadedFile,
    engine: str,
    name: str = "",
    default: bool = False,
    config: dict | None = None,
    training_data: dict | None = None,
    steps: int | None = None,
    losses: dict | None = None,
    metrics: dict | None = None,
    trained_by=None,
    notes: str = "",
) -> ModelCheckpoint:
    """Register an uploaded weights file (.safetensors, .pth, .pt) or a .zip of a checkpoint
    folder (one top-level folder in it is the checkpoint; otherwise its files are) for `engine`.

    The name defaults to the file's name (a zip: its folder's). Raises ValidationError, keyed
    by "engine" or "file" where the fault is theirs, for an unknown engine or one without
    weights, a file of another kind, one over HERITAGE_MAX_UPLOAD_BYTES (unpacked too), an
    unsafe or broken zip, weights the engine's loader refuses, or a name already taken;
    nothing is stored then.
    """
    try:
        checkpoints.checkpoint_engine_check(engine=engine)
    except ValidationError as exc:
        raise ValidationError({"engine": exc.messages}) from exc
    # No file system takes a NUL in a name.
    filename = safe_upload_name((upload.name or "").replace("\0", ""))
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix not in (*WEIGHT_SUFFIXES, ARCHIVE_SUFFIX):
        raise ValidationError(
            {
                "file": f"{filename} is not a weights file: send a "
                f"{', '.join(WEIGHT_SUFFIXES)} file, or a {ARCHIVE_SUFFIX} of a checkpoint folder."
            }
        )
    limit = settings.HERITAGE_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError({"file": f"{filename} is over the upload limit of {limit:,} bytes."})
    staging = Path(
        tempfile.mkdtemp(prefix="checkpoint-upload-", dir=settings.FILE_UPLOAD_TEMP_DIR)
    ).resolve()
    try:
        if suffix == ARCHIVE_SUFFIX:
            location = _unpack(upload, staging, folder=PurePosixPath(filename).stem, limit=limit)
        else:
            location = staging / filename
            with location.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
        try:
            return checkpoints.checkpoint_register(
                location=location,
                engine=engine,
                # The model's name holds 200 characters; an uploaded file's up to 255.
                name=name or location.name[:NAME_LENGTH],
                default=default,
                config=config,
                training_data=training_data,
                steps=steps,
                losses=losses,
                metrics=metrics,
                trained_by=trained_by,
                notes=notes,
                verify=True,
            )
        except ValidationError as exc:
            messages = [message.replace(f"{staging}/", "") for message in exc.messages]
            code = getattr(exc, "code", None)
            field = {"name_taken": "name", "unloadable": "file"}.get(code or "")
            raise ValidationError({field: messages} if field else messages) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _unpack(upload: UploadedFile, staging: Path, *, folder: str, limit: int) -> Path:
    """Unpack the zip into staging/<folder> (or the zip's single top-level folder); its path.

    Raises ValidationError {"file": ...} for a file that is not a zip, members whose paths are
    absolute or climb out (".."), links, encrypted members, the same path twice, more than
    MAX_MEMBERS files, or more than `limit` bytes once unpacked (counted while writing, not
    taken from the zip's own claims).
    """

    def refuse(message: str) -> ValidationError:
        return ValidationError({"file": f"{upload.name}: {message}"})

    upload.seek(0)
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise refuse(f"not a readable zip file ({exc}).") from exc
    with archive:
        members = []
        seen: set[PurePosixPath] = set()
        for info in archive.infolist():
            relative = _member_path(info.filename)
            if relative is None:
                raise refuse(f"the member {info.filename!r} would be written outside its folder.")
            if relative.parts and relative.parts[0] in IGNORED_TOP:
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                raise refuse(f"the member {info.filename!r} is a link; send the file itself.")
            if info.is_dir() or not relative.parts:
                continue
            if info.flag_bits & 0x1:
                raise refuse(f"the member {info.filename!r} is encrypted.")
            if relative in seen:
                raise refuse(f"the member {info.filename!r} appears twice.")
            seen.add(relative)
            members.append((info, relative))
        if not members:
            raise refuse("the zip holds no files.")
        if len(members) > MAX_MEMBERS:
            raise refuse(f"{len(members)} files; a checkpoint has at most {MAX_MEMBERS}.")
        tops = {relative.parts[0] for _, relative in members}
        if len(tops) == 1 and all(len(relative.parts) > 1 for _, relative in members):
            # A zipped folder: the folder is the checkpoint, and names it.
            root, strip = staging / safe_upload_name(tops.pop()), 1
        else:
            root, strip = staging / (safe_upload_name(folder) or "checkpoint"), 0
        written = 0
        for info, relative in members:
            target = root.joinpath(*relative.parts[strip:])
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as source, target.open("xb") as out:
                    while chunk := source.read(checkpoints.CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise refuse(f"over the upload limit of {limit:,} bytes once unpacked.")
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                message = str(exc).replace(f"{staging}/", "")
                raise refuse(f"cannot unpack {info.filename!r} ({message}).") from exc
    return root


def _member_path(name: str) -> PurePosixPath | None:
    """The member's path relative to the folder it unpacks into; None when it would leave it
    (absolute, a drive, a "..")."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        return None
    parts = [part for part in path.parts if part not in ("", ".")]
    if ".." in parts:
        return None
    return PurePosixPath(*parts)
