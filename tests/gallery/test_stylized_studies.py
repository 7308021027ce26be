"""Style studies: stylized images of a photograph, with real paintings as optional candidates."""

import csv
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from gallery.models import STYLE_QUESTION, Participant, StudyCandidate, StudyTrial, UserStudy
from gallery.selectors import studies as selectors
from gallery.services import studies as services
from heritage.media import motif_file_url
from tests.gallery.stylized import make_painting, make_photograph, make_stylized

pytestmark = pytest.mark.django_db

QUESTION = STYLE_QUESTION


@pytest.fixture
def photographs(curator, media):
    return [make_photograph(user=curator, seed=20 + n, title=f"Valley {n}") for n in (1, 2)]


@pytest.fixture
def stylized(curator, photographs):
    """Per photograph: one image by cyclegan, one by cut."""
    return [
        make_stylized(motif=photo, user=curator, engine=engine)
        for photo in photographs
        for engine in ("cyclegan", "cut")
    ]


@pytest.fixture
def paintings(curator, media):
    return [make_painting(user=curator, seed=40 + n, title=f"Qinglv scroll {n}") for n in (1, 2)]


def style_study(curator, stylized, paintings=(), **options) -> UserStudy:
    return services.study_create(
        created_by=curator,
        title="Blue-green style",
        question=QUESTION,
        restorations=stylized,
        artworks=paintings,
        open_now=True,
        **options,
    )


def test_a_style_study_has_a_trial_per_photograph_with_every_painting_in_each(
    curator, stylized, paintings
):
    study = style_study(curator, stylized, paintings)

    assert study.kind == "stylized"
    trials = list(study.trials.order_by("position"))
    assert [trial.motif.title for trial in trials] == ["Valley 1", "Valley 2"]
    for trial in trials:
        candidates = list(trial.candidates.all())
        assert sorted(c.restoration.engine for c in candidates if c.restoration) == [
            "cut",
            "cyclegan",
        ]
        assert {c.artwork_id for c in candidates if c.artwork_id} == {p.pk for p in paintings}
        assert all(
            c.restoration_id and c.restoration.job.motif == trial.motif or c.artwork_id
            for c in candidates
        )


def test_one_stylized_image_and_a_painting_make_a_trial_but_one_alone_does_not(
    curator, photographs, paintings
):
    lone = make_stylized(motif=photographs[0], user=curator)

    with pytest.raises(ValidationError) as refused:
        style_study(curator, [lone])
    assert refused.value.code == "too_few_candidates"
    assert "or a real painting" in refused.value.messages[0]
    assert not UserStudy.objects.exists()

    study = style_study(curator, [lone], paintings[:1])
    assert study.trials.get().candidates.count() == 2


def test_restorations_and_stylized_images_are_not_mixed_in_one_study(
    curator, restorations, stylized
):
    with pytest.raises(ValidationError) as refused:
        style_study(curator, [*restorations, *stylized])

    assert refused.value.code == "mixed_kinds"
    assert "4 restoration(s) and 4 stylized image(s)" in refused.value.messages[0]
    assert not UserStudy.objects.exists()


def test_paintings_are_refused_beside_restorations_and_photographs_as_paintings(
    curator, restorations, stylized, photographs, paintings
):
    with pytest.raises(ValidationError) as beside:
        style_study(curator, restorations, paintings)
    assert beside.value.code == "artwork_with_restorations"

    with pytest.raises(ValidationError) as photo:
        style_study(curator, stylized, [photographs[0]])
    assert photo.value.code == "not_artwork"
    assert "Valley 1" in photo.value.messages[0]
    assert not UserStudy.objects.exists()


def test_a_candidate_is_exactly_one_of_a_result_and_a_painting(curator, stylized, paintings):
    study = style_study(curator, stylized)
    trial = study.trials.first()

    with pytest.raises(IntegrityError), transaction.atomic():
        StudyCandidate.objects.create(
            trial=trial, restoration=stylized[2], artwork=paintings[0], token="rboth"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        StudyCandidate.objects.create(trial=trial, token="rnone")
    StudyCandidate.objects.create(trial=trial, artwork=paintings[0], token="rpainting")
    with pytest.raises(IntegrityError), transaction.atomic():
        StudyCandidate.objects.create(trial=trial, artwork=paintings[0], token="rtwice")


def test_the_input_of_a_trial_is_the_photograph_never_a_painting(curator, stylized, paintings):
    study = style_study(curator, stylized[:2])
    trial = study.trials.get()
    # A painting added before any result (the lowest id) must still not stand as the input.
    trial.candidates.all().delete()
    StudyCandidate.objects.create(trial=trial, artwork=paintings[0], token="rfirst")
    StudyCandidate.objects.create(trial=trial, restoration=stylized[0], token="rsecond")

    response = Client().get(reverse("gallery:study_input_image", args=[trial.pk]))

    assert response.status_code == 200
    with stylized[0].input_preview.open("rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()


def serve(client: Client, study: UserStudy) -> str:
    return client.get(
        reverse("gallery:study_vote", args=[study.slug]), follow=True
    ).content.decode()


def test_participants_see_paintings_only_under_opaque_tokens_and_never_told_which(
    curator, stylized, paintings
):
    study = style_study(curator, stylized, paintings[:1])
    visitor = Client()

    html = serve(visitor, study)

    tokens = re.findall(r'name="choice" value="(r[^"]+)"', html)
    assert len(tokens) == 3
    lowered = html.lower()
    for secret in ("real painting", "qinglv scroll", "cyclegan", "cut ", "artwork", "/media/"):
        assert secret not in lowered, secret
    painting = StudyCandidate.objects.get(token__in=tokens, artwork__isnull=False)
    image = visitor.get(reverse("gallery:study_candidate_image", args=[painting.token]))
    assert image.status_code == 200
    with paintings[0].preview.open("rb") as handle:
        assert b"".join(image.streaming_content) == handle.read()
    # The painting's own catalogue URL is not for visitors: only the token leads to it.
    assert visitor.get(motif_file_url(paintings[0], "preview")).status_code == 404

    services.study_close(study=study, user=curator)
    closed = visitor.get(reverse("gallery:study_candidate_image", args=[painting.token]))
    assert closed.status_code == 404


def test_results_and_votes_csv_name_real_paintings_for_curators(
    curator, curator_client, stylized, paintings
):
    study = style_study(curator, stylized, paintings)
    trial = study.trials.get(position=1)
    voters = [Participant.objects.create() for _ in range(3)]
    choices = [
        trial.candidates.get(artwork=paintings[0]),
        trial.candidates.get(artwork=paintings[1]),
        trial.candidates.get(restoration__engine="cyclegan"),
    ]
    for voter, choice in zip(voters, choices, strict=True):
        served = services.trial_serve(study=study, participant=voter, position=1)
        services.vote_cast(trial=trial, participant=voter, choice=choice.token, shown=served.shown)

    results = selectors.study_results(study=study, resamples=20)

    rows = {row["engine"]: row for row in results["engines"]}
    assert set(rows) == {"cut", "cyclegan", "real painting"}
    assert rows["real painting"]["kind"] == "artwork"
    assert rows["cyclegan"]["kind"] == "stylized"
    assert rows["real painting"]["votes"] == 2 and rows["cyclegan"]["votes"] == 1
    assert rows["real painting"]["share"].value == pytest.approx(2 / 3)
    assert rows["real painting"]["scale"].value > rows["cut"]["scale"].value

    assert results["trials"][0]["candidates"] == [
        "cut",
        "cyclegan",
        "real painting: Qinglv scroll 1",
        "real painting: Qinglv scroll 2",
    ]
    page = curator_client.get(reverse("gallery:study_results", args=[study.pk]))
    assert page.status_code == 200
    assert "real painting: Qinglv scroll 2" in page.content.decode()

    response = curator_client.get(reverse("gallery:study_votes_csv", args=[study.pk]))
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["choice_engine"] for row in table] == ["real painting"] * 2 + ["cyclegan"]
    assert [row["choice_kind"] for row in table] == ["artwork", "artwork", "stylized"]
    assert all(row["shown_engines"].count("real painting") == 2 for row in table)


def test_api_results_give_the_kind_of_each_row(curator, curator_client, stylized, paintings):
    study = style_study(curator, stylized, paintings[:1])

    data = curator_client.get(f"/api/v1/studies/{study.pk}/results/").json()

    assert data["kind"] == "stylized"
    assert {row["engine"]: row["kind"] for row in data["engines"]} == {
        "cut": "stylized",
        "cyclegan": "stylized",
        "real painting": "artwork",
    }
    detail = Client().get(f"/api/v1/studies/{study.slug}/").json()
    assert detail["kind"] == "stylized"


def test_curator_creates_a_style_study_with_paintings_from_the_form(
    curator_client, stylized, paintings, restorations
):
    page = curator_client.get(reverse("gallery:study_create"))
    html = page.content.decode()
    assert "Qinglv scroll 1" in html and "stylized by cyclegan" in html
    # With stylized images to choose from, no restoration is ticked in advance.
    assert not re.search(r'name="restorations" value="\d+" checked', html)

    response = curator_client.post(
        reverse("gallery:study_create"),
        {
            "title": "Blue-green style",
            "question": QUESTION,
            "restorations": [r.job_id for r in stylized],
            "artworks": [paintings[0].pk],
            "allow_not_sure": "on",
        },
    )

    study = UserStudy.objects.get()
    assert response.status_code == 302
    assert study.kind == "stylized" and study.question == QUESTION
    assert StudyCandidate.objects.filter(trial__study=study, artwork=paintings[0]).count() == 2


def test_the_form_refuses_mixed_kinds_with_the_reason(curator_client, stylized, restorations):
    response = curator_client.post(
        reverse("gallery:study_create"),
        {
            "title": "Mixed",
            "question": QUESTION,
            "restorations": [stylized[0].job_id, stylized[1].job_id, restorations[0].job_id],
        },
    )

    assert response.status_code == 400
    assert "one kind of result" in response.content.decode()
    assert not UserStudy.objects.exists() and not StudyTrial.objects.exists()


def test_restoration_studies_list_no_stylized_group(curator, restorations, stylized):
    groups = selectors.study_restoration_groups()
    assert {r.task for group in groups for r in group["restorations"]} == {"restore"}
    style_groups = selectors.study_stylized_groups()
    assert [len(group["restorations"]) for group in style_groups] == [2, 2]
