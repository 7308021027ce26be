"""The upload form: every error at once, each once; an accepted file survives a refused form;
era and style suggestions from the values in use."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from heritage import held_uploads
from heritage.models import Motif
from tests import factories

pytestmark = pytest.mark.usefixtures("media")

URL = reverse("heritage:motif_upload")


def _file(data: bytes, name: str = "wall.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def _metadata(**overrides) -> dict:
    data = {"title": "West wall", "site": "", "new_site": "Mogao Cave 249", "era": "Tang"}
    data.update(overrides)
    return data


def _errors(page: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", error)).strip()
        for error in re.findall(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    ]


def _held_token(page: str) -> str:
    match = re.search(rf'name="{held_uploads.FIELD}" value="([^"]+)"', page)
    assert match, "no kept file in the page"
    return match.group(1)


def test_a_duplicate_and_the_metadata_errors_come_in_one_answer_each_once(curator_client, curator):
    existing = factories.make_motif(user=curator, title="Flying apsaras", seed=300)
    with existing.original.open("rb") as handle:
        data = handle.read()

    response = curator_client.post(
        URL, {**_metadata(title="  ", new_site=""), "image": _file(data, "copy.png")}
    )

    assert response.status_code == 400
    page = response.content.decode()
    errors = _errors(page)
    assert len(errors) == 3, errors
    assert sum("already in the catalogue" in error for error in errors) == 1
    assert sum("Choose the site" in error for error in errors) == 1
    assert sum("required" in error for error in errors) == 1  # the title
    assert page.count("already in the catalogue") == 1
    assert page.count(f'href="{existing.get_absolute_url()}"') == 1
    assert Motif.objects.count() == 1


def test_a_non_image_and_a_missing_site_come_in_one_answer(curator_client):
    response = curator_client.post(
        URL, {**_metadata(new_site=""), "image": _file(b"notes, not a photograph\n" * 4)}
    )
    assert response.status_code == 400
    errors = _errors(response.content.decode())
    assert len(errors) == 2, errors
    assert any("not an image" in error for error in errors)
    assert any("Choose the site" in error for error in errors)
    # A refused file is not kept.
    assert held_uploads.FIELD not in response.content.decode()


def test_an_accepted_file_is_kept_when_the_metadata_is_refused(curator_client, media):
    data = factories.png_bytes(40, 30, seed=301)
    refused = curator_client.post(URL, {**_metadata(new_site=""), "image": _file(data)})

    assert refused.status_code == 400
    page = refused.content.decode()
    assert "File kept: <strong>wall.png</strong>" in page
    # The file input is no longer required, so the browser lets the form go without a file.
    assert re.search(r'<input type="file" name="image"[^>]*\brequired\b', page) is None

    # The curator fixes the site only and sends the form again, with no file.
    accepted = curator_client.post(URL, {**_metadata(), held_uploads.FIELD: _held_token(page)})

    assert accepted.status_code == 302
    motif = Motif.objects.get()
    assert motif.original_filename == "wall.png"
    with motif.original.open("rb") as handle:
        assert handle.read() == data
    assert not any(path.startswith("held/") for path in factories.files_under(media))


def test_a_new_file_replaces_the_kept_one(curator_client, media):
    first = curator_client.post(
        URL, {**_metadata(new_site=""), "image": _file(factories.png_bytes(seed=302), "a.png")}
    )
    token = _held_token(first.content.decode())
    second_data = factories.png_bytes(seed=303)

    response = curator_client.post(
        URL, {**_metadata(), held_uploads.FIELD: token, "image": _file(second_data, "b.png")}
    )

    assert response.status_code == 302
    assert Motif.objects.get().original_filename == "b.png"
    assert not any(path.startswith("held/") for path in factories.files_under(media))


def test_a_kept_file_is_the_uploaders_only(client, curator_client, media):
    page = curator_client.post(
        URL, {**_metadata(new_site=""), "image": _file(factories.png_bytes(seed=304))}
    ).content.decode()
    token = _held_token(page)
    other = factories.make_user("other-curator", role="curator")
    client.force_login(other)

    response = client.post(URL, {**_metadata(), held_uploads.FIELD: token})

    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert Motif.objects.count() == 0


def test_a_forged_token_is_ignored(curator_client):
    response = curator_client.post(URL, {**_metadata(), held_uploads.FIELD: "../../etc/passwd"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_era_and_style_are_suggested_from_the_values_in_use(curator_client, curator):
    factories.make_motif(user=curator, seed=305, era="Tang dynasty", style="Blue-green landscape")
    factories.make_motif(user=curator, seed=306, era="Northern Wei", style="")

    page = curator_client.get(URL).content.decode()

    assert 'list="era-suggestions"' in page and 'list="style-suggestions"' in page
    eras = re.search(r'<datalist id="era-suggestions">(.*?)</datalist>', page, re.S).group(1)
    styles = re.search(r'<datalist id="style-suggestions">(.*?)</datalist>', page, re.S).group(1)
    assert re.findall(r'value="([^"]*)"', eras) == ["Northern Wei", "Tang dynasty"]
    assert re.findall(r'value="([^"]*)"', styles) == ["Blue-green landscape"]


def test_the_edit_page_suggests_the_same_eras_and_styles(curator_client, curator):
    motif = factories.make_motif(user=curator, seed=307, era="Western Wei", style="Jataka")

    page = curator_client.get(reverse("heritage:motif_edit", args=[motif.pk])).content.decode()

    assert 'list="era-suggestions"' in page
    assert '<datalist id="era-suggestions"><option value="Western Wei"></datalist>' in page
    assert '<datalist id="style-suggestions"><option value="Jataka"></datalist>' in page


def test_a_kept_file_catalogued_meanwhile_is_refused_as_a_duplicate_and_let_go(
    curator_client, curator, media
):
    data = factories.png_bytes(seed=308)
    page = curator_client.post(
        URL, {**_metadata(new_site=""), "image": _file(data, "south.png")}
    ).content.decode()
    token = _held_token(page)
    # Someone catalogues the same bytes before the curator sends the form again.
    factories.make_motif(user=curator, seed=308, title="South wall")

    response = curator_client.post(URL, {**_metadata(), held_uploads.FIELD: token})

    assert response.status_code == 400
    errors = _errors(response.content.decode())
    assert len(errors) == 1 and "already in the catalogue" in errors[0], errors
    assert held_uploads.FIELD not in response.content.decode()
    assert not any(path.startswith("held/") for path in factories.files_under(media))


def test_a_kept_file_replaced_by_a_refused_one_is_let_go(curator_client, media):
    page = curator_client.post(
        URL, {**_metadata(new_site=""), "image": _file(factories.png_bytes(seed=309))}
    ).content.decode()

    response = curator_client.post(
        URL,
        {
            **_metadata(),
            held_uploads.FIELD: _held_token(page),
            "image": _file(b"not a photograph", "notes.png"),
        },
    )

    assert response.status_code == 400
    assert "not an image" in response.content.decode()
    assert held_uploads.FIELD not in response.content.decode()
    assert factories.files_under(media) == []
