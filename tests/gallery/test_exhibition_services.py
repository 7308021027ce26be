"""Exhibition services: slugs, works in order, the motif check, publishing, cache drops."""

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError

from gallery.cache import GENERATION_KEY
from gallery.models import Exhibition
from gallery.services import exhibitions as services


def _order(exhibition) -> list[tuple[int, int]]:
    """(position, entry id) of every work, in order."""
    return list(exhibition.entries.order_by("position").values_list("position", "pk"))


@pytest.fixture
def exhibition(curator):
    return services.exhibition_create(created_by=curator, title="Painted caves")


@pytest.fixture
def four_works(exhibition, curator, motifs, restorations):
    (m1, _), (m2, _) = motifs
    return [
        services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=m1),
        services.exhibition_entry_add(
            exhibition=exhibition, user=curator, motif=m2, restoration=restorations[2]
        ),
        services.exhibition_entry_add(
            exhibition=exhibition, user=curator, motif=m1, restoration=restorations[1]
        ),
        services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=m2),
    ]


def test_exhibition_create_makes_a_draft_with_a_unique_slug_from_the_title(curator):
    first = services.exhibition_create(
        created_by=curator, title="  Murals of   Mogao ", summary=" Caves ", licence="CC BY"
    )
    second = services.exhibition_create(created_by=curator, title="Murals of Mogao!")
    third = services.exhibition_create(created_by=curator, title="murals of mogao")

    assert (first.title, first.summary, first.licence) == ("Murals of Mogao", "Caves", "CC BY")
    assert [first.slug, second.slug, third.slug] == [
        "murals-of-mogao",
        "murals-of-mogao-2",
        "murals-of-mogao-3",
    ]
    assert first.status == Exhibition.Status.DRAFT
    assert first.published_at is None
    assert first.created_by == curator
    # A title with no latin letters or digits still gets an address.
    assert services.exhibition_create(created_by=curator, title="莫高窟").slug == "exhibition"


def test_exhibition_create_keeps_an_explicit_slug_or_refuses_a_taken_one(curator):
    made = services.exhibition_create(created_by=curator, title="Rock art", slug="Huashan Art")
    assert made.slug == "huashan-art"

    with pytest.raises(ValidationError, match="taken"):
        services.exhibition_create(created_by=curator, title="Other", slug="huashan-art")
    assert Exhibition.objects.count() == 1


def test_exhibition_create_requires_a_title(curator):
    with pytest.raises(ValidationError, match="title"):
        services.exhibition_create(created_by=curator, title="   ")
    assert not Exhibition.objects.exists()


@pytest.mark.parametrize("who", ["expert", "plain_user"])
def test_exhibition_services_refuse_non_curators(request, who, exhibition, motifs):
    user = request.getfixturevalue(who)
    motif, _ = motifs[0]
    with pytest.raises(PermissionDenied):
        services.exhibition_create(created_by=user, title="Mine")
    with pytest.raises(PermissionDenied):
        services.exhibition_update(exhibition=exhibition, user=user, title="Changed")
    with pytest.raises(PermissionDenied):
        services.exhibition_entry_add(exhibition=exhibition, user=user, motif=motif)
    with pytest.raises(PermissionDenied):
        services.exhibition_publish(exhibition=exhibition, user=user)
    exhibition.refresh_from_db()
    assert exhibition.title == "Painted caves"
    assert Exhibition.objects.count() == 1
    assert not exhibition.entries.exists()


def test_exhibition_update_changes_texts_and_refuses_bad_input(exhibition, curator):
    services.exhibition_create(created_by=curator, title="Taken")
    services.exhibition_update(
        exhibition=exhibition, user=curator, title="Painted caves II", credits="Photos: A. B."
    )
    exhibition.refresh_from_db()
    assert (exhibition.title, exhibition.credits) == ("Painted caves II", "Photos: A. B.")
    assert exhibition.slug == "painted-caves"  # a new title does not move the page

    with pytest.raises(ValidationError, match="taken"):
        services.exhibition_update(exhibition=exhibition, user=curator, slug="taken")
    with pytest.raises(ValidationError, match="Unknown"):
        services.exhibition_update(exhibition=exhibition, user=curator, status="published")
    with pytest.raises(ValidationError, match="title"):
        services.exhibition_update(exhibition=exhibition, user=curator, title="")
    exhibition.refresh_from_db()
    assert (exhibition.slug, exhibition.title, exhibition.status) == (
        "painted-caves",
        "Painted caves II",
        "draft",
    )


def test_exhibition_entry_add_appends_works_with_or_without_a_result(four_works, restorations):
    assert [entry.position for entry in four_works] == [1, 2, 3, 4]
    assert four_works[0].restoration is None
    assert four_works[1].restoration == restorations[2]


def test_exhibition_entry_add_refuses_a_restoration_of_another_motif(
    exhibition, curator, motifs, restorations
):
    motif, _ = motifs[0]
    with pytest.raises(ValidationError, match="Demo motif 2"):
        services.exhibition_entry_add(
            exhibition=exhibition, user=curator, motif=motif, restoration=restorations[3]
        )
    assert not exhibition.entries.exists()


def test_exhibition_entry_update_changes_result_and_caption_of_the_same_motif_only(
    four_works, curator, restorations
):
    entry = four_works[0]  # motif 1, shown as photographed
    services.exhibition_entry_update(
        entry=entry, user=curator, restoration=restorations[0], caption=" West wall "
    )
    entry.refresh_from_db()
    assert (entry.restoration, entry.caption) == (restorations[0], "West wall")

    with pytest.raises(ValidationError, match="not of"):
        services.exhibition_entry_update(
            entry=entry, user=curator, restoration=restorations[2], caption="x"
        )
    entry.refresh_from_db()
    assert (entry.restoration, entry.caption) == (restorations[0], "West wall")


def test_exhibition_entry_remove_closes_up_the_positions(exhibition, four_works, curator):
    services.exhibition_entry_remove(entry=four_works[1], user=curator)
    assert _order(exhibition) == [
        (1, four_works[0].pk),
        (2, four_works[2].pk),
        (3, four_works[3].pk),
    ]

    services.exhibition_entry_remove(entry=four_works[0], user=curator)
    assert _order(exhibition) == [(1, four_works[2].pk), (2, four_works[3].pk)]


def test_exhibition_entry_move_swaps_with_the_neighbour(exhibition, four_works, curator):
    a, b, c, d = (entry.pk for entry in four_works)
    moved = services.exhibition_entry_move(entry=four_works[2], user=curator, offset=-1)
    assert moved.position == 2
    assert _order(exhibition) == [(1, a), (2, c), (3, b), (4, d)]

    services.exhibition_entry_move(entry=four_works[0], user=curator, offset=1)
    assert _order(exhibition) == [(1, c), (2, a), (3, b), (4, d)]


def test_exhibition_entry_move_refuses_past_either_end_and_other_offsets(
    exhibition, four_works, curator
):
    before = _order(exhibition)
    with pytest.raises(ValidationError, match="already the first"):
        services.exhibition_entry_move(entry=four_works[0], user=curator, offset=-1)
    with pytest.raises(ValidationError, match="already the last"):
        services.exhibition_entry_move(entry=four_works[3], user=curator, offset=1)
    with pytest.raises(ValidationError, match="one place"):
        services.exhibition_entry_move(entry=four_works[1], user=curator, offset=2)
    assert _order(exhibition) == before


def test_exhibition_publish_needs_a_work_and_keeps_the_first_publication_date(
    exhibition, curator, motifs
):
    with pytest.raises(ValidationError, match="at least one work"):
        services.exhibition_publish(exhibition=exhibition, user=curator)
    exhibition.refresh_from_db()
    assert exhibition.status == Exhibition.Status.DRAFT

    services.exhibition_entry_add(exhibition=exhibition, user=curator, motif=motifs[0][0])
    services.exhibition_publish(exhibition=exhibition, user=curator)
    exhibition.refresh_from_db()
    first_published = exhibition.published_at
    assert exhibition.is_published and first_published is not None

    services.exhibition_unpublish(exhibition=exhibition, user=curator)
    exhibition.refresh_from_db()
    assert exhibition.status == Exhibition.Status.DRAFT
    services.exhibition_publish(exhibition=exhibition, user=curator)
    exhibition.refresh_from_db()
    assert exhibition.published_at == first_published


def test_exhibition_writes_drop_the_public_page_cache_once_committed(
    curator, motifs, django_capture_on_commit_callbacks
):
    def generation():
        return cache.get(GENERATION_KEY)

    cache.set(GENERATION_KEY, 1, timeout=None)
    with django_capture_on_commit_callbacks(execute=True):
        exhibition = services.exhibition_create(created_by=curator, title="Cache me")
    assert generation() == 2
    with django_capture_on_commit_callbacks(execute=True):
        entry = services.exhibition_entry_add(
            exhibition=exhibition, user=curator, motif=motifs[0][0]
        )
        services.exhibition_entry_update(entry=entry, user=curator, restoration=None, caption="c")
        services.exhibition_publish(exhibition=exhibition, user=curator)
    assert generation() == 5
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.exhibition_unpublish(exhibition=exhibition, user=curator)
    # Not before the commit: a visitor in between would cache the old page again.
    assert generation() == 5 and len(callbacks) == 1
