"""Inputs that used to answer 500: each now gets a 4xx with a message, and changes nothing."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from gallery.models import ExpertScore, StudyVote, UserStudy
from gallery.services import reviews as review_services
from gallery.services import studies as study_services
from heritage import jsonbody
from heritage.models import DamageAnnotation, Motif
from tests import factories
from tests.gallery.conftest import motifs, published, restorations  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("media")

TOO_BIG = "99999999999999999999"  # more than SQLite's (and PostgreSQL's) 64-bit integers
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def motif(curator):
    return factories.make_motif(user=curator, title="Flying apsaras", seed=7)


@pytest.fixture
def study(curator, restorations):  # noqa: F811
    return study_services.study_create(
        created_by=curator,
        title="Which restoration reads best?",
        question="Which image best represents the original artwork?",
        restorations=restorations,
        open_now=True,
    )


@pytest.fixture
def campaign(curator, expert, restorations):  # noqa: F811
    return review_services.campaign_create(
        created_by=curator,
        title="Huashan pilot",
        instructions="",
        restorations=restorations,
        experts=[expert],
        open_now=True,
        reference="damaged",
    )


def error_of(response) -> str:
    body = response.json()
    return body.get("error") or body.get("detail") or json.dumps(body)


# The bounded JSON reader itself


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (DEEP, "nested more than"),
        ('{"a": ' * 40 + "1" + "}" * 40, "nested more than"),
        ('{"x": NaN}', "NaN is not a JSON number"),
        ('{"x": -Infinity}', "-Infinity is not a JSON number"),
        ('{"x": 1e400}', "too large"),
        ("{'single': 'quotes'}", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_the_json_reader_refuses_with_a_message(body, words):
    with pytest.raises(jsonbody.JSONBodyError) as refused:
        jsonbody.parse_json(body)
    assert words in str(refused.value) and refused.value.status == 400


def test_the_json_reader_counts_brackets_inside_strings_as_text_and_bounds_size(settings):
    value = jsonbody.parse_json('{"note": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"]]]"}')
    assert value == {"note": "[" * 40 + '"]]]'}
    assert jsonbody.parse_json('[[[{"a": [1, 2.5, "x"]}]]]') == [[[{"a": [1, 2.5, "x"]}]]]
    settings.HERITAGE_JSON_MAX_BYTES = 100
    with pytest.raises(jsonbody.JSONBodyError) as refused:
        jsonbody.parse_json(json.dumps({"x": "y" * 200}))
    assert refused.value.status == 413 and "at most 100" in str(refused.value)


# Click-to-segment


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("[1,2]", "must be an object"),
        ("5", "must be an object"),
        ('"x"', "must be an object"),
        ("null", "must be an object"),
        ('{"positive": [[Infinity, 1]]}', "Infinity is not a JSON number"),
        ('{"positive": [[NaN, 1]]}', "NaN is not a JSON number"),
        ('{"positive": [[1e400, 1]]}', "too large"),
        ('{"positive": [[1, 1]], "tolerance": 1e400}', "too large"),
        ('{"positive": [[1, 1]], "tolerance": "20"}', '"tolerance" must be a whole number'),
        ('{"positive": [[1, 1]], "tolerance": 999999999999999999999}', "tolerance must be in"),
        ('{"positive": 5}', '"positive" must be a list'),
        ('{"positive": [[1, 2, 3]]}', "[x, y] pair of whole numbers"),
        ('{"positive": [["1", 2]]}', "[x, y] pair of whole numbers"),
        ('{"positive": [[true, 2]]}', "[x, y] pair of whole numbers"),
        ('{"positive": [[1.5, 2]]}', "[x, y] pair of whole numbers"),
        ('{"positive": [[99999999999999999999999, 2]]}', "outside"),
        ('{"negative": [[1, 1]]}', "at least one positive click"),
        ('{"positive": ' + "[" * 5000 + "]" * 5000 + "}", "nested more than"),
        (DEEP, "nested more than"),
        ("{not json", "not valid JSON"),
    ],
)
def test_segment_refuses_malformed_clicks_with_a_json_message(curator_client, motif, body, words):
    response = curator_client.post(
        reverse("heritage:annotation_segment", args=[motif.pk]),
        body,
        content_type="application/json",
    )

    assert response.status_code == 400, response.content[:200]
    assert words in error_of(response)


def test_segment_still_grows_a_region_from_integral_clicks(curator_client, motif):
    response = curator_client.post(
        reverse("heritage:annotation_segment", args=[motif.pk]),
        {"positive": [[10, 10.0]], "tolerance": 30},
        content_type="application/json",
    )
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_a_huge_json_body_is_refused_with_413(curator_client, motif, settings):
    settings.HERITAGE_JSON_MAX_BYTES = 1000
    response = curator_client.post(
        reverse("heritage:annotation_segment", args=[motif.pk]),
        {"positive": [[1, 1]], "padding": "x" * 2000},
        content_type="application/json",
    )
    assert response.status_code == 413 and "at most 1,000" in error_of(response)


# The REST API: every JSON body goes through the same bounded reader


def test_deeply_nested_json_on_api_endpoints_is_a_400(campaign, expert, study):
    api = APIClient()
    api.force_authenticate(expert)
    item = campaign.items.first()
    url = reverse("gallery_api:review_response", args=[item.token])

    scored = api.put(url, DEEP, content_type="application/json")
    voted = APIClient().post(
        reverse("gallery_api:study_votes", args=[study.slug]),
        DEEP,
        content_type="application/json",
    )
    infinite = api.put(url, '{"scores": {"structure": Infinity}}', content_type="application/json")

    for response in (scored, voted, infinite):
        assert response.status_code == 400, response.content[:200]
    assert "nested more than" in scored.json()["detail"]
    assert "nested more than" in voted.json()["detail"]
    assert "Infinity" in infinite.json()["detail"]
    assert not ExpertScore.objects.exists() and not StudyVote.objects.exists()


def test_every_api_view_parses_json_with_the_bounded_parser():
    from rest_framework.settings import api_settings

    assert api_settings.DEFAULT_PARSER_CLASSES[0] is jsonbody.BoundedJSONParser
    for view in _api_views():
        parsers = getattr(view, "parser_classes", api_settings.DEFAULT_PARSER_CLASSES)
        json_parsers = [p for p in parsers if "json" in p.media_type]
        assert all(issubclass(p, jsonbody.BoundedJSONParser) for p in json_parsers), view


def _api_views():
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "view_class"):
                yield pattern.callback.view_class

    return list(walk(get_resolver().url_patterns))


# Review scores that are digits to str.isdigit() but not to int()


def test_a_superscript_score_is_refused_by_the_api_and_the_page(campaign, expert, client):
    item = campaign.items.first()
    scores = {criterion["key"]: "4" for criterion in campaign.rubric}
    api = APIClient()
    api.force_authenticate(expert)

    by_api = api.put(
        reverse("gallery_api:review_response", args=[item.token]),
        {"scores": {**scores, "structure": "³"}},
        format="json",
    )
    client.force_login(expert)
    page = client.post(
        reverse("gallery:review_item", args=[campaign.pk, item.token]),
        {**{f"score-{key}": value for key, value in scores.items()}, "score-structure": "³"},
    )

    assert by_api.status_code == 400
    assert "from 1 to 5" in by_api.json()["structure"][0]
    assert page.status_code == 400
    assert "from 1 to 5" in page.content.decode()
    assert not ExpertScore.objects.exists()


# Ids larger than any database integer


def test_filters_with_an_id_no_database_can_hold_answer_400(client, published):  # noqa: F811
    for site in (TOO_BIG, "³", "0", "-1"):
        page = client.get(reverse("gallery:exhibition_list"), {"site": site})
        assert page.status_code == 400, site
        assert "A site is given by its numeric id" in page.content.decode()
        detail = client.get(published.get_absolute_url(), {"site": site})
        assert detail.status_code == 400, site

        api = client.get("/api/v1/exhibitions/", {"site": site})
        assert api.status_code == 400, site
        assert "numeric id" in api.json()["site"][0]
    assert client.get(reverse("gallery:exhibition_list"), {"site": ""}).status_code == 200


def _routes_with_ids():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return [route for route in walk(get_resolver().url_patterns) if "<id:" in route]


def test_every_path_id_is_an_id_converter():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    routes = list(walk(get_resolver().url_patterns))
    assert not [route for route in routes if "<int:" in route]
    assert len(_routes_with_ids()) > 20


def test_path_ids_too_large_for_the_database_are_404_never_500(curator_client, curator):
    motif = factories.make_motif(user=curator, seed=8)
    annotation = factories.make_annotation(motif=motif, user=curator)
    curator_client.raise_request_exception = False
    answers = {}
    for route in _routes_with_ids():
        names = re.findall(r"<id:(\w+)>", route)
        for target in names:
            url = route
            for name in names:
                value = TOO_BIG if name == target else str(annotation.pk)
                url = url.replace(f"<id:{name}>", value)
            url = "/" + re.sub(r"<\w+:\w+>", "x", url)
            for method in ("get", "post"):
                answers[(method, url)] = getattr(curator_client, method)(url).status_code

    assert answers[("get", f"/motifs/{TOO_BIG}/damage/{annotation.pk}/compare/")] == 404
    assert answers[("post", f"/manage/exhibitions/{TOO_BIG}/entries/{annotation.pk}/")] == 404
    assert not {key: code for key, code in answers.items() if code >= 500}


def test_a_study_vote_for_a_trial_id_too_large_is_refused(client, study):
    page = client.post(
        reverse("gallery:study_vote", args=[study.slug]),
        {"trial": TOO_BIG, "shown": "a,b", "choice": "a"},
        follow=True,
    )
    by_api = APIClient().post(
        reverse("gallery_api:study_votes", args=[study.slug]),
        {"trial": int(TOO_BIG), "shown": ["a", "b"], "choice": "a"},
        format="json",
    )

    assert page.status_code == 200 and "could not be read" in page.content.decode()
    assert by_api.status_code == 400 and "trial" in by_api.json()
    assert not StudyVote.objects.exists()


def test_retire_after_beyond_the_column_is_refused_with_a_message(curator_client, restorations):  # noqa: F811
    response = curator_client.post(
        reverse("gallery:study_create"),
        {
            "title": "Too patient",
            "question": "Which image best represents the original artwork?",
            "retire_after": str(2**31),
            "restorations": [r.pk for r in restorations],
        },
    )

    assert response.status_code == 400
    assert "Retire after at most 2,147,483,647 votes" in response.content.decode()
    assert not UserStudy.objects.exists()


# Tokens: a bad one is no credential on public reads, and a clear 401 elsewhere


def test_a_bad_token_reads_public_endpoints_as_anonymous(published, study, expert):  # noqa: F811
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert api.get("/api/v1/exhibitions/").status_code == 200
    assert api.get(f"/api/v1/exhibitions/{published.slug}/").status_code == 200
    assert api.get(reverse("gallery_api:study", args=[study.slug])).status_code == 200
    for malformed in ("Token", "Token two words", "Token \u00e9t\u00e9"):
        api.credentials(HTTP_AUTHORIZATION=malformed)
        assert api.get("/api/v1/exhibitions/").status_code == 200, malformed

    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    refused = api.get(reverse("gallery_api:review_campaigns"))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid token."
    assert refused["WWW-Authenticate"].startswith("Token")

    token = Token.objects.create(user=expert)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get(reverse("gallery_api:review_campaigns")).status_code == 200
    assert APIClient().get(reverse("gallery_api:review_campaigns")).status_code == 403


# Long file names


def _multipart(fields: dict, file_field: str, file_name: str, data: bytes) -> tuple[bytes, str]:
    """A multipart body written by hand: the test client would truncate the file name first."""
    boundary = "----heritage-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{file_name}"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_a_thousand_character_file_name_is_stored_truncated(curator_client):
    name = "mural-" + "a" * 990 + ".png"
    body, content_type = _multipart(
        {"title": "Long name", "new_site": "Cave 1"}, "image", name, factories.png_bytes(seed=31)
    )

    response = curator_client.post(
        reverse("heritage:motif_upload"), body, content_type=content_type
    )

    assert response.status_code == 302, response.content[:300]
    motif = Motif.objects.get(title="Long name")
    assert len(motif.original_filename) <= 255
    assert motif.original_filename.startswith("mural-aaa") and motif.original_filename.endswith(
        ".png"
    )


@pytest.mark.parametrize("name", ["mural." + "b" * 1000, "c" * 1000 + ".tiff", "d" * 1000])
def test_long_names_of_large_uploads_streamed_to_disk_are_truncated(curator_client, settings, name):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100  # this upload goes to a temporary file
    body, content_type = _multipart(
        {"title": "Large upload", "new_site": "Cave 4"}, "image", name, factories.png_bytes(seed=33)
    )

    response = curator_client.post(
        reverse("heritage:motif_upload"), body, content_type=content_type
    )

    assert response.status_code == 302, response.content[:300]
    stored = Motif.objects.get(title="Large upload").original_filename
    assert len(stored) <= 255 and stored[0] == name[0]
    assert stored.endswith(".tiff") == name.endswith(".tiff")


def test_a_file_name_beyond_the_header_limit_gets_a_clear_400(curator_client, motif):
    name = "b" * 9000 + ".png"
    mask = factories.mask_png_bytes(factories.block_mask(motif))
    body, content_type = _multipart({}, "mask", name, mask)
    url = reverse("heritage:annotation_import", args=[motif.pk])

    script = curator_client.post(url, body, content_type=content_type)
    browser = curator_client.post(
        url, body, content_type=content_type, HTTP_ACCEPT="text/html,application/xhtml+xml"
    )

    assert script.status_code == 400
    assert "file name" in script.json()["error"] and "Rename the file" in script.json()["error"]
    assert browser.status_code == 400
    assert "Rename the file" in browser.content.decode()
    assert not DamageAnnotation.objects.exists()


def test_uploads_with_normal_names_are_unchanged(curator_client):
    response = curator_client.post(
        reverse("heritage:motif_upload"),
        {
            "image": SimpleUploadedFile("wall.png", factories.png_bytes(seed=32), "image/png"),
            "title": "Short name",
            "new_site": "Cave 2",
        },
    )
    assert response.status_code == 302
    assert Motif.objects.get(title="Short name").original_filename == "wall.png"
