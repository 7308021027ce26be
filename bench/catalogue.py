"""Times the catalogue's interactive and batch image work on the shared murals and photos.

Run: .venv/bin/python bench/catalogue.py [--data ../shared/data] [--out docs/benchmarks.md]
Measures click-to-segment latency (what a curator waits for after a click), the damage
protocols, and the upload path (inspection + preview + thumbnail). Medians over repeats, one run.
"""

import argparse
import io
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import write_section  # noqa: E402
from heritage import imaging, masks, segment  # noqa: E402

MARKER = "<!-- bench/catalogue.py -->"


def _median_ms(function, repeats: int) -> float:
    function()  # the first call pays one-off start-up costs (OpenCV, allocations)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _images(data: Path, side: int) -> list[np.ndarray]:
    paths = (
        sorted((data / "murals").glob("*.jpg"))[:6] + sorted((data / "photos").glob("*.png"))[:4]
    )
    return [np.asarray(Image.open(p).convert("RGB").resize((side, side))) for p in paths]


def bench_segment(data: Path, repeats: int) -> list[tuple[str, str, float, float]]:
    rows = []
    rng = np.random.default_rng(0)
    for side in (512, 1024, 2048):
        images = _images(data, side)
        for clicks in (1, 3):
            times = []
            for image in images:
                points = [tuple(int(v) for v in rng.integers(0, side, 2)) for _ in range(clicks)]
                times.append(_median_ms(partial(segment.segment, image, positive=points), repeats))
            rows.append(
                (f"{side}x{side}", f"{clicks} click(s)", statistics.median(times), max(times))
            )
    return rows


def bench_protocols(repeats: int) -> list[tuple[str, str, float]]:
    rows = []
    for side in (256, 1024, 4096):
        for protocol in masks.PROTOCOLS:
            ms = statistics.median(
                _median_ms(
                    partial(masks.simulate, protocol, width=side, height=side, seed=seed),
                    repeats,
                )
                for seed in range(5)
            )
            rows.append((protocol, f"{side}x{side}", ms))
    return rows


def bench_upload(data: Path, repeats: int) -> list[tuple[str, float]]:
    rows = []
    for path in sorted((data / "murals").glob("*.jpg"))[:3]:
        payload = path.read_bytes()

        def work(payload=payload):
            inspected = imaging.inspect(io.BytesIO(payload), max_pixels=150_000_000)
            imaging.encode_resized_jpeg(inspected.rgb, longest_side=1600)
            imaging.encode_resized_jpeg(inspected.rgb, longest_side=360, quality=80)

        size = Image.open(path).size
        rows.append((f"{path.name} ({size[0]}x{size[1]})", _median_ms(work, repeats)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=root / "docs" / "benchmarks.md")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    lines = [
        MARKER,
        "## Catalogue: click-to-segment, damage protocols, upload",
        "",
        f"`python bench/catalogue.py` on {platform.processor() or platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, CPU only; "
        f"median of {args.repeats} repeats after one warm-up call.",
        "",
        "Click-to-segment (what a curator waits for after a click in the editor; 10 images from "
        "`shared/data`, random clicks):",
        "",
        "| image | clicks | median ms | worst image ms |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {a} | {b} | {m:.0f} | {w:.0f} |"
        for a, b, m, w in bench_segment(args.data, args.repeats)
    ]
    lines += [
        "",
        "Simulated damage protocols (median over 5 seeds):",
        "",
        "| protocol | size | ms |",
        "|---|---|---|",
    ]
    lines += [f"| {p} | {s} | {ms:.1f} |" for p, s, ms in bench_protocols(args.repeats)]
    lines += [
        "",
        "Upload processing (decode + checks + preview + thumbnail, no storage):",
        "",
        "| file | ms |",
        "|---|---|",
    ]
    lines += [f"| {name} | {ms:.0f} |" for name, ms in bench_upload(args.data, args.repeats)]
    section = "\n".join(lines) + "\n"

    write_section(args.out, marker=MARKER, section=section)
    print(section)


if __name__ == "__main__":
    main()
