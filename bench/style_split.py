"""The data split of style transfer: photos (A) and blue-green landscape paintings (B).

Run: .venv/bin/python bench/style_split.py --out DIR [--train ../shared/train]
     [--data ../shared/data] [--seed 0] [--test-photos 0.1] [--test-crops 4]
     [--redistributable-only]
Writes DIR/{trainA,trainB,testA,testB}/ as symlinks to the shared files and DIR/split.json
(name, file, sha256, licence, side of every file). The split itself does not depend on
--redistributable-only (so its test sets are the same either way); the option only leaves out of
trainA/trainB the files whose licence does not allow shipping weights trained on them.
- A: ../shared/train/photos. A seeded share of them (of every source, by file-name prefix) is
  held out as testA and never trained on.
- B: ../shared/train/style. The 77 Qianli Jiangshan Tu files are crops (and tiles of crops) of
  one scroll: whole crop indices (`spx0_NN*`) go to testB, so no crop has files on both sides.
  The other style paintings are training files. ../shared/data's `dh_qinglv_*` and `shanshui_*`
  (Dunhuang blue-green murals and other landscapes) are test-only style images (testB).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}
CROP = re.compile(r"^qianli_jiangshan_spx0_(\d+)")
# Licences that allow shipping weights trained on the file (matched case-insensitively).
OPEN = ("cc0", "cc by ", "public domain")
CLOSED = ("not an open licence", "non-commercial")


def redistributable(licence: str) -> bool:
    """CC0, CC BY (also 'probably CC BY', as the Open Images photos are listed) or a
    public-domain artwork; never anything marked non-commercial or not open."""
    text = licence.lower()
    return any(word in text for word in OPEN) and not any(word in text for word in CLOSED)


def _licences(manifest: Path) -> dict[str, str]:
    with manifest.open(newline="", encoding="utf-8") as handle:
        return {
            row["file"]: (row.get("licence") or row.get("license") or "").strip()
            for row in csv.DictReader(handle)
        }


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _source(name: str) -> str:
    """The source of a photo from its file name (photo_<source>_...), for a stratified split."""
    parts = name.split("_")
    return parts[1] if len(parts) > 2 and parts[0] == "photo" else "other"


def make_split(
    *, train: Path, data: Path, seed: int, test_photos: float, test_crops: int
) -> list[dict]:
    """[{name, file, licence, side}] with side in trainA/trainB/testA/testB.

    Raises ValueError when the shared folders or their manifests are missing or empty.
    """
    for path in (train / "photos", train / "style", train / "manifest.csv"):
        if not path.exists():
            raise ValueError(f"{path} does not exist")
    licences = _licences(train / "manifest.csv")
    rng = np.random.default_rng(seed)
    entries = []

    photos = _images(train / "photos")
    if not photos:
        raise ValueError(f"{train / 'photos'} holds no images")
    by_source: dict[str, list[Path]] = {}
    for path in photos:
        by_source.setdefault(_source(path.name), []).append(path)
    held = set()
    for source in sorted(by_source):
        group = by_source[source]
        count = max(1, round(len(group) * test_photos)) if test_photos > 0 else 0
        held.update(group[i].name for i in rng.permutation(len(group))[:count])
    for path in photos:
        side = "testA" if path.name in held else "trainA"
        entries.append(
            {"path": path, "licence": licences.get(f"photos/{path.name}", ""), "side": side}
        )

    style = _images(train / "style")
    crops = sorted({int(m.group(1)) for p in style if (m := CROP.match(p.name))})
    if test_crops > len(crops):
        raise ValueError(f"--test-crops {test_crops}: there are only {len(crops)} crops")
    test_crop_ids = {int(crops[i]) for i in rng.permutation(len(crops))[:test_crops]}
    for path in style:
        match = CROP.match(path.name)
        side = "testB" if match and int(match.group(1)) in test_crop_ids else "trainB"
        entries.append(
            {"path": path, "licence": licences.get(f"style/{path.name}", ""), "side": side}
        )

    if (data / "manifest.csv").is_file():
        extra = _licences(data / "manifest.csv")
        for path in _images(data / "murals"):
            if path.name.startswith(("dh_qinglv_", "shanshui_")):
                licence = extra.get(f"murals/{path.name}", "")
                entries.append({"path": path, "licence": licence, "side": "testB"})
    return [
        {
            "name": entry["path"].name,
            "file": str(entry["path"]),
            "licence": entry["licence"],
            "redistributable": redistributable(entry["licence"]),
            "side": entry["side"],
        }
        for entry in entries
    ]


def write_split(entries: list[dict], out: Path, *, redistributable_only: bool, seed: int) -> dict:
    """Symlink folders and split.json; a previous split in `out` is replaced."""
    kept = [
        entry
        for entry in entries
        if not (redistributable_only and entry["side"].startswith("train"))
        or entry["redistributable"]
    ]
    for side in ("trainA", "trainB", "testA", "testB"):
        if (out / side).exists():
            shutil.rmtree(out / side)
        (out / side).mkdir(parents=True)
    names = set()
    for entry in kept:
        if (entry["side"], entry["name"]) in names:
            raise ValueError(f"two files named {entry['name']} in {entry['side']}")
        names.add((entry["side"], entry["name"]))
        entry["sha256"] = hashlib.sha256(Path(entry["file"]).read_bytes()).hexdigest()
        (out / entry["side"] / entry["name"]).symlink_to(Path(entry["file"]).resolve())
    counts = {
        side: sum(e["side"] == side for e in kept)
        for side in ("trainA", "trainB", "testA", "testB")
    }
    split = {
        "seed": seed,
        "redistributable_only": redistributable_only,
        "counts": counts,
        "files": kept,
    }
    (out / "split.json").write_text(json.dumps(split, indent=2), encoding="utf-8")
    return split


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=Path, default=ROOT.parent / "shared" / "train")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-photos", type=float, default=0.1, help="share of photos held out")
    parser.add_argument("--test-crops", type=int, default=4, help="Qianli crop indices held out")
    parser.add_argument("--redistributable-only", action="store_true")
    args = parser.parse_args(argv)
    if not 0 <= args.test_photos < 1:
        parser.error("--test-photos must lie in [0, 1)")
    try:
        entries = make_split(
            train=args.train,
            data=args.data,
            seed=args.seed,
            test_photos=args.test_photos,
            test_crops=args.test_crops,
        )
        split = write_split(
            entries, args.out, redistributable_only=args.redistributable_only, seed=args.seed
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(json.dumps(split["counts"]))
    return split


if __name__ == "__main__":
    main()
