"""bench/style_split.py: held-out photos, Qianli crops on one side, licences, symlinks."""

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from bench import style_split

PHOTO_LICENCES = {
    "photo_openimages_00aa.jpg": "probably CC BY 2.0 (Open Images; unverified); repo MIT",
    "photo_openimages_00bb.jpg": "probably CC BY 2.0 (Open Images; unverified); repo MIT",
    "photo_openimages_00cc.jpg": "probably CC BY 2.0 (Open Images; unverified); repo MIT",
    "photo_l2yao_main_1.jpg": "none stated",
    "photo_l2yao_main_2.jpg": "none stated",
    "photo_l2yao_main_3.jpg": "none stated",
    "photo_l2yao_main_4.jpg": "none stated",
}
STYLE_LICENCES = {
    **{
        f"qianli_jiangshan_spx0_{i:02d}{tile}.jpg": "none stated (artwork public domain; scan)"
        for i in range(6)
        for tile in ("", "_tile10", "_tile11")
    },
    "qinglv_alicex_met_141.jpg": "CC0 (Met Open Access, via alicex2020 dataset); repo MIT",
    "qinglv_alicex_harvard_53.jpg": "Harvard Art Museums image terms (not an open licence; "
    "non-commercial/educational use), via alicex2020 dataset; repo MIT",
}
EXTRA = {
    "dh_qinglv_landscape_dh1.jpg": "none stated (no LICENSE file)",
    "shanshui_l2yao_xishan.jpg": "none stated (no LICENSE file); web-collected",
    "dh_muralnet_000740.jpg": "none stated",
}


def _write(folder, names, seed):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in names:
        pixels = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)


@pytest.fixture
def shared(tmp_path):
    train, data = tmp_path / "train", tmp_path / "data"
    _write(train / "photos", PHOTO_LICENCES, 0)
    _write(train / "style", STYLE_LICENCES, 1)
    _write(data / "murals", EXTRA, 2)
    rows = [("photos", name, licence) for name, licence in PHOTO_LICENCES.items()]
    rows += [("style", name, licence) for name, licence in STYLE_LICENCES.items()]
    (train / "manifest.csv").write_text(
        "file,group,licence\n"
        + "".join(f'{group}/{name},{group},"{licence}"\n' for group, name, licence in rows)
    )
    (data / "manifest.csv").write_text(
        "file,kind,license\n"
        + "".join(f'murals/{name},mural,"{licence}"\n' for name, licence in EXTRA.items())
    )
    return train, data


def _split(shared, out, *extra):
    train, data = shared
    return style_split.main(
        ["--out", str(out), "--train", str(train), "--data", str(data), "--test-crops", "2"]
        + list(extra)
    )


def _sides(split):
    sides = {}
    for entry in split["files"]:
        sides.setdefault(entry["side"], set()).add(entry["name"])
    return sides


def test_split_holds_out_photos_and_whole_crops(shared, tmp_path):
    split = _split(shared, tmp_path / "split", "--test-photos", "0.25")
    sides = _sides(split)
    # A quarter of each photo source, at least one: 1 of 3 Open Images photos, 1 of 4 others.
    assert len(sides["testA"]) == 2 and len(sides["trainA"]) == 5
    assert not sides["testA"] & sides["trainA"]
    crops = {
        side: {n[:24] for n in names if n.startswith("qianli")} for side, names in sides.items()
    }
    assert len(crops["testB"]) == 2 and len(crops["trainB"]) == 4
    assert not crops["testB"] & crops["trainB"]  # every file of a crop on one side
    # The extra style images of ../shared/data are test-only; other murals are not taken.
    assert {"dh_qinglv_landscape_dh1.jpg", "shanshui_l2yao_xishan.jpg"} <= sides["testB"]
    assert "dh_muralnet_000740.jpg" not in set().union(*sides.values())
    for entry in split["files"]:
        link = tmp_path / "split" / entry["side"] / entry["name"]
        assert link.is_symlink() and link.resolve() == (tmp_path / entry["file"]).resolve()
        assert entry["sha256"] == hashlib.sha256(link.read_bytes()).hexdigest()
    assert json.loads((tmp_path / "split" / "split.json").read_text()) == split


def test_redistributable_only_keeps_the_test_sets_and_drops_restricted_training_files(
    shared, tmp_path
):
    everything = _sides(_split(shared, tmp_path / "all"))
    shipped = _split(shared, tmp_path / "shipped", "--redistributable-only")
    sides = _sides(shipped)
    assert sides["testA"] == everything["testA"] and sides["testB"] == everything["testB"]
    assert all(name.startswith("photo_openimages") for name in sides["trainA"])
    assert "qinglv_alicex_harvard_53.jpg" in everything["trainB"]
    assert "qinglv_alicex_harvard_53.jpg" not in sides["trainB"]
    assert "qinglv_alicex_met_141.jpg" in sides["trainB"]
    assert all(e["redistributable"] for e in shipped["files"] if e["side"].startswith("train"))
    assert sorted(p.name for p in (tmp_path / "shipped" / "trainA").iterdir()) == sorted(
        sides["trainA"]
    )


def test_the_split_is_fixed_by_its_seed(shared, tmp_path):
    first = _sides(_split(shared, tmp_path / "a", "--seed", "3"))
    again = _sides(_split(shared, tmp_path / "b", "--seed", "3"))
    assert first == again


def test_redistributable_licences():
    assert style_split.redistributable("CC0 (Met Open Access)")
    assert style_split.redistributable("probably CC BY 2.0 (Open Images; unverified)")
    assert style_split.redistributable("none stated (artwork public domain; scan)")
    assert not style_split.redistributable("none stated")
    assert not style_split.redistributable(
        "Harvard Art Museums image terms (not an open licence; non-commercial/educational use)"
    )


def test_bad_input_is_refused(shared, tmp_path, capsys):
    with pytest.raises(SystemExit):
        style_split.main(["--out", str(tmp_path / "x"), "--train", str(tmp_path / "nowhere")])
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _split(shared, tmp_path / "y", "--test-crops", "9")
    assert "only 6 crops" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
