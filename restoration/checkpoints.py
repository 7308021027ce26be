"""Model checkpoints: registering weights (a file, a folder, a Hugging Face id) and local paths.

Storage layout (the choice for folders): a folder, such as a diffusers model, is stored file by
file under one prefix, `checkpoints/<engine>/<sha256[:16]>/<relative path>`, listed with each
file's sha256 and size in `ModelCheckpoint.files`; a single file is stored as
`checkpoints/<engine>/<sha256[:16]>/<file name>`. With local storage (FileSystemStorage) engines
read the stored files where they are; with remote storage (S3) `local_path` first copies them to
`settings.HERITAGE_MODEL_CACHE/<sha256>/`, once per worker, checking every file's hash.

The hash of a folder is the sha256 of its sorted listing, one line per file:
`<relative path with "/">\\0<sha256 of the file>\\n`; so it changes with any file's content or
name and does not depend on file system order or timestamps.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from restoration.engines.base import EngineError
from restoration.engines.registry import registry
from restoration.models import ModelCheckpoint

CHUNK = 1 << 20
# owner/name as on the Hugging Face hub (letters, digits, - _ .), optionally @revision.
HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
# Files a folder of weights never needs: version control and caches.
SKIPPED = {".git", "__pycache__", ".DS_Store"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_files(folder: Path) -> list[dict[str, Any]]:
    """[{"path": relative posix path, "sha256", "size"}] of a folder's files, sorted by path.

    Symbolic links to files are followed (Hugging Face caches are made of them); version
    control and cache folders are skipped.
    """
    listed = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        for name in names:
            if name in SKIPPED:
                continue
            path = Path(root) / name
            if not path.is_file():
                continue
            listed.append(
                {
                    "path": path.relative_to(folder).as_posix(),
                    "sha256": file_sha256(path),
                    "size": path.stat().st_size,
                }
            )
    return sorted(listed, key=lambda entry: entry["path"])


def listing_sha256(files: list[dict[str, Any]]) -> str:
    """The folder hash of a listing from `folder_files` (see the module's docstring)."""
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda item: item["path"]):
        digest.update(f"{entry['path']}\0{entry['sha256']}\n".encode())
    return digest.hexdigest()


def folder_sha256(folder: Path) -> str:
    return listing_sha256(folder_files(folder))


def by_engine() -> dict[str, list[ModelCheckpoint]]:
    """Every checkpoint grouped by engine name, the default first, then newest first."""
    grouped: dict[str, list[ModelCheckpoint]] = {}
    for checkpoint in ModelCheckpoint.objects.order_by(
        "engine", "-is_default", "-created_at", "-id"
    ):
        grouped.setdefault(checkpoint.engine, []).append(checkpoint)
    return grouped


def checkpoint_list(*, engine: str | None = None) -> QuerySet[ModelCheckpoint]:
    """Checkpoints by engine, each engine's default first, then newest first; `engine`'s only
    when given."""
    checkpoints = ModelCheckpoint.objects.select_related("trained_by").order_by(
        "engine", "-is_default", "-created_at", "-id"
    )
    return checkpoints.filter(engine=engine) if engine else checkpoints


def training_data_summary(training_data: dict) -> dict[str, Any]:
    """What a checkpoint was trained on, in brief: for each list of files in its manifest
    (`files`, `domain_a`, `images`...), how many and under which licences.

    {"sets": {"domain_a": {"items": 120, "licences": {"CC0": 100, "not stated": 20}}}}; entries
    without a licence count as "not stated".
    """
    sets: dict[str, dict[str, Any]] = {}
    for key, value in (training_data or {}).items():
        if not isinstance(value, list):
            continue
        licences: dict[str, int] = {}
        for entry in value:
            licence = (
                (entry.get("licence") or entry.get("license")) if isinstance(entry, dict) else ""
            )
            licence = str(licence or "not stated")
            licences[licence] = licences.get(licence, 0) + 1
        sets[key] = {"items": len(value), "licences": licences}
    return {"sets": sets}


def looks_like_hf_id(text: str) -> bool:
    """True for "owner/name" (optionally "@revision") that is not written like a path."""
    return bool(HF_ID.match(text)) and not text.startswith((".", "/", "~"))


def parse_json_argument(value: str | dict | None, what: str) -> dict:
    """A dict from JSON text, a path to a .json file, or a dict. Raises ValidationError."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    text = value
    if value.strip().endswith(".json") and not value.strip().startswith("{"):
        try:
            text = Path(value).expanduser().read_text()
        except OSError as exc:
            raise ValidationError(f"Cannot read the {what} file {value}: {exc}") from exc
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"The {what} is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ValidationError(f"The {what} must be a JSON object, got {type(parsed).__name__}")
    return parsed


def checkpoint_engine_check(*, engine: str) -> None:
    """Raises ValidationError unless `engine` is a registered engine that takes weights."""
    try:
        cls = registry().engine_class(engine)
    except EngineError as exc:
        raise ValidationError(str(exc)) from exc
    if not cls.needs_weights:
        raise ValidationError(f"Engine {engine!r} uses no weights; it takes no checkpoint.")


def checkpoint_register(
    *,
    location: str | Path,
    engine: str,
    name: str = "",
    default: bool = False,
    copy: bool = True,
    config: dict | None = None,
    training_data: dict | None = None,
    steps: int | None = None,
    losses: dict | None = None,
    metrics: dict | None = None,
    trained_by=None,
    notes: str = "",
    verify: bool = False,
) -> ModelCheckpoint:
    """Register weights as a ModelCheckpoint of `engine` and return it.

    location: a local file or folder (hashed once, then copied into storage unless
    copy=False, which records the path as `source`), or a Hugging Face model id "owner/name"
    (recorded as `source`, not hashed: the product never downloads weights). default=True
    makes it the engine's default checkpoint (the previous default stops being one).
    config: the architecture; when not given, a folder's top-level config.json is read.
    verify=True first loads local weights with the engine's own loader (checkpoint_verify).
    Raises ValidationError for an unknown engine, an engine that takes no weights, a missing
    path, an empty folder, a name already used for this engine, or (verify) weights the
    engine cannot load. Nothing stays in storage when it raises.
    """
    checkpoint_engine_check(engine=engine)
    text = str(location)
    path = Path(text).expanduser()
    fields: dict[str, Any] = {}
    if path.exists():
        path = path.resolve()
        if path.is_dir():
            files = folder_files(path)
            if not files:
                raise ValidationError(f"The folder {path} holds no files.")
            fields.update(
                is_folder=True,
                files=files,
                sha256=listing_sha256(files),
                size=sum(entry["size"] for entry in files),
            )
        elif path.is_file():
            sha = file_sha256(path)
            fields.update(
                is_folder=False,
                files=[{"path": path.name, "sha256": sha, "size": path.stat().st_size}],
                sha256=sha,
                size=path.stat().st_size,
            )
        else:
            raise ValidationError(f"{path} is neither a file nor a folder.")
        name = name or path.name
        if config is None and (path / "config.json").is_file():
            config = parse_json_argument(str(path / "config.json"), "config.json")
    elif looks_like_hf_id(text):
        fields.update(source=text, is_folder=True)
        name = name or text
    else:
        raise ValidationError(f"No such file or folder: {text}")
    if ModelCheckpoint.objects.filter(engine=engine, name=name).exists():
        raise ValidationError(
            f"Engine {engine!r} already has a checkpoint named {name!r}; choose another --name.",
            code="name_taken",
        )
    checkpoint = ModelCheckpoint(
        engine=engine,
        name=name,
        config=config or {},
        training_data=training_data or {},
        steps=steps,
        losses=losses or {},
        metrics=metrics or {},
        trained_by=trained_by,
        notes=notes,
        **fields,
    )
    if verify and not checkpoint.source:
        checkpoint_verify(path=path, engine=engine)
    stored: list[str] = []
    try:
        if not checkpoint.source:
            if copy:
                prefix = f"checkpoints/{engine}/{checkpoint.sha256[:16]}"
                if checkpoint.is_folder:
                    checkpoint.weights = prefix
                    for entry in checkpoint.files:
                        _store(path / entry["path"], f"{prefix}/{entry['path']}", stored)
                else:
                    checkpoint.weights = _store(path, f"{prefix}/{path.name}", stored)
            else:
                checkpoint.source = str(path)
        with transaction.atomic():
            if default:
                ModelCheckpoint.objects.filter(engine=engine, is_default=True).update(
                    is_default=False
                )
                checkpoint.is_default = True
            checkpoint.save()
    except BaseException as exc:
        for stored_name in stored:
            default_storage.delete(stored_name)
        if isinstance(exc, IntegrityError):
            # Another registration for this engine took the name or the default meanwhile.
            raise ValidationError(
                f"Engine {engine!r} got a checkpoint named {name!r} or a new default while "
                "these weights were registered; try again."
            ) from exc
        raise
    return checkpoint


def checkpoint_verify(*, path: Path, engine: str) -> None:
    """Load the weights at `path` with the engine's own loader on the CPU, then release them.

    The engine gets its OPTIONS from settings, as a worker would (an engine configured for
    float16 refuses the CPU, and so refuses every check). Raises ValidationError with the
    loader's own message when it cannot load them.
    """
    engines = registry()
    try:
        cls = engines.engine_class(engine)
        loaded = cls(options=engines.options(engine), checkpoint=str(path), device="cpu")
    except EngineError as exc:
        raise ValidationError(
            f"Engine {engine!r} cannot load these weights: {exc}", code="unloadable"
        ) from exc
    except Exception as exc:  # what a loader of files made elsewhere raises varies
        raise ValidationError(
            f"Engine {engine!r} cannot load these weights: {type(exc).__name__}: {exc}",
            code="unloadable",
        ) from exc
    loaded.close()


def _store(path: Path, name: str, stored: list[str]) -> str:
    """Save a local file into default storage under `name`, appending new names to `stored`.

    The prefix holds the content's hash, so a file already there (the same weights registered
    under another name) is the same bytes and is shared, not copied again.
    """
    if default_storage.exists(name):
        return name
    with path.open("rb") as handle:
        saved = default_storage.save(name, File(handle, name=path.name))
    stored.append(saved)
    if saved != name:
        raise ValidationError(f"Storage renamed {name} to {saved}; cannot keep the layout.")
    return saved


def local_path(checkpoint: ModelCheckpoint | None) -> str | None:
    """What engines receive as `checkpoint`: a local file or folder path, or a Hugging Face id.

    Local storage: the stored file or folder itself. Remote storage: a copy in
    HERITAGE_MODEL_CACHE/<sha256>/, made once (every file's hash checked; an interrupted copy
    is never used). `source` checkpoints: the path or id as registered. None for None.
    Raises EngineError when stored weights are missing or do not match their hash.
    """
    if checkpoint is None:
        return None
    if checkpoint.source:
        return checkpoint.source
    try:
        local = Path(default_storage.path(checkpoint.weights))
    except NotImplementedError:
        local = None
    if local is not None:
        if not local.exists():
            raise EngineError(f"The weights of checkpoint {checkpoint} are missing: {local}")
        return str(local)
    return str(_materialise(checkpoint))


def _materialise(checkpoint: ModelCheckpoint) -> Path:
    cache = Path(settings.HERITAGE_MODEL_CACHE) / checkpoint.sha256
    target = cache / (checkpoint.files[0]["path"] if not checkpoint.is_folder else "model")
    if target.exists():
        return target
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{checkpoint.sha256[:16]}-", dir=cache.parent))
    try:
        root = staging / "model" if checkpoint.is_folder else staging
        for entry in checkpoint.files:
            name = (
                f"{checkpoint.weights}/{entry['path']}"
                if checkpoint.is_folder
                else checkpoint.weights
            )
            destination = root / entry["path"]
            destination.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with default_storage.open(name, "rb") as source, destination.open("wb") as out:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != entry["sha256"]:
                raise EngineError(
                    f"The stored file {name} of checkpoint {checkpoint} does not match its "
                    "sha256: the weights were changed or damaged after registration"
                )
        try:
            os.rename(staging, cache)
        except OSError:
            # Another worker finished the same copy first: theirs is as good as ours.
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
