"""The import_motifs command: a folder of files through the same checks as uploads."""

import io

import pytest
from django.core.management import CommandError, call_command

from heritage.models import Motif, Site
from tests.factories import jpeg_bytes, png_bytes


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_motifs", *map(str, args), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def write_csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


def test_import_motifs_imports_good_images_and_reports_refusals(
    settings, tmp_path, folder, curator
):
    settings.MEDIA_ROOT = tmp_path / "media"
    (folder / "cave_285-north_wall.png").write_bytes(png_bytes(seed=1))
    (folder / "b.jpg").write_bytes(jpeg_bytes(seed=2))
    (folder / "c.png").write_bytes(png_bytes(seed=3))
    (folder / "d-copy.png").write_bytes(png_bytes(seed=1))
    (folder / "notes.txt").write_text("not an image")
    whole = jpeg_bytes(200, 150, seed=4)
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / ".DS_Store").write_bytes(b"\0hidden")

    output = run(folder, "--site", "Mogao Cave 285")

    assert Motif.objects.count() == 3
    first = Motif.objects.get(original_filename="cave_285-north_wall.png")
    assert first.title == "Cave 285 north wall"
    assert first.site.name == "Mogao Cave 285"
    assert first.uploaded_by == curator
    assert first.preview and first.thumbnail
    assert "3 imported, 3 refused." in output
    assert f"d-copy.png: already catalogued as motif {first.pk} 'Cave 285 north wall'" in output
    assert "notes.txt: The file is not an image" in output
    assert "truncated.jpg: The image file is truncated" in output
    assert ".DS_Store" not in output


def test_import_motifs_applies_csv_metadata(settings, tmp_path, folder, curator):
    settings.MEDIA_ROOT = tmp_path / "media"
    (folder / "sub").mkdir()
    (folder / "sub" / "dancer.png").write_bytes(png_bytes(seed=1))
    (folder / "horse.png").write_bytes(png_bytes(seed=2))
    metadata = write_csv(
        tmp_path / "meta.csv",
        "Filename,Title,Site,Era,Style\n"
        "dancer.png,Dancing figure,Huashan cliff,Warring States,Zuojiang red pigment\n"
        "horse.png,,,Tang,\n"
        "missing.png,Lost,Somewhere,,\n",
    )

    output = run(folder, "--metadata", metadata, "--site", "Default site", "--recursive")

    dancer = Motif.objects.get(original_filename="dancer.png")
    assert (dancer.title, dancer.site.name, dancer.era, dancer.style) == (
        "Dancing figure",
        "Huashan cliff",
        "Warring States",
        "Zuojiang red pigment",
    )
    horse = Motif.objects.get(original_filename="horse.png")
    assert (horse.title, horse.site.name, horse.era) == ("Horse", "Default site", "Tang")
    assert "2 imported, 0 refused." in output
    assert "missing.png: no such file in the folder" in output
    assert not Site.objects.filter(name="Somewhere").exists()


def test_import_motifs_without_recursive_ignores_subfolders(settings, tmp_path, folder, curator):
    settings.MEDIA_ROOT = tmp_path / "media"
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.png").write_bytes(png_bytes(seed=1))
    (folder / "outer.png").write_bytes(png_bytes(seed=2))

    output = run(folder, "--site", "Kizil Cave 38")

    assert list(Motif.objects.values_list("original_filename", flat=True)) == ["outer.png"]
    assert "1 imported, 0 refused." in output


def test_import_motifs_unknown_csv_column_imports_nothing(settings, tmp_path, folder, curator):
    settings.MEDIA_ROOT = tmp_path / "media"
    (folder / "a.png").write_bytes(png_bytes(seed=1))
    metadata = write_csv(tmp_path / "meta.csv", "filename,site,dynasty\na.png,Huashan,Han\n")

    with pytest.raises(CommandError, match="unknown column.*dynasty"):
        run(folder, "--metadata", metadata)

    assert not Motif.objects.exists()
    assert not Site.objects.exists()


def test_import_motifs_reports_files_without_site(settings, tmp_path, folder, curator):
    settings.MEDIA_ROOT = tmp_path / "media"
    (folder / "a.png").write_bytes(png_bytes(seed=1))
    (folder / "b.png").write_bytes(png_bytes(seed=2))
    metadata = write_csv(tmp_path / "meta.csv", "filename,site\na.png,Mogao Cave 220\n")

    output = run(folder, "--metadata", metadata)

    assert list(Motif.objects.values_list("original_filename", flat=True)) == ["a.png"]
    assert "1 imported, 1 refused." in output
    assert "b.png: no site" in output


def test_import_motifs_refused_file_leaves_no_new_site(settings, tmp_path, folder, curator):
    settings.MEDIA_ROOT = tmp_path / "media"
    (folder / "notes.txt").write_text("not an image")
    metadata = write_csv(tmp_path / "meta.csv", "filename,site\nnotes.txt,Ghost site\n")

    output = run(folder, "--metadata", metadata)

    assert "0 imported, 1 refused." in output
    assert not Site.objects.exists()
    assert not any((tmp_path / "media").rglob("*.*"))


def test_import_motifs_needs_a_site_somewhere(folder, curator):
    (folder / "a.png").write_bytes(png_bytes(seed=1))

    with pytest.raises(CommandError, match="--site"):
        run(folder)


def test_import_motifs_refuses_missing_directory(tmp_path, curator):
    with pytest.raises(CommandError, match="not a directory"):
        run(tmp_path / "nowhere", "--site", "X")
    (tmp_path / "file.png").write_bytes(png_bytes())
    with pytest.raises(CommandError, match="not a directory"):
        run(tmp_path / "file.png", "--site", "X")


def test_import_motifs_user_must_be_curator(folder, curator, expert):
    with pytest.raises(CommandError, match="not an active curator"):
        run(folder, "--site", "X", "--user", expert.username)
    with pytest.raises(CommandError, match="no user"):
        run(folder, "--site", "X", "--user", "nobody")


def test_import_motifs_needs_some_curator(db, folder, expert):
    with pytest.raises(CommandError, match="No active curator"):
        run(folder, "--site", "X")


def test_import_motifs_records_the_named_user(settings, tmp_path, folder, curator):
    settings.MEDIA_ROOT = tmp_path / "media"
    from tests.factories import make_user

    other = make_user("second-curator", role="curator")
    (folder / "a.png").write_bytes(png_bytes(seed=1))

    run(folder, "--site", "X", "--user", other.username)

    assert Motif.objects.get().uploaded_by == other
