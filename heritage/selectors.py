"""Reads of the catalogue: motif lists with filters, annotations, the choices for filters."""

from django.db.models import Count, Q, QuerySet

from heritage.models import DamageAnnotation, Motif, Site, User


def user_can_browse_catalogue(*, user: User) -> bool:
    """Curators and experts see the whole catalogue; visitors see published exhibitions only."""
    return user.is_authenticated and (user.is_curator or user.is_expert)


def user_first_curator() -> User | None:
    """The longest-standing active curator or superuser, to act for commands; None if none."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(role=User.Role.CURATOR))
        .order_by("pk")
        .first()
    )


def motif_list(
    *,
    site: int | None = None,
    era: str = "",
    style: str = "",
    search: str = "",
    kind: str = "",
) -> QuerySet[Motif]:
    """Motifs, newest first, filtered by site id, era, style and kind (artwork or photograph),
    searched by title words."""
    motifs = (
        Motif.objects.select_related("site")
        .annotate(
            annotation_count=Count("annotations", filter=Q(annotations__superseded_by__isnull=True))
        )
        .order_by("-created_at", "-id")
    )
    if site:
        motifs = motifs.filter(site_id=site)
    if era:
        motifs = motifs.filter(era=era)
    if style:
        motifs = motifs.filter(style=style)
    if kind:
        motifs = motifs.filter(kind=kind)
    for word in search.split()[:8]:
        motifs = motifs.filter(title__icontains=word)
    return motifs


def motif_filter_choices() -> dict[str, list]:
    """The values the list can be filtered by: sites, eras and styles that are in use."""

    def distinct(field: str) -> list[str]:
        values = Motif.objects.exclude(**{field: ""}).values_list(field, flat=True)
        return sorted(set(values), key=str.casefold)

    return {
        "sites": list(Site.objects.annotate(n=Count("motifs")).filter(n__gt=0).order_by("name")),
        "eras": distinct("era"),
        "styles": distinct("style"),
        "kinds": Motif.Kind.choices,
    }


def motif_get(*, pk: int) -> Motif:
    """One motif with its site. Raises Motif.DoesNotExist."""
    return Motif.objects.select_related("site", "uploaded_by").get(pk=pk)


def annotation_list(*, motif: Motif) -> QuerySet[DamageAnnotation]:
    """The current annotations of a motif (latest revisions only), newest first."""
    return (
        DamageAnnotation.objects.filter(motif=motif, superseded_by__isnull=True)
        .select_related("author", "supersedes")
        .order_by("-created_at", "-id")
    )


def annotation_get(*, pk: int) -> DamageAnnotation:
    """One annotation with its motif. Raises DamageAnnotation.DoesNotExist."""
    return DamageAnnotation.objects.select_related("motif", "author").get(pk=pk)


def annotation_history(*, annotation: DamageAnnotation) -> list[DamageAnnotation]:
    """Earlier revisions of an annotation, most recent first."""
    history = []
    current = annotation.supersedes
    while current is not None and len(history) < 100:
        history.append(current)
        current = current.supersedes
    return history


def site_list() -> QuerySet[Site]:
    """Sites by name, each with its number of motifs (`motif_count`)."""
    return Site.objects.annotate(motif_count=Count("motifs")).order_by("name")
