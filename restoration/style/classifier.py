"""A small CNN that tells the blue-green landscape style (QingLvShanShui) from everything else.

It judges stylized photos for the deception rate (seed 003 Table 4; Sanakoyeu et al. 2018) and its
penultimate layer gives the features of KID (`features`). Positives: the target-style paintings.
Negatives: photos, other painting styles, and by default photos colour-transferred to the style
palette with Reinhard (`measure.reinhard`), as they are and blurred, so that neither the palette
alone nor the palette on a softened photo passes for the style.

Every image is seen with its shorter side at `SHORT_SIDE` pixels (longer side at most three times
that, centre-cropped): training takes random crops of it (random scale 0.75-1.25 and horizontal
flips), judging runs the whole picture (the network ends in global average pooling).
Held-out splits keep all files of one group together (`split_key`: every `spx0_NN*` file of
one Qianli Jiangshan crop index is one group).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from restoration.style import measure

SHORT_SIDE = 256
MAX_ASPECT = 3
GROUPS = ("style", "photo", "other")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
WEIGHTS, CONFIG = "classifier.safetensors", "classifier.json"
THRESHOLD = 0.5


@dataclass(frozen=True)
class Example:
    """One real image: its file name, group (style, photo, other) and a label for reports."""

    name: str
    group: str
    image: np.ndarray  # (H, W, 3) uint8 RGB, already `prepare`d
    subset: str = ""
    sha256: str = ""

    @property
    def label(self) -> int:
        return int(self.group == "style")


@dataclass
class ClassifierOptions:
    """Training settings of `train_classifier`."""

    size: int = 128  # crop side
    short_side: int = SHORT_SIDE  # images are prepared (and judged) at this shorter side
    steps: int = 1200
    batch: int = 16
    lr: float = 2e-3
    width: int = 24  # channels of the first stage (x2 per stage, four stages)
    seed: int = 0
    colour_negatives: bool = True
    # Colour-transferred photos also smoothed (Gaussian blur, sigma 1-3 px at crop scale): a
    # blurred photo in the style palette is not the style either. Only with colour_negatives.
    smooth_negatives: bool = True
    threads: int | None = None
    extra: dict = field(default_factory=dict)


class StyleCNN(nn.Module):
    """Four stride-2 stages of two 3x3 conv + batch norm + ReLU, global average pooling, a logit.

    Input (N, 3, H, W) float in [0, 1], any H, W >= 16; `features` gives (N, 8 * width).
    """

    def __init__(self, width: int = 24, short_side: int = SHORT_SIDE) -> None:
        super().__init__()
        self.width = width
        self.short_side = short_side  # `probabilities` and `features` prepare images to it
        layers: list[nn.Module] = []
        channels = [3, width, 2 * width, 4 * width, 8 * width]
        for before, after in zip(channels, channels[1:], strict=False):
            layers += [
                nn.Conv2d(before, after, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(after),
                nn.ReLU(inplace=True),
                nn.Conv2d(after, after, 3, padding=1, bias=False),
                nn.BatchNorm2d(after),
                nn.ReLU(inplace=True),
            ]
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(8 * width, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - 0.5) / 0.25).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x))).squeeze(1)


def prepare(image: np.ndarray, short_side: int = SHORT_SIDE) -> np.ndarray:
    """The image as the classifier sees it: shorter side `short_side`, aspect at most 3:1.

    image: (H, W, 3) uint8 RGB. Returns a new contiguous uint8 array. Raises ValueError.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    scale = short_side / min(height, width)
    size = (max(short_side, round(width * scale)), max(short_side, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(image, size, interpolation=interpolation)
    height, width = image.shape[:2]
    limit = MAX_ASPECT * short_side
    top, left = max(0, (height - limit) // 2), max(0, (width - limit) // 2)
    return np.ascontiguousarray(image[top : top + limit, left : left + limit])


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file. Raises ValueError for a file that is no image."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"{path} is not a readable image: {exc}") from exc


def image_files(paths: Iterable[Path]) -> list[Path]:
    """Image files among `paths`, folders expanded (not recursive), sorted, without duplicates.

    Raises ValueError for a path that does not exist or a folder without an image.
    """
    found: dict[Path, None] = {}
    for path in paths:
        path = Path(path)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise ValueError(f"{path} holds no image")
            found.update(dict.fromkeys(inside))
        elif path.is_file():
            found[path] = None
        else:
            raise ValueError(f"{path} does not exist")
    return list(found)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_examples(
    paths: Iterable[Path], group: str, subset: str = "", short_side: int = SHORT_SIDE
) -> list[Example]:
    """Examples of `group` from image files and folders. Raises ValueError for a bad path/file."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    return [
        Example(
            path.name,
            group,
            prepare(read_image(path), short_side),
            subset or group,
            file_sha256(path),
        )
        for path in image_files(paths)
    ]


def split_key(name: str) -> str:
    """The group a file belongs to when splitting: `..._spx0_NN...` crops share one key."""
    match = re.search(r"spx0_(\d+)", name)
    return f"spx0_{match.group(1)}" if match else Path(name).stem


def held_out_keys(names: Iterable[str], fraction: float, *, salt: str = "style-classifier"):
    """The split keys of `names` that go to the held-out side: round(fraction * keys) of them,
    chosen by a hash of the key (so the same file always lands on the same side)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"the held-out fraction must be in [0, 1), got {fraction}")
    keys = sorted({split_key(name) for name in names})
    ranked = sorted(keys, key=lambda key: hashlib.sha256(f"{salt}:{key}".encode()).hexdigest())
    return set(ranked[: round(fraction * len(keys))])


def split(examples: list[Example], fraction: float) -> tuple[list[Example], list[Example]]:
    """(train, test) with whole split groups on one side, `fraction` of the groups per group."""
    train, test = [], []
    for group in GROUPS:
        members = [e for e in examples if e.group == group]
        held = held_out_keys((e.name for e in members), fraction)
        for example in members:
            (test if split_key(example.name) in held else train).append(example)
    return train, test


def _crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    scale = rng.uniform(0.75, 1.25)
    height, width = image.shape[:2]
    scale = max(scale, (size + 1) / min(height, width))
    resized = cv2.resize(
        image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
    )
    top = int(rng.integers(0, resized.shape[0] - size + 1))
    left = int(rng.integers(0, resized.shape[1] - size + 1))
    crop = resized[top : top + size, left : left + size]
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def _tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


def train_classifier(
    examples: list[Example],
    options: ClassifierOptions,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[StyleCNN, dict]:
    """Train a StyleCNN on `examples` (training side only) and return it with its metadata.

    Each batch is half style crops, half negatives: photos, other paintings and, with
    options.colour_negatives, photos Reinhard-transferred to the Lab statistics of a random style
    training image, and with options.smooth_negatives such photos blurred too (a quarter each;
    without colour negatives, half photos and half others).
    `on_step(step, total, loss)` is called after each step. The metadata holds the options, the
    pooled Lab palette of the style images (the Reinhard baseline's target), the training files
    and the seconds spent. Raises ValueError when a group has no example.
    """
    by_group = {group: [e for e in examples if e.group == group] for group in GROUPS}
    missing = [group for group, members in by_group.items() if not members]
    if missing:
        raise ValueError(f"no training image of group(s): {', '.join(missing)}")
    if options.threads:
        torch.set_num_threads(options.threads)
    rng = np.random.default_rng(options.seed)
    torch.manual_seed(options.seed)
    style_palettes = [measure.lab_statistics(e.image) for e in by_group["style"]]
    kinds = ["photo", "reinhard", "other"] if options.colour_negatives else ["photo", "other"]
    if options.colour_negatives and options.smooth_negatives:
        kinds.append("smoothed")
    model = StyleCNN(options.width, options.short_side)
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=options.lr, total_steps=options.steps, pct_start=0.15
    )
    model.train()
    started = time.perf_counter()
    losses: list[float] = []
    for step in range(options.steps):
        crops, labels = [], []
        for index in range(options.batch):
            if index % 2 == 0:
                source = by_group["style"][rng.integers(len(by_group["style"]))]
                crops.append(_crop(source.image, options.size, rng))
                labels.append(1.0)
                continue
            kind = kinds[rng.integers(len(kinds))]
            members = by_group["other" if kind == "other" else "photo"]
            crop = _crop(members[rng.integers(len(members))].image, options.size, rng)
            if kind in ("reinhard", "smoothed"):
                target = style_palettes[rng.integers(len(style_palettes))]
                crop = measure.reinhard(np.ascontiguousarray(crop), target)
            if kind == "smoothed":
                crop = cv2.GaussianBlur(crop, (0, 0), rng.uniform(1.0, 3.0))
            crops.append(crop)
            labels.append(0.0)
        logits = model(_tensor([np.ascontiguousarray(c) for c in crops]))
        loss = F.binary_cross_entropy_with_logits(logits, torch.tensor(labels))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step + 1, options.steps, losses[-1])
    model.eval()
    meta = {
        "architecture": {"width": options.width, "short_side": options.short_side},
        "threshold": THRESHOLD,
        "palette": measure.palette([e.image for e in by_group["style"]]).as_json(),
        "options": asdict(options),
        "seconds": round(time.perf_counter() - started, 1),
        "final_loss": float(np.mean(losses[-20:])),
        "training_data": [{"file": e.name, "group": e.group, "sha256": e.sha256} for e in examples],
    }
    return model, meta


@torch.no_grad()
def _run(model: StyleCNN, images: Iterable[np.ndarray], what: str) -> np.ndarray:
    model.eval()
    rows = []
    for image in images:
        x = _tensor([prepare(image, model.short_side)])
        if what == "features":
            rows.append(model.features(x)[0].numpy())
        else:
            rows.append(float(torch.sigmoid(model(x))[0]))
    return np.asarray(rows, dtype=np.float64)


def probabilities(model: StyleCNN, images: Iterable[np.ndarray]) -> np.ndarray:
    """The target-style probability of each (H, W, 3) uint8 RGB image, any size, shape (n,)."""
    return _run(model, images, "probabilities")


def features(model: StyleCNN, images: Iterable[np.ndarray]) -> np.ndarray:
    """The penultimate (globally pooled) features of each image, shape (n, 8 * width)."""
    return _run(model, images, "features")


def evaluate(model: StyleCNN, examples: list[Example]) -> dict:
    """Accuracy on labelled examples: overall, balanced (mean of style and non-style recall)
    and per subset ({subset: {"n", "correct", "accuracy"}}). Raises ValueError when empty."""
    if not examples:
        raise ValueError("no held-out example to evaluate on")
    predicted = probabilities(model, [e.image for e in examples]) >= THRESHOLD
    correct = predicted == np.array([bool(e.label) for e in examples])
    subsets: dict[str, dict] = {}
    for example, right in zip(examples, correct, strict=True):
        entry = subsets.setdefault(example.subset or example.group, {"n": 0, "correct": 0})
        entry["n"] += 1
        entry["correct"] += int(right)
    for entry in subsets.values():
        entry["accuracy"] = entry["correct"] / entry["n"]
    recalls = [
        float(np.mean([c for c, e in zip(correct, examples, strict=True) if e.label == label]))
        for label in (0, 1)
        if any(e.label == label for e in examples)
    ]
    return {
        "n": len(examples),
        "accuracy": float(np.mean(correct)),
        "balanced_accuracy": float(np.mean(recalls)),
        "subsets": subsets,
        "files": [
            {"file": e.name, "subset": e.subset or e.group, "correct": bool(c)}
            for e, c in zip(examples, correct, strict=True)
        ],
    }


def save(folder: Path, model: StyleCNN, meta: dict) -> None:
    """Write classifier.safetensors and classifier.json into `folder` (created if missing)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / WEIGHTS)
    (folder / CONFIG).write_text(json.dumps(meta, indent=1) + "\n")


def load(folder: Path) -> tuple[StyleCNN, dict]:
    """A saved classifier (eval mode) and its metadata.

    Raises ValueError when the folder lacks classifier.safetensors or classifier.json, or they
    do not describe a StyleCNN.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / WEIGHTS).is_file() or not (folder / CONFIG).is_file():
        raise ValueError(
            f"{folder} is not a style classifier folder (needs {WEIGHTS} and {CONFIG}; "
            "make one with `manage.py train_style_classifier`)"
        )
    try:
        meta = json.loads((folder / CONFIG).read_text())
        architecture = meta["architecture"]
        model = StyleCNN(int(architecture["width"]), int(architecture["short_side"]))
        model.load_state_dict(load_file(folder / WEIGHTS))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{folder}: not a readable style classifier ({exc})") from exc
    model.eval()
    return model, meta


def train_from_folders(
    *,
    style: list[Path],
    photos: list[Path],
    other: list[Path],
    out: Path,
    options: ClassifierOptions,
    test_style: list[Path] = (),
    test_other: list[Path] = (),
    held_out_photos: list[Path] = (),
    fraction: float = 0.2,
    on_step: Callable[[int, int, float], None] | None = None,
) -> dict:
    """Split, train, evaluate on the held-out real images, save to `out`; returns the metadata.

    style/photos/other: files or folders; `fraction` of each group's split keys is held out.
    test_style/test_other: extra images only ever tested on. held_out_photos: photos that must
    never be trained on (the style GANs' held-out photos, whose stylized versions the deception
    rate judges): any photo with the same content hash goes to the test side, and these photos
    are tested on too. Raises ValueError for missing or unreadable inputs.
    """
    side = options.short_side
    examples = (
        load_examples(style, "style", short_side=side)
        + load_examples(photos, "photo", short_side=side)
        + load_examples(other, "other", short_side=side)
    )
    train, test = split(examples, fraction)
    if held_out_photos:
        reserved = load_examples(held_out_photos, "photo", "photo (GAN held-out)", side)
        hashes = {e.sha256 for e in reserved}
        train = [e for e in train if e.sha256 not in hashes]
        test = [e for e in test if e.sha256 not in hashes] + reserved
    if test_style:
        test += load_examples(test_style, "style", "style (extra)", side)
    if test_other:
        test += load_examples(test_other, "other", "other (extra)", side)
    model, meta = train_classifier(train, options, on_step=on_step)
    meta["held_out"] = evaluate(model, test)
    meta["held_out_fraction"] = fraction
    save(out, model, meta)
    return meta
