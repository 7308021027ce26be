"""The style showcase for demo content: one exhibited stylized image, one open style study."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from gallery.models import STYLE_QUESTION, ExhibitionEntry, StudyCandidate, UserStudy
from gallery.services.showcase import STYLE_STUDY_SLUG, style_showcase
from tests.gallery.stylized import make_painting, make_photograph, make_stylized

pytestmark = pytest.mark.django_db


@pytest.fixture
def stylized(curator, media):
    photo = make_photograph(user=curator, seed=90, title="Terraces")
    return [make_stylized(motif=photo, user=curator, engine=e) for e in ("cyclegan", "cut")]


def test_it_exhibits_the_first_image_and_opens_a_study_once(curator, published, stylized):
    made = style_showcase(curator=curator, stylized=stylized, exhibition=published)

    entry, study = made["entry"], made["study"]
    assert entry.position == 3 and entry.restoration == stylized[0]
    assert entry.motif.title == "Terraces" and "Not a restoration" in entry.caption
    assert study.slug == STYLE_STUDY_SLUG and study.is_open and study.kind == "stylized"
    assert study.question == STYLE_QUESTION and study.show_input
    assert study.trials.get().candidates.count() == 2

    again = style_showcase(curator=curator, stylized=stylized, exhibition=published)

    assert again == {"entry": None, "study": None}
    assert published.entries.count() == 3 and UserStudy.objects.count() == 1


def test_paintings_join_every_image_set_and_hide_the_photograph(curator, media, stylized):
    paintings = [make_painting(user=curator, seed=91, title="Scroll")]

    study = style_showcase(curator=curator, stylized=stylized[:1], paintings=paintings)["study"]

    assert not study.show_input
    assert StudyCandidate.objects.filter(trial__study=study, artwork=paintings[0]).count() == 1


def test_restorations_and_nothing_are_refused_and_nothing_is_written(
    curator, expert, published, restorations, stylized
):
    with pytest.raises(ValidationError) as restored:
        style_showcase(curator=curator, stylized=[restorations[0]], exhibition=published)
    assert restored.value.code == "not_stylized"
    with pytest.raises(ValidationError):
        style_showcase(curator=curator, stylized=[], exhibition=published)
    with pytest.raises(PermissionDenied):
        style_showcase(curator=expert, stylized=stylized, exhibition=published)
    # One image of a photograph and no painting: the study is refused, the work not added.
    with pytest.raises(ValidationError) as lonely:
        style_showcase(curator=curator, stylized=stylized[:1], exhibition=published)
    assert lonely.value.code == "too_few_candidates"
    assert not ExhibitionEntry.objects.filter(restoration__in=stylized).exists()
    assert not UserStudy.objects.exists()


def test_without_a_study_one_image_is_exhibited_alone(curator, published, stylized):
    made = style_showcase(
        curator=curator, stylized=stylized[:1], exhibition=published, with_study=False
    )

    assert made["entry"].restoration == stylized[0] and made["study"] is None
    assert not UserStudy.objects.exists()
