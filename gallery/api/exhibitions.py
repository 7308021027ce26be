"""Public, read-only API of exhibitions: what the visitor pages show, and never an engine."""

from django.http import Http404
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gallery.models import Exhibition, ExhibitionEntry
from gallery.results import RESTORATION, STYLIZED
from gallery.selectors import exhibitions as selectors
from heritage.ids import parse_id

SHOWN_RESTORED = "digitally restored"
SHOWN_STYLIZED = "stylized by a model from a photograph"
SHOWN_PHOTOGRAPHED = "as photographed"
# What the work page shows, by the kind of the entry's result ("photograph": none).
KINDS = ("restoration", "stylized", "photograph")


def _full_url(exhibition: Exhibition, position: int, which: str) -> str:
    return reverse("gallery:exhibition_work_full", args=[exhibition.slug, position, which])


def _work(exhibition: Exhibition, entry: ExhibitionEntry) -> dict:
    """One work as the work page shows it: previews, outline, metadata; no engine, no job."""
    work = selectors.work_of(entry)
    motif, result = work.motif, work.result
    outline = result.outline if result is not None and result.reconstructed else None
    position = entry.position
    return {
        "position": position,
        "title": motif.title,
        "site": motif.site.name,
        "region": motif.site.region,
        "location": motif.location,
        "era": motif.era,
        "style": motif.style,
        "medium": motif.medium,
        "description": motif.description,
        "credit": motif.credit,
        "licence": motif.licence,
        "caption": entry.caption,
        "width": motif.width,
        "height": motif.height,
        "kind": result.kind if result is not None else "photograph",
        "shown": {RESTORATION: SHOWN_RESTORED, STYLIZED: SHOWN_STYLIZED}.get(
            result.kind if result is not None else "", SHOWN_PHOTOGRAPHED
        ),
        "alt": work.alt,
        "images": {
            "preview": work.image.url,
            "before": result.input_preview.url if result is not None else None,
            "after": result.preview.url if result is not None else None,
            "outline": outline.url if outline else None,
            "thumbnail": work.thumbnail.url,
        },
        "full_resolution": {
            "restored": _full_url(exhibition, position, "restored") if work.restored else None,
            "photograph": _full_url(exhibition, position, "photograph"),
        },
        "page": entry.get_absolute_url(),
    }


class ExhibitionListApi(APIView):
    """Published exhibitions, newest first, optionally only those with works of a site/era/style."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        # Blank values mean "all", as in the page's filter form; an unknown value matches nothing.
        site = serializers.CharField(required=False, allow_blank=True)
        era = serializers.CharField(required=False, allow_blank=True, default="")
        style = serializers.CharField(required=False, allow_blank=True, default="")

        def validate_site(self, value: str) -> int | None:
            if not value:
                return None
            site = parse_id(value)
            if site is None:
                raise serializers.ValidationError("A site is given by its numeric id.")
            return site

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ExhibitionSummary"

        slug = serializers.SlugField()
        title = serializers.CharField()
        summary = serializers.CharField()
        published_at = serializers.DateTimeField()
        works = serializers.IntegerField()
        cover = serializers.CharField(allow_null=True, help_text="Preview of the first work.")
        cover_alt = serializers.CharField(allow_null=True)
        url = serializers.CharField(help_text="The exhibition's page.")

    @extend_schema(
        parameters=[
            OpenApiParameter("site", int, description="Only exhibitions with a work of this site."),
            OpenApiParameter("era", str, description="Only those with a work of this era."),
            OpenApiParameter("style", str, description="Only those with a work of this style."),
        ],
        responses=OutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        exhibitions = selectors.exhibitions_published(
            site=filters.validated_data.get("site"),
            era=filters.validated_data["era"],
            style=filters.validated_data["style"],
        )
        rows = []
        for exhibition in exhibitions:
            cover = selectors.exhibition_cover(exhibition=exhibition)
            rows.append(
                {
                    "slug": exhibition.slug,
                    "title": exhibition.title,
                    "summary": exhibition.summary,
                    "published_at": exhibition.published_at,
                    "works": exhibition.work_count,
                    "cover": cover.image.url if cover else None,
                    "cover_alt": cover.alt if cover else None,
                    "url": exhibition.get_absolute_url(),
                }
            )
        return Response(self.OutputSerializer(rows, many=True).data)


class ExhibitionDetailApi(APIView):
    """One exhibition with its works in order; drafts only for curators."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        class WorkSerializer(serializers.Serializer):
            class ImagesSerializer(serializers.Serializer):
                class Meta:
                    ref_name = "ExhibitionWorkImages"

                preview = serializers.CharField(help_text="What the work page shows.")
                before = serializers.CharField(
                    allow_null=True,
                    help_text="The damaged input, or the photograph that was stylized.",
                )
                after = serializers.CharField(
                    allow_null=True, help_text="The restoration or the stylized image."
                )
                outline = serializers.CharField(
                    allow_null=True, help_text="Border of the reconstructed area (transparent PNG)."
                )
                thumbnail = serializers.CharField(help_text="Thumbnail of the photograph.")

            class FullResolutionSerializer(serializers.Serializer):
                class Meta:
                    ref_name = "ExhibitionWorkFullResolution"

                restored = serializers.CharField(
                    allow_null=True, help_text="The result: restored or stylized image."
                )
                photograph = serializers.CharField()

            class Meta:
                ref_name = "ExhibitionWork"

            position = serializers.IntegerField()
            title = serializers.CharField()
            site = serializers.CharField()
            region = serializers.CharField()
            location = serializers.CharField()
            era = serializers.CharField()
            style = serializers.CharField()
            medium = serializers.CharField()
            description = serializers.CharField()
            credit = serializers.CharField()
            licence = serializers.CharField()
            caption = serializers.CharField()
            width = serializers.IntegerField()
            height = serializers.IntegerField()
            kind = serializers.CharField(
                help_text=f"{' | '.join(KINDS)}: a stylized image re-renders the whole "
                "photograph in a painting style; nothing in it is a reconstruction."
            )
            shown = serializers.CharField(
                help_text=f"{SHOWN_RESTORED} | {SHOWN_STYLIZED} | {SHOWN_PHOTOGRAPHED}"
            )
            alt = serializers.CharField()
            images = ImagesSerializer()
            full_resolution = FullResolutionSerializer()
            page = serializers.CharField(help_text="The work's page.")

        class Meta:
            ref_name = "Exhibition"

        slug = serializers.SlugField()
        title = serializers.CharField()
        status = serializers.CharField(help_text='"published", or "draft" (curators only).')
        summary = serializers.CharField()
        text = serializers.CharField()
        credits = serializers.CharField()
        licence = serializers.CharField()
        published_at = serializers.DateTimeField(allow_null=True)
        url = serializers.CharField(help_text="The exhibition's page.")
        works = WorkSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        exhibition = selectors.exhibition_for_user(slug=slug, user=request.user)
        if exhibition is None:
            raise Http404("No such exhibition.")
        entries = selectors.exhibition_entries(exhibition=exhibition)
        data = {
            "slug": exhibition.slug,
            "title": exhibition.title,
            "status": exhibition.status,
            "summary": exhibition.summary,
            "text": exhibition.text,
            "credits": exhibition.credits,
            "licence": exhibition.licence,
            "published_at": exhibition.published_at,
            "url": exhibition.get_absolute_url(),
            "works": [_work(exhibition, entry) for entry in entries],
        }
        return Response(self.OutputSerializer(data).data)


urlpatterns = [
    path("exhibitions/", ExhibitionListApi.as_view(), name="exhibitions"),
    path("exhibitions/<slug:slug>/", ExhibitionDetailApi.as_view(), name="exhibition"),
]
