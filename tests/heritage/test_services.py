"""Catalogue writes: uploads keep the original, refuse bad input and leave nothing behind."""

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from PIL import Image

from heritage import masks, services
from heritage.models import DamageAnnotation, Motif, Site
from tests import factories

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def site(db):
    return services.site_get_or_create(name="Mogao Cave 285")


def _upload(user, data: bytes, site, *, filename: str = "photo.png", **fields) -> Motif:
    fields.setdefault("title", "West wall, hunting scene")
    return services.motif_create(
        uploaded_by=user, file=io.BytesIO(data), filename=filename, site=site, **fields
    )


def _jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (8, 8)).save(buffer, format="PNG")
    png = buffer.getvalue()
    header = struct.pack(">II", 30_000, 30_000) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF)
    return png[:16] + header + crc + png[33:]


# motif_create


def test_motif_create_stores_the_original_byte_identical(curator, site, media):
    data = factories.jpeg_bytes(80, 60, seed=1)
    motif = _upload(curator, data, site, filename="C:\\scans\\wall 3.jpg", era="Western Wei")

    motif.refresh_from_db()
    with motif.original.open("rb") as handle:
        stored = handle.read()
    assert stored == data
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest() == motif.sha256
    assert motif.file_size == len(data)
    assert motif.original_filename == "wall 3.jpg"
    assert (motif.original_format, motif.original_mode) == ("JPEG", "RGB")
    assert (motif.width, motif.height) == (80, 60)
    assert motif.conversions == []
    assert not motif.working  # a plain RGB JPEG is its own working image
    assert motif.rgb_file == motif.original
    assert (motif.site, motif.era, motif.uploaded_by) == (site, "Western Wei", curator)


def test_motif_create_collapses_whitespace_in_the_title(curator, site):
    motif = _upload(curator, factories.png_bytes(seed=2), site, title="  Flying   apsaras \n")
    assert motif.title == "Flying apsaras"


def test_motif_create_records_size_after_exif_rotation(curator, site):
    image = Image.fromarray(np.full((20, 40, 3), 180, dtype=np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6
    data = _jpeg(image, exif=exif.tobytes())

    motif = _upload(curator, data, site, filename="rotated.jpg")

    assert (motif.width, motif.height) == (20, 40)
    assert any("EXIF orientation 6" in step for step in motif.conversions)
    # The original keeps its rotation flag; the working copy is the upright RGB image.
    with motif.original.open("rb") as handle:
        assert handle.read() == data
    with motif.working.open("rb") as handle:
        working = Image.open(io.BytesIO(handle.read()))
        assert (working.format, working.mode, working.size) == ("PNG", "RGB", (20, 40))
    assert motif.rgb_file == motif.working


def test_motif_create_makes_jpeg_preview_and_thumbnail_within_their_sizes(curator, site, settings):
    settings.HERITAGE_PREVIEW_SIZE = 64
    settings.HERITAGE_THUMBNAIL_SIZE = 32
    motif = _upload(curator, factories.png_bytes(200, 100, seed=3), site)

    for field, longest in ((motif.preview, 64), (motif.thumbnail, 32)):
        with field.open("rb") as handle:
            rendering = Image.open(io.BytesIO(handle.read()))
            assert rendering.format == "JPEG"
            assert max(rendering.size) <= longest
            assert rendering.size == (longest, longest // 2)  # aspect ratio kept


def test_motif_create_never_enlarges_small_images_for_the_preview(curator, site, settings):
    settings.HERITAGE_PREVIEW_SIZE = 1600
    motif = _upload(curator, factories.png_bytes(40, 30, seed=4), site)
    with motif.preview.open("rb") as handle:
        assert Image.open(io.BytesIO(handle.read())).size == (40, 30)


def test_motif_create_refuses_a_duplicate_and_names_the_existing_motif(curator, site, media):
    data = factories.png_bytes(seed=5)
    first = _upload(curator, data, site, title="First upload")
    files_before = factories.files_under(media)

    with pytest.raises(services.DuplicateMotif) as caught:
        _upload(curator, data, site, title="Second upload", filename="copy.png")

    assert caught.value.existing == first
    assert "First upload" in " ".join(caught.value.messages)
    assert isinstance(caught.value, ValidationError)
    assert Motif.objects.count() == 1
    assert factories.files_under(media) == files_before


def _over_pixels(settings) -> bytes:
    settings.HERITAGE_MAX_IMAGE_PIXELS = 2_000
    return factories.png_bytes(64, 48)


def _over_upload_size(settings) -> bytes:
    settings.HERITAGE_MAX_UPLOAD_BYTES = 1024 * 1024
    return factories.png_bytes(720, 720)  # noise: about 1.5 MB as PNG


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("make_bytes", "expected"),
    [
        pytest.param(lambda settings: b"", "empty", id="empty"),
        pytest.param(lambda settings: b"not a photograph\n" * 64, "not an image", id="text"),
        pytest.param(lambda settings: _half(factories.jpeg_bytes()), "truncated", id="jpeg-cut"),
        pytest.param(lambda settings: _half(factories.png_bytes()), "truncated", id="png-cut"),
        pytest.param(lambda settings: _bomb(), "", id="bomb"),
        pytest.param(_over_pixels, "HERITAGE_MAX_IMAGE_PIXELS", id="over-pixels"),
        pytest.param(_over_upload_size, "HERITAGE_MAX_UPLOAD_MB", id="over-upload-size"),
    ],
)
def test_motif_create_refuses_bad_input_and_leaves_nothing_behind(
    curator, site, media, settings, make_bytes, expected
):
    kept = _upload(curator, factories.png_bytes(seed=6), site, title="Already there")
    files_before = factories.files_under(media)
    data = make_bytes(settings)

    with pytest.raises(ValidationError) as caught:
        _upload(curator, data, site)

    assert expected in " ".join(caught.value.messages)
    assert list(Motif.objects.all()) == [kept]
    assert factories.files_under(media) == files_before


@pytest.mark.parametrize("who", ["expert", "plain_user", "anonymous"])
def test_motif_create_is_for_curators_only(request, site, media, who):
    user = None if who == "anonymous" else request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        _upload(user, factories.png_bytes(seed=7), site)
    assert Motif.objects.count() == 0
    assert factories.files_under(media) == []


def test_motif_create_removes_written_files_when_saving_the_row_fails(
    curator, site, media, monkeypatch
):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Motif, "save", broken_save)
    with pytest.raises(RuntimeError):
        _upload(curator, factories.jpeg_bytes(seed=8), site)
    assert factories.files_under(media) == []
    assert Motif.objects.count() == 0


def test_site_get_or_create_reuses_a_site_whatever_its_case(db):
    site = services.site_get_or_create(name="Huashan  cliff section 2", region="Guangxi")
    again = services.site_get_or_create(name="huashan cliff SECTION 2")
    assert again == site
    assert site.name == "Huashan cliff section 2"
    assert Site.objects.count() == 1


# annotation_create


@pytest.fixture
def motif(curator, site):
    return _upload(curator, factories.png_bytes(64, 48, seed=10), site, title="Annotated wall")


def test_annotation_create_stores_the_mask_and_its_coverage(curator, motif):
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[:12, :16] = 255
    mask[40, 60] = 128  # fading strength is kept as it is
    annotation = services.annotation_create(
        motif=motif,
        author=curator,
        mask=mask,
        method="drawn",
        kinds=["loss", "crack"],
        notes="  lower left  ",
    )

    annotation.refresh_from_db()
    assert np.array_equal(services.annotation_read_mask(annotation=annotation), mask)
    assert annotation.coverage == pytest.approx((12 * 16 + 1) / (64 * 48))
    assert annotation.kinds == ["crack", "loss"]
    assert annotation.notes == "lower left"
    assert (annotation.author, annotation.method) == (curator, "drawn")


def test_annotation_create_refuses_a_mask_of_the_wrong_size_naming_both_sizes(
    curator, motif, media
):
    files_before = factories.files_under(media)
    with pytest.raises(ValidationError) as caught:
        services.annotation_create(
            motif=motif, author=curator, mask=np.full((49, 64), 255, np.uint8), method="drawn"
        )
    message = " ".join(caught.value.messages)
    assert "64x49" in message
    assert "64x48" in message
    assert DamageAnnotation.objects.count() == 0
    assert factories.files_under(media) == files_before


def test_annotation_create_refuses_an_empty_mask(curator, motif):
    with pytest.raises(ValidationError) as caught:
        services.annotation_create(
            motif=motif, author=curator, mask=np.zeros((48, 64), np.uint8), method="drawn"
        )
    assert "no damage" in " ".join(caught.value.messages)
    assert DamageAnnotation.objects.count() == 0


def test_annotation_create_refuses_an_unknown_damage_kind(curator, motif):
    with pytest.raises(ValidationError) as caught:
        factories.make_annotation(motif=motif, user=curator, kinds=["crack", "graffiti"])
    assert "graffiti" in " ".join(caught.value.messages)
    assert DamageAnnotation.objects.count() == 0


@pytest.mark.parametrize(
    ("protocol", "seed"),
    [("", 3), ("dust", None), ("scratches", 3)],
    ids=["no-protocol", "no-seed", "unknown"],
)
def test_annotation_create_refuses_simulated_damage_without_protocol_and_seed(
    curator, motif, protocol, seed
):
    with pytest.raises(ValidationError):
        factories.make_annotation(
            motif=motif, user=curator, method="simulated", protocol=protocol, seed=seed
        )
    assert DamageAnnotation.objects.count() == 0


def test_annotation_create_is_for_curators_only(expert, motif, media):
    files_before = factories.files_under(media)
    with pytest.raises(PermissionDenied):
        factories.make_annotation(motif=motif, user=expert)
    assert DamageAnnotation.objects.count() == 0
    assert factories.files_under(media) == files_before


def test_annotation_create_revision_keeps_the_earlier_mask(curator, motif):
    first_mask = factories.block_mask(motif, top=0, left=0, size=10)
    first = factories.make_annotation(motif=motif, user=curator, mask=first_mask)
    first_name = first.mask.name

    second_mask = factories.block_mask(motif, top=20, left=20, size=10)
    second = factories.make_annotation(
        motif=motif, user=curator, mask=second_mask, supersedes=first
    )

    first.refresh_from_db()
    assert first.mask.name == first_name != second.mask.name
    assert np.array_equal(services.annotation_read_mask(annotation=first), first_mask)
    assert np.array_equal(services.annotation_read_mask(annotation=second), second_mask)
    assert second.supersedes == first
    assert DamageAnnotation.objects.count() == 2


def test_annotation_create_refuses_a_second_revision_of_the_same_annotation(curator, motif, media):
    first = factories.make_annotation(motif=motif, user=curator)
    factories.make_annotation(motif=motif, user=curator, supersedes=first)
    files_before = factories.files_under(media)

    with pytest.raises(ValidationError) as caught:
        factories.make_annotation(motif=motif, user=curator, supersedes=first)

    assert "already revised" in " ".join(caught.value.messages)
    assert DamageAnnotation.objects.count() == 2
    assert factories.files_under(media) == files_before


def test_annotation_create_refuses_revising_another_motifs_annotation(curator, motif, site):
    other = _upload(curator, factories.png_bytes(64, 48, seed=11), site, title="Other wall")
    foreign = factories.make_annotation(motif=other, user=curator)
    with pytest.raises(ValidationError):
        factories.make_annotation(motif=motif, user=curator, supersedes=foreign)


def test_annotation_create_removes_the_mask_file_when_saving_the_row_fails(
    curator, motif, media, monkeypatch
):
    files_before = factories.files_under(media)

    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(DamageAnnotation, "save", broken_save)
    with pytest.raises(RuntimeError):
        factories.make_annotation(motif=motif, user=curator)
    assert factories.files_under(media) == files_before


# annotation_simulate


@pytest.mark.parametrize("protocol", ["dust", "jelly", "blocks"])
def test_annotation_simulate_stores_protocol_seed_and_the_exact_simulated_mask(
    curator, motif, protocol
):
    annotation = services.annotation_simulate(
        motif=motif, author=curator, protocol=protocol, seed=42
    )

    annotation.refresh_from_db()
    assert (annotation.method, annotation.protocol, annotation.seed) == (
        "simulated",
        protocol,
        42,
    )
    expected = masks.simulate(protocol, width=motif.width, height=motif.height, seed=42)
    stored = services.annotation_read_mask(annotation=annotation)
    assert stored.dtype == np.uint8
    assert np.array_equal(stored, expected)
    assert annotation.coverage == pytest.approx(masks.coverage(expected))


def test_annotation_simulate_refuses_an_unknown_protocol(curator, motif):
    with pytest.raises(ValidationError):
        services.annotation_simulate(motif=motif, author=curator, protocol="scratches", seed=1)
    assert DamageAnnotation.objects.count() == 0


def test_annotation_simulate_is_for_curators_only(expert, motif):
    with pytest.raises(PermissionDenied):
        services.annotation_simulate(motif=motif, author=expert, protocol="dust", seed=1)
    assert DamageAnnotation.objects.count() == 0


def test_a_motif_is_an_artwork_unless_uploaded_as_a_photograph(curator, site):
    artwork = _upload(curator, factories.png_bytes(seed=31), site)
    photo = _upload(curator, factories.png_bytes(seed=32), site, kind="photograph")
    assert (artwork.kind, photo.kind) == (Motif.Kind.ARTWORK, Motif.Kind.PHOTOGRAPH)
    photo.refresh_from_db()
    assert photo.kind == "photograph"


def test_an_unknown_kind_of_motif_is_refused_and_nothing_is_stored(curator, site, media):
    with pytest.raises(ValidationError, match="Unknown kind of motif 'video'"):
        _upload(curator, factories.png_bytes(seed=33), site, kind="video")
    assert not Motif.objects.exists()
    assert factories.files_under(media) == []


def test_motif_update_changes_the_kind_only_when_given(curator, site):
    motif = _upload(curator, factories.png_bytes(seed=34), site)
    services.motif_update(motif=motif, updated_by=curator, site=site, kind="photograph")
    motif.refresh_from_db()
    assert motif.kind == "photograph"
    services.motif_update(motif=motif, updated_by=curator, site=site, title="Renamed")
    motif.refresh_from_db()
    assert (motif.kind, motif.title) == ("photograph", "Renamed")
    with pytest.raises(ValidationError, match="Unknown kind"):
        services.motif_update(motif=motif, updated_by=curator, site=site, kind="sculpture")
    motif.refresh_from_db()
    assert motif.kind == "photograph"
