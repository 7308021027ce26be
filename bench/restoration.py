"""Times every registered restoration engine on real murals under simulated damage, with quality.

Run: .venv/bin/python bench/restoration.py [--data ../shared/data] [--out docs/benchmarks.md]
     [--sizes 256 512] [--engines telea ...] [--images 6] [--repeats 3]
Centre crops of real mural images get dust-, jelly- and block-like damage (heritage.masks, fixed
seeds); each engine restores them with its default parameters on the CPU through
restoration.pipeline, and restoration.metrics compares the result with the undamaged crop.
Writes its section of docs/benchmarks.md and, when matplotlib is installed (the `bench` extra),
docs/benchmarks-restoration.png.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The engines are those of settings.RESTORATION_ENGINES, read by the one registry.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heritage.settings")
import django  # noqa: E402

django.setup()
from django.conf import settings  # noqa: E402

from bench._report import write_section  # noqa: E402
from heritage import imaging, masks  # noqa: E402
from restoration import metrics, pipeline  # noqa: E402
from restoration.engines.registry import Registry, registry  # noqa: E402

MARKER = "<!-- bench/restoration.py -->"
PROTOCOLS = ("dust", "jelly", "blocks")
ENGINE_SEED = 0
# Files in murals/ that are not photographs of a mural: line drawings and model outputs.
DERIVED = ("_linedrawing", "restored_by_model", "vqvae")
# Murals photographed with their real damage: the damage would count as ground truth.
REAL_DAMAGE = "_damaged"
SUFFIXES = {".jpg", ".jpeg", ".png"}
# (metric group, metric name, column title, higher is better)
COLUMNS = (
    ("damaged", "psnr", "PSNR", True),
    ("damaged", "ssim", "SSIM", True),
    ("damaged", "haarpsi", "HaarPSI", True),
    ("damaged", "mae", "MAE", False),
    ("damaged", "mse", "MSE", False),
    ("whole", "psnr", "PSNR whole", True),
    ("whole", "ssim", "SSIM whole", True),
)


@dataclass
class Cell:
    """Per-image measurements of one engine, crop size and damage protocol."""

    seconds: list[float] = field(default_factory=list)
    scores: list[dict[str, dict[str, float | None]]] = field(default_factory=list)
    tv_ratio: list[float] = field(default_factory=list)

    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    def mean(self, group: str, name: str) -> tuple[float, int]:
        """Mean over images, and how many images had no value (infinite or undefined)."""
        values = [s[group][name] for s in self.scores]
        present = [v for v in values if v is not None]
        return (statistics.fmean(present) if present else math.nan), len(values) - len(present)


def pick_images(murals: Path, count: int, side: int) -> list[Path]:
    """`count` mural files, real undamaged murals at least `side` pixels on the short side first.

    Line drawings, model outputs and murals with real damage come last, used only to reach
    `count`; Dunhuang wall paintings (dh_*) come before the scroll paintings.
    """

    def rank(path: Path) -> tuple:
        with Image.open(path) as image:
            short = min(image.size)
        name = path.name
        return (
            any(part in name for part in DERIVED),
            REAL_DAMAGE in name,
            short < side,
            not name.startswith("dh_"),
            name,
        )

    files = sorted(p for p in murals.iterdir() if p.suffix.lower() in SUFFIXES)
    return sorted(files, key=rank)[:count]


def load(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB, decoded and oriented as an upload would be."""
    with path.open("rb") as handle:
        return np.asarray(imaging.inspect(handle, max_pixels=150_000_000).rgb)


def centre_crop(image: np.ndarray, side: int) -> tuple[np.ndarray, bool]:
    """Centre side x side crop; an image too small is first enlarged (short side = side).

    Returns the crop and whether it was enlarged.
    """
    height, width = image.shape[:2]
    enlarged = min(height, width) < side
    if enlarged:
        scale = side / min(height, width)
        size = (max(side, round(width * scale)), max(side, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
        height, width = image.shape[:2]
    top, left = (height - side) // 2, (width - side) // 2
    return np.ascontiguousarray(image[top : top + side, left : left + side]), enlarged


def machine() -> str:
    """CPU model, logical CPUs, OS and library versions, for the report."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} logical CPUs ({platform.machine()}, {platform.system()}), "
        f"{platform.python_implementation()} {platform.python_version()}, NumPy {np.__version__}, "
        f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads); CPU only"
    )


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def run_bench(
    images: list[tuple[str, np.ndarray]],
    *,
    engines: list[str],
    sizes: list[int],
    repeats: int,
) -> tuple[dict[tuple[str, int, str], Cell], dict[tuple[int, str], float], list[str]]:
    """Restore every crop with every engine; returns cells, mean damaged share, enlarged notes."""
    # Every engine stays loaded for the whole run: the settings' engines, without the
    # per-worker bound on loaded models.
    bench_registry = Registry(settings.RESTORATION_ENGINES, max_loaded=len(engines))
    loaded = {name: bench_registry.get(name, device="cpu") for name in engines}
    cells = {(e, s, p): Cell() for e in engines for s in sizes for p in PROTOCOLS}
    coverage: dict[tuple[int, str], list[float]] = {(s, p): [] for s in sizes for p in PROTOCOLS}
    enlarged_notes = []

    # One untimed restore per engine pays imports, allocations and OpenCV's thread pool start.
    warm_crop, _ = centre_crop(images[0][1], min(sizes))
    warm_mask = masks.simulate("dust", width=min(sizes), height=min(sizes), seed=0)
    for engine in loaded.values():
        pipeline.run(engine, warm_crop, warm_mask, seed=ENGINE_SEED, params=None)

    total = len(images) * len(sizes) * len(PROTOCOLS) * len(engines)
    with tqdm(total=total, desc="restorations", unit="image") as bar:
        for index, (name, image) in enumerate(images):
            for side in sizes:
                crop, enlarged = centre_crop(image, side)
                if enlarged:
                    enlarged_notes.append(f"{name} at {side}")
                for protocol in PROTOCOLS:
                    mask = masks.simulate(protocol, width=side, height=side, seed=index)
                    damaged = masks.binary(mask)
                    coverage[(side, protocol)].append(float(damaged.mean()))
                    reference_tv = metrics.total_variation(crop, damaged)
                    for engine_name, engine in loaded.items():
                        cell = cells[(engine_name, side, protocol)]
                        samples = []
                        for _ in range(repeats):
                            started = time.perf_counter()
                            result = pipeline.run(
                                engine, crop, damaged, seed=ENGINE_SEED, params=None
                            )
                            samples.append(time.perf_counter() - started)
                        # Other processes share the CPUs; the fastest repeat is the least disturbed.
                        cell.seconds.append(min(samples))
                        # Engines are deterministic for a seed, so the last output stands for all.
                        scores = metrics.compute_all(crop, result.image, damaged)
                        cell.scores.append(scores)
                        tv = scores["damaged"]["tv"]
                        cell.tv_ratio.append(tv / reference_tv if reference_tv else math.nan)
                        bar.update()
    mean_coverage = {key: statistics.fmean(values) for key, values in coverage.items()}
    return cells, mean_coverage, enlarged_notes


def _format(value: float, name: str) -> str:
    if math.isnan(value):
        return "n/a"
    if name == "psnr":
        return f"{value:.2f}"
    if name == "mse":
        return f"{value:.4f}"
    return f"{value:.3f}"


def table(cells: dict[tuple[str, int, str], Cell], engines: list[str], sizes: list[int]) -> list:
    """Markdown table lines, one row per size, protocol and engine; best value per group bold."""
    titles = " | ".join(title for _, _, title, _ in COLUMNS)
    lines = [
        f"| size | damage | engine | s/image | {titles} | TV ratio |",
        "|---" * (5 + len(COLUMNS)) + "|",
    ]
    missing = False
    for side in sizes:
        for protocol in PROTOCOLS:
            group = {e: cells[(e, side, protocol)] for e in engines}
            best = {}
            for kind, name, _, higher in COLUMNS:
                means = {e: c.mean(kind, name)[0] for e, c in group.items()}
                finite = {e: v for e, v in means.items() if not math.isnan(v)}
                if len(finite) > 1:
                    pick = max if higher else min
                    best[(kind, name)] = _format(pick(finite.values()), name)
            for engine, cell in group.items():
                values = []
                for kind, name, _, _ in COLUMNS:
                    mean, absent = cell.mean(kind, name)
                    text = _format(mean, name)
                    if best.get((kind, name)) == text:
                        text = f"**{text}**"
                    if absent:
                        text += "*"
                        missing = True
                    values.append(text)
                tv = statistics.fmean(cell.tv_ratio)
                lines.append(
                    f"| {side} | {protocol} | {engine} | {cell.median_seconds():.3f} | "
                    + " | ".join(values)
                    + f" | {tv:.2f} |"
                )
    if missing:
        lines += [
            "",
            "\\* Some images had no value here (identical pixels give an infinite PSNR; HaarPSI "
            "is undefined where neither image has coarse structure); the mean is over the others.",
        ]
    return lines


def _winner(group: dict[str, Cell], kind: str, name: str, higher: bool = True) -> str:
    """The best engine for one metric, with its lead over the runner-up."""
    ranked = sorted(group, key=lambda e: group[e].mean(kind, name)[0], reverse=higher)
    if len(ranked) < 2:
        return ranked[0]
    lead = abs(group[ranked[0]].mean(kind, name)[0] - group[ranked[1]].mean(kind, name)[0])
    return f"{ranked[0]} (+{_format(lead, name)})"


def findings(cells: dict[tuple[str, int, str], Cell], engines: list[str], sizes: list[int]) -> str:
    """Sentences derived from this run: who wins each size and protocol, and the speed gap."""
    groups = {
        (side, protocol): {e: cells[(e, side, protocol)] for e in engines}
        for side in sizes
        for protocol in PROTOCOLS
    }
    text = "Winners in this run, with the lead over the second engine. "
    for label, name in (
        ("Damaged-region PSNR (dB)", "psnr"),
        ("SSIM", "ssim"),
        ("HaarPSI", "haarpsi"),
    ):
        parts = [
            f"{protocol} {side}: {_winner(group, 'damaged', name)}"
            for (side, protocol), group in groups.items()
        ]
        text += f"{label}: " + "; ".join(parts) + ". "

    def mean_seconds(engine: str) -> float:
        return statistics.fmean(c.median_seconds() for k, c in cells.items() if k[0] == engine)

    fastest, slowest = min(engines, key=mean_seconds), max(engines, key=mean_seconds)
    if fastest != slowest:
        ratios = [
            cells[(slowest, s, p)].median_seconds() / cells[(fastest, s, p)].median_seconds()
            for s in sizes
            for p in PROTOCOLS
        ]
        worst = max(cells[(slowest, s, p)].median_seconds() for s in sizes for p in PROTOCOLS)
        text += (
            f"{slowest} takes {min(ratios):.0f}-{max(ratios):.0f} times as long as {fastest} "
            f"(up to {worst:.1f} s per image here)."
        )
    return text.rstrip()


# Reading of the numbers that does not change from run to run (the mechanism behind them).
READING = """\
How to read this. PSNR, SSIM, MAE and MSE reward a smooth average of the surroundings and punish a
sharp detail placed a few pixels off, so they favour the three diffusion engines (telea,
navier_stokes, harmonic), which fill from the border inwards. harmonic, the smoothest fill that
meets the border (every damaged pixel the mean of its neighbours), leads on PSNR and SSIM at every
size and damage here; telea and navier_stokes are less than a dB apart from each other, a tie for
practical purposes. On thin dust-like strands the border is never far away and diffusion is close to
right: there the fast engines are hard to beat on any count. The TV ratio shows the other side:
diffusion fills keep a fraction of the original's fine texture (ratio well below 1), least of all in
the large blocks, where telea and navier_stokes leave radial smears and flat wedges of colour that
an eye spots at once, and harmonic an even blur (the lowest ratio of all). Exemplar keeps the
texture (ratio near 1) by copying intact patches from elsewhere in the image, which is why HaarPSI,
a comparison of edge structure at several scales, can rank it first on the larger losses. But on
large block losses (rectangles of 5-25% of the side that merge into holes of a few hundred pixels)
nothing tells it what was inside: it continues whichever texture dominates the border and repeats
it. On the first image at 512 px (`dh_muralnet_000740`, seed 0) it fills the figure's hand and
instrument with the wave stripes and leaf green of the background and cuts the contours of the halo
and the drum. PSNR and SSIM score that below the diffusion smear; a restorer would too, for a
different reason: a smear shows where the loss is, while confident wrong texture passes for
original. On dust, exemplar's copied patches are noisier than the original (TV ratio near or above
1) and lose clearly. None of these engines knows anything about murals; they are baselines for the
learned engines, and no number here says that a restoration is faithful."""


def plot(
    path: Path,
    cells: dict[tuple[str, int, str], Cell],
    engines: list[str],
    sizes: list[int],
) -> bool:
    """Bar charts of damaged PSNR, damaged SSIM and seconds; False when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(
            "matplotlib is not installed (pip install -e '.[bench]'): the plot was skipped.",
            file=sys.stderr,
        )
        return False
    rows = (
        ("damaged-region PSNR (dB)", lambda c: c.mean("damaged", "psnr")[0], False),
        ("damaged-region SSIM", lambda c: c.mean("damaged", "ssim")[0], False),
        ("median seconds per image", Cell.median_seconds, True),
    )
    figure = Figure(figsize=(4.5 * len(sizes), 9), layout="constrained")
    axes = figure.subplots(len(rows), len(sizes), squeeze=False, sharey="row")
    width = 0.8 / len(engines)
    positions = np.arange(len(PROTOCOLS))
    for column, side in enumerate(sizes):
        for row, (label, value, log) in enumerate(rows):
            ax = axes[row][column]
            for offset, engine in enumerate(engines):
                heights = [value(cells[(engine, side, p)]) for p in PROTOCOLS]
                ax.bar(positions + offset * width, heights, width, label=engine)
            ax.set_xticks(positions + width * (len(engines) - 1) / 2, PROTOCOLS)
            ax.set_ylabel(label)
            if log:
                ax.set_yscale("log")
            if row == 0:
                ax.set_title(f"{side}x{side} centre crops")
    axes[0][0].legend(fontsize="small")
    figure.savefig(path, dpi=100)
    return True


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    names = registry().names()
    # Engines that need weights are measured with a checkpoint, by their own benchmarks.
    weightless = [name for name in names if not registry().engine_class(name).needs_weights]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=root / "docs" / "benchmarks.md")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=weightless,
        default=weightless,
        help="default: every engine of settings.RESTORATION_ENGINES that needs no weights",
    )
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3, help="timed restores per image")
    args = parser.parse_args()
    if args.images < 1 or args.repeats < 1 or min(args.sizes) < 16:
        parser.error("--images and --repeats must be at least 1, --sizes at least 16")
    sizes = sorted(set(args.sizes))
    engines = list(dict.fromkeys(args.engines))

    started = time.perf_counter()
    load_before = _load_average()
    paths = pick_images(args.data / "murals", args.images, max(sizes))
    if not paths:
        parser.error(f"no images in {args.data / 'murals'}")
    images = [(path.name, load(path)) for path in paths]
    cells, coverage, enlarged = run_bench(
        images, engines=engines, sizes=sizes, repeats=args.repeats
    )
    plot_path = args.out.with_name(f"{args.out.stem}-restoration.png")
    plotted = plot(plot_path, cells, engines, sizes)
    minutes = (time.perf_counter() - started) / 60
    load_after = _load_average()

    command = shlex.join(["python", "bench/restoration.py", *sys.argv[1:]])
    names = ", ".join(f"`{name}` ({image.shape[1]}x{image.shape[0]})" for name, image in images)
    size_text = " and ".join(f"{s}x{s}" for s in sizes)
    if enlarged:
        crop_text = (
            f"Centre crops of {size_text} pixels; images whose short side was smaller were "
            f"first enlarged (bicubic) to it, which smooths them: {', '.join(enlarged)}."
        )
    else:
        crop_text = (
            f"Centre crops of {size_text} pixels, cut from the images as they are (no resizing: "
            "every image is big enough)."
        )
    shares = "; ".join(
        f"{p} " + ", ".join(f"{coverage[(s, p)]:.0%} at {s}" for s in sizes) for p in PROTOCOLS
    )
    lines = [
        MARKER,
        "## Restoration engines: seconds and quality on real murals",
        "",
        f"`{command}` (from the repository root, in `.venv`), run on "
        f"{datetime.date.today().isoformat()} in {minutes:.1f} minutes on {machine()}. "
        f"Load average (1 min) {load_before} at the start and {load_after} at the end: "
        "other processes share these CPUs, so seconds are indicative, not exact.",
        "",
        f"- Images: {len(images)} from `shared/data/murals` (see its PROVENANCE.md; not in the "
        f"repository): {names}. Line drawings, model outputs (`*restored_by_model*`, `*vqvae*`) "
        "and murals photographed with real damage (`*_damaged*`, no clean ground truth) are "
        "skipped unless needed to reach the count.",
        f"- {crop_text}",
        "- Damage: `heritage.masks.simulate(protocol, width, height, seed=i)` for the i-th image "
        "(i = 0, 1, ...). Dust and jelly are drawn on a 256 px canvas and scaled up (nearest), "
        f"so their strands are twice as thick at 512. Mean damaged share: {shares}.",
        f"- Engines: default parameters, seed {ENGINE_SEED}, CPU, through "
        "`restoration.pipeline.run` (checks, engine, composition). s/image: median over images "
        f"of the fastest of {args.repeats} timed restores (the least disturbed by other "
        "processes), after one untimed restore per engine.",
        "- Quality: `restoration.metrics.compute_all` against the undamaged crop, mean over the "
        "images. PSNR (dB), SSIM, HaarPSI, MAE and MSE (on 0-1 RGB) over the damaged pixels "
        "only; PSNR and SSIM whole over the whole crop (intact pixels are copied, so these are "
        "higher). TV ratio: total variation of the restored damaged region over that of the "
        "original (1 = as much fine texture as the original, below 1 = smoother). **Bold**: the "
        "best engine for that size and damage.",
        "",
        *table(cells, engines, sizes),
        "",
    ]
    if plotted:
        lines += [f"![Restoration benchmark]({plot_path.name})", ""]
    else:
        lines += ["(No plot: matplotlib was not installed for this run.)", ""]
    lines += [findings(cells, engines, sizes), "", READING]
    section = "\n".join(lines) + "\n"
    write_section(args.out, marker=MARKER, section=section)
    print(section)


if __name__ == "__main__":
    main()
