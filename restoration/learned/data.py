"""Training data for learned inpainters: image collections with licences, crops, damage.

A training set is a list of `Source` images, each with its licence and sha256 (the data manifest
of a checkpoint). Every sample is a random crop with seed 003's augmentation (sec. 3.2.3: flips,
90-degree rotations, saturation, gamma, Gaussian noise), damaged by one of the three simulated
protocols (dust, jelly, blocks; heritage.masks) or by a mask file, and sometimes faded instead of
lost (a continuous mask, seed 002). All randomness comes from the numpy Generator passed in.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from heritage import masks as damage_masks
from restoration import priors

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
# Licences under which shipped weights may be trained (manifest "licence" column prefixes).
REDISTRIBUTABLE = ("CC0", "public domain", "Public domain", "CC BY ")
PROTOCOLS = ("blocks", "jelly", "dust")


@dataclass(frozen=True)
class Source:
    """One training image: where it came from, its licence and content hash."""

    name: str
    licence: str
    sha256: str
    image: np.ndarray  # (H, W, 3) uint8, longest side at most the loader's limit

    def manifest_entry(self) -> dict:
        return {"file": self.name, "sha256": self.sha256, "licence": self.licence}


def _load(path: Path, longest: int) -> tuple[np.ndarray, str]:
    data = path.read_bytes()
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = longest / max(image.size)
        if scale < 1:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.LANCZOS)
        return np.asarray(image, dtype=np.uint8).copy(), hashlib.sha256(data).hexdigest()


def _manifest_licences(folder: Path) -> dict[str, str]:
    """file name (relative to the manifest's folder) -> licence, from a manifest.csv if any."""
    for candidate in (folder / "manifest.csv", folder.parent / "manifest.csv"):
        if candidate.is_file():
            root = candidate.parent
            with candidate.open(newline="", encoding="utf-8") as handle:
                return {
                    str((root / row["file"]).resolve()): row.get("licence", "").strip()
                    for row in csv.DictReader(handle)
                    if row.get("file")
                }
    return {}


def load_folder(
    folder: str | Path,
    *,
    longest: int = 512,
    redistributable_only: bool = False,
    default_licence: str = "unknown",
    min_side: int = 32,
) -> list[Source]:
    """Images of a folder (not recursive), with licences from a manifest.csv beside or above it.

    With redistributable_only, images whose licence does not start with one of REDISTRIBUTABLE
    are left out (so shipped weights never learn from restricted images).
    Raises ValueError for a missing folder or one with no usable image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    licences = _manifest_licences(folder)
    sources = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        licence = licences.get(str(path.resolve()), default_licence)
        if redistributable_only and not licence.startswith(REDISTRIBUTABLE):
            continue
        try:
            image, sha = _load(path, longest)
        except OSError:
            continue
        if min(image.shape[:2]) < min_side:
            continue
        sources.append(Source(path.name, licence, sha, image))
    if not sources:
        raise ValueError(f"{folder} has no usable training image")
    return sources


def generated_sources(count: int, *, size: tuple[int, int] = (384, 256), first_seed: int = 10_000):
    """The project's own procedurally generated artworks, undamaged (licence: the project's)."""
    from heritage.demo import mural_panel, rock_art

    sources = []
    for i in range(count):
        make = mural_panel if i % 2 == 0 else rock_art
        art = make(seed=first_seed + i, width=size[0], height=size[1], damaged=False)
        image = np.asarray(art.image.convert("RGB"), dtype=np.uint8)
        sha = hashlib.sha256(image.tobytes()).hexdigest()
        sources.append(Source(f"generated:{make.__name__}:{first_seed + i}", "project", sha, image))
    return sources


def load_mask_folder(folder: str | Path) -> list[np.ndarray]:
    """Damage masks (255 = damaged) from a folder of PNGs, as uint8 arrays."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            with Image.open(path) as image:
                found.append((np.asarray(image.convert("L")) > 127).astype(np.uint8) * 255)
    if not found:
        raise ValueError(f"{folder} has no mask image")
    return found


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seed 003 sec. 3.2.3: flips, 90-degree rotations, saturation, gamma, Gaussian noise."""
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1]
    crop = np.rot90(crop, int(rng.integers(0, 4)))
    image = crop.astype(np.float32) / 255.0
    gray = image.mean(axis=2, keepdims=True)
    image = gray + (image - gray) * rng.uniform(0.75, 1.25)
    image = np.clip(image, 0, 1) ** rng.uniform(0.8, 1.25)
    if rng.random() < 0.3:
        image = image + rng.normal(0, rng.uniform(0.005, 0.02), image.shape)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size crop at a random scale: the shorter side drawn in [size, 4 * size] but
    never enlarged past the image's own resolution (unless the image is smaller than `size`),
    so crops range from whole-painting views to native-resolution detail."""
    h, w = image.shape[:2]
    short = min(h, w)
    target = min(rng.uniform(size, 4 * size), max(short, size))
    scale = target / short
    if abs(scale - 1) > 1e-3:
        image = cv2.resize(
            image,
            (max(size, round(w * scale)), max(size, round(h * scale))),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
        )
        h, w = image.shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return image[y : y + size, x : x + size]


def random_mask(
    size: int, rng: np.random.Generator, mask_files: list[np.ndarray] | None = None
) -> np.ndarray:
    """Damage strength in [0, 1], (size, size) float32: a protocol or a file, sometimes faded.

    Protocol masks are simulated on a virtual image of 1-2x the crop's side and cropped, so a
    model trained on small crops also sees the larger holes of a larger image. Blocks (the
    protocol of seed 000's benchmark) are drawn half of the time, jelly and dust a quarter each.
    """
    seed = int(rng.integers(0, 2**31 - 1))
    if mask_files and rng.random() < 0.25:
        source = mask_files[int(rng.integers(0, len(mask_files)))]
        binary = random_crop(np.repeat(source[..., None], 3, axis=2), size, rng)[..., 0]
        binary = np.where(binary > 127, 255, 0).astype(np.uint8)
    else:
        protocol = PROTOCOLS[int(rng.choice(3, p=[0.5, 0.25, 0.25]))]
        virtual = int(rng.integers(size, 2 * size + 1))
        full = damage_masks.simulate(protocol, width=virtual, height=virtual, seed=seed)
        y, x = (int(v) for v in rng.integers(0, virtual - size + 1, size=2))
        binary = full[y : y + size, x : x + size]
    if not binary.any():
        binary = damage_masks.simulate("blocks", width=size, height=size, seed=seed)
    strength = (binary > 127).astype(np.float32)
    if rng.random() < 0.15:
        # Fading (seed 002's continuous masks): the pigment is weakened, not lost.
        soft = cv2.GaussianBlur(strength, (0, 0), size / 32)
        strength = np.clip(soft * rng.uniform(0.3, 0.9), 0, 1)
        strength[strength < 0.05] = 0
        if not strength.any():
            strength = (binary > 127).astype(np.float32)
    return strength


def damage(image: np.ndarray, strength: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a camera sees: lost pixels black, faded pixels washed towards a pale ground."""
    ground = np.array(rng.uniform(0.75, 0.95, 3), np.float32) * 255
    faded = image.astype(np.float32) * (1 - strength[..., None]) + ground * strength[..., None]
    lost = strength >= 0.999
    faded[lost] = 0
    return faded.astype(np.uint8)


@dataclass
class Batch:
    clean: np.ndarray  # (B, 3, S, S) float32 in [-1, 1]
    known: np.ndarray  # (B, 3, S, S) observed image, damaged pixels attenuated, in [-1, 1]
    mask: np.ndarray  # (B, 1, S, S) damage strength in [0, 1]
    structure: np.ndarray  # (B, 2, S, S)
    texture: np.ndarray  # (B, 8, S, S)
    # (B, 3, S, S) classical fill of the damage in [-1, 1], for networks that take one
    coarse: np.ndarray | None = None


COARSE_FILLS = ("none", "telea", "harmonic")
# The `telea` engine's default neighbourhood radius: the coarse fill is that engine's output.
TELEA_RADIUS = 5


def coarse_fill(observed: np.ndarray, strength: np.ndarray, method: str = "telea") -> np.ndarray:
    """A classical fill of every damaged pixel, (3, H, W) float32 in [-1, 1].

    A smooth first guess of the damage from its border, computed from the intact pixels only;
    networks that take one (UNetConfig.coarse_fill) learn what to add to it. "telea": Telea's
    fast marching (the `telea` engine's output); "harmonic": membrane interpolation
    (restoration.engines.harmonic), smoother and closer on average inside large holes.
    """
    damaged = strength > 0
    if method == "telea":
        mask = damaged.astype(np.uint8) * 255
        filled = cv2.inpaint(np.ascontiguousarray(observed), mask, TELEA_RADIUS, cv2.INPAINT_TELEA)
        filled = filled.astype(np.float32)
    elif method == "harmonic":
        from restoration.engines.harmonic import harmonic_fill

        filled = harmonic_fill(observed, damaged)
    else:
        choices = ", ".join(COARSE_FILLS[1:])
        raise ValueError(f"Unknown coarse fill {method!r}; choose one of {choices}")
    return (filled / 127.5 - 1).transpose(2, 0, 1)


def model_inputs(observed: np.ndarray, strength: np.ndarray, *, coarse: str = "none") -> dict:
    """The network's conditioning for one image, channel-first float32 arrays keyed as `Batch`:
    known, mask, structure, texture and, unless `coarse` is "none", that coarse fill."""
    structure = priors.structure_prior(observed, strength)
    texture = priors.texture_prior(observed, strength)
    known = (observed.astype(np.float32) / 127.5 - 1) * (1 - strength[..., None])
    inputs = {
        "known": known.transpose(2, 0, 1),
        "mask": strength[None],
        "structure": structure.transpose(2, 0, 1),
        "texture": texture.transpose(2, 0, 1),
    }
    if coarse != "none":
        inputs["coarse"] = coarse_fill(observed, strength, coarse)
    return inputs


def source_weights(sources: list[Source], oversample: dict[str, float]) -> np.ndarray | None:
    """Sampling probabilities of the sources: an image whose file name matches a pattern of
    `oversample` (fnmatch, e.g. "dh_*") gets that weight (the first match), others 1.
    None when there is nothing to weight (every image equally likely).
    Raises ValueError for a weight that is not positive or a pattern that matches nothing."""
    if not oversample:
        return None
    weights = np.ones(len(sources))
    for pattern, weight in oversample.items():
        if not weight > 0:
            raise ValueError(f"oversample weight of {pattern!r} must be positive, got {weight}")
        if not any(fnmatch.fnmatch(source.name, pattern) for source in sources):
            raise ValueError(f"oversample pattern {pattern!r} matches no training image")
    for i, source in enumerate(sources):
        for pattern, weight in oversample.items():
            if fnmatch.fnmatch(source.name, pattern):
                weights[i] = weight
                break
    return weights / weights.sum()


def make_batch(
    sources: list[Source],
    *,
    batch: int,
    size: int,
    rng: np.random.Generator,
    mask_files: list[np.ndarray] | None = None,
    coarse: str = "none",
    weights: np.ndarray | None = None,
) -> Batch:
    """`batch` damaged crops of random sources (drawn with probabilities `weights`, or
    uniformly)."""
    parts: dict[str, list[np.ndarray]] = {}
    for _ in range(batch):
        if weights is None:
            source = sources[int(rng.integers(0, len(sources)))]
        else:
            source = sources[int(rng.choice(len(sources), p=weights))]
        clean = augment(random_crop(source.image, size, rng), rng)
        strength = random_mask(size, rng, mask_files)
        observed = damage(clean, strength, rng)
        sample = {"clean": clean.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1}
        sample.update(model_inputs(observed, strength, coarse=coarse))
        for key, value in sample.items():
            parts.setdefault(key, []).append(value)
    return Batch(**{key: np.stack(values) for key, values in parts.items()})
