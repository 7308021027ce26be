"""Unpaired training images for style transfer: two domains, resized, random crops and flips.

A domain is a folder of images (not recursive; symlinks followed) or a text file listing image
paths, one a line (relative paths are taken from the list's folder, `#` starts a comment). Every
image is decoded once, resized so its shorter side is `load_size` (keeping its aspect, unlike
the originals' square resize, so landscapes are not squashed), and kept in memory; a sample is a
random `size` x `size` crop, flipped left-right half of the time. All randomness comes from the
numpy Generator passed in.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}


@dataclass(frozen=True)
class StyleImage:
    """One training image, resized, with its provenance for the checkpoint's data manifest."""

    file: str
    sha256: str
    licence: str
    pixels: np.ndarray  # (H, W, 3) uint8, shorter side = load_size

    def manifest_entry(self) -> dict:
        return {"file": self.file, "sha256": self.sha256, "licence": self.licence}


@cache
def _manifest(path: Path) -> dict[str, str]:
    """Resolved file path -> licence, from a manifest.csv (file, licence|license columns)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            str((path.parent / row["file"]).resolve()): (
                row.get("licence") or row.get("license") or ""
            ).strip()
            for row in csv.DictReader(handle)
            if row.get("file")
        }


@cache
def _split_licences(path: Path) -> dict[str, str]:
    """File name -> licence, from a split.json written by bench/style_split.py."""
    entries = json.loads(path.read_text(encoding="utf-8")).get("files", [])
    return {entry["name"]: entry.get("licence", "") for entry in entries if "name" in entry}


def licence_of(path: Path) -> str:
    """The licence recorded for an image: a split.json above its folder, else a manifest.csv
    beside or above the file it points to, else "unknown"."""
    split = path.parent.parent / "split.json"
    if split.is_file():
        licence = _split_licences(split).get(path.name)
        if licence is not None:
            return licence
    target = path.resolve()
    for folder in (target.parent, target.parent.parent):
        manifest = folder / "manifest.csv"
        if manifest.is_file():
            licence = _manifest(manifest).get(str(target))
            if licence is not None:
                return licence
    return "unknown"


def list_images(source: str | Path) -> list[Path]:
    """Image paths of a folder or a list file, sorted (folders) or in list order.

    Raises ValueError for a missing source, a listed file that does not exist, or no image.
    """
    source = Path(source)
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif source.is_file():
        paths = []
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            path = Path(line) if Path(line).is_absolute() else source.parent / line
            if not path.is_file():
                raise ValueError(f"{source}, line {number}: {path} does not exist")
            paths.append(path)
    else:
        raise ValueError(f"{source} is neither a folder nor a list of images")
    if not paths:
        raise ValueError(
            f"{source} holds no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return paths


def load_image(path: Path, *, load_size: int, size: int) -> StyleImage:
    """Decode and resize one image. Raises ValueError if it is no image or smaller than `size`
    after resizing."""
    data = path.read_bytes()
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            scale = load_size / min(image.size)
            shape = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(shape, Image.BICUBIC)
            pixels = np.asarray(image, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path} is not a readable image: {exc}") from exc
    if min(pixels.shape[:2]) < size:
        raise ValueError(f"{path}: {pixels.shape[1]}x{pixels.shape[0]} after resizing < {size}")
    return StyleImage(path.name, hashlib.sha256(data).hexdigest(), licence_of(path), pixels)


def load_domain(sources: list[str | Path], *, load_size: int, size: int) -> list[StyleImage]:
    """All images of some folders/list files. Raises ValueError (naming the file) for bad input."""
    if load_size < size:
        raise ValueError(f"load_size ({load_size}) must be at least the crop size ({size})")
    if not sources:
        raise ValueError("no image folder given")
    images = []
    for source in sources:
        images += [load_image(p, load_size=load_size, size=size) for p in list_images(source)]
    return images


def random_crop(image: StyleImage, *, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random size x size crop, flipped left-right with probability 1/2: (size, size, 3)."""
    height, width = image.pixels.shape[:2]
    top = int(rng.integers(0, height - size + 1))
    left = int(rng.integers(0, width - size + 1))
    crop = image.pixels[top : top + size, left : left + size]
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def center_crop(image: StyleImage, *, size: int) -> np.ndarray:
    height, width = image.pixels.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    return image.pixels[top : top + size, left : left + size]


def to_tensor_batch(crops: list[np.ndarray]) -> np.ndarray:
    """(N, 3, S, S) float32 in [-1, 1] from uint8 crops."""
    stacked = np.stack([np.ascontiguousarray(c) for c in crops]).astype(np.float32)
    return (stacked / 127.5 - 1.0).transpose(0, 3, 1, 2).copy()


def sample_batch(
    images: list[StyleImage], *, batch: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """`batch` random crops of randomly chosen images, as to_tensor_batch."""
    picks = rng.integers(0, len(images), size=batch)
    return to_tensor_batch([random_crop(images[i], size=size, rng=rng) for i in picks])
