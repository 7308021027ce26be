"""REST API of the catalogue: sites and motifs (upload, list, detail, metadata, files).

Uploads and edits are validated by the pages' own forms (heritage.forms) and written by the
same services (heritage.services), so a script is refused with the words a curator reads.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from heritage import forms, media, selectors, services
from heritage.api.common import FILE_RESPONSES, FileApi, Pages
from heritage.api.errors import form_error
from heritage.api.permissions import CatalogueReadCuratorWrite
from heritage.ids import parse_id
from heritage.jsonbody import BoundedJSONParser
from heritage.models import Motif, Site

MOTIF_FILES = {
    "original": "original",
    "image": "rgb_file",
    "preview": "preview",
    "thumbnail": "thumbnail",
}


# Sites


class SiteSerializer(serializers.ModelSerializer):
    motifs = serializers.SerializerMethodField(help_text="Motifs of the site in the catalogue.")

    class Meta:
        model = Site
        fields = ["id", "name", "region", "description", "motifs"]

    def get_motifs(self, site: Site) -> int:
        count = getattr(site, "motif_count", None)
        return count if count is not None else site.motifs.count()


class SiteListApi(generics.ListAPIView):
    """Sites by name; POST names a site, created if new (case-insensitive match)."""

    permission_classes = [CatalogueReadCuratorWrite]
    serializer_class = SiteSerializer
    pagination_class = Pages

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        region = serializers.CharField(max_length=200, required=False, default="")
        description = serializers.CharField(required=False, default="", allow_blank=True)

    def get_queryset(self):
        return selectors.site_list()

    @extend_schema(
        request=InputSerializer,
        responses={201: SiteSerializer, 200: SiteSerializer},
        description="201 with the new site, or 200 with the site of that name already there.",
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        existed = Site.objects.filter(name__iexact=" ".join(data.validated_data["name"].split()))
        existed = existed.exists()
        site = services.site_get_or_create(**data.validated_data)
        return Response(SiteSerializer(site).data, status=status.HTTP_200_OK if existed else 201)


class SiteDetailApi(generics.RetrieveAPIView):
    permission_classes = [CatalogueReadCuratorWrite]
    serializer_class = SiteSerializer

    def get_queryset(self):
        return selectors.site_list()


# Motifs


class MotifSiteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MotifFilesSerializer(serializers.Serializer):
    original = serializers.CharField(help_text="The uploaded file, untouched (API download).")
    image = serializers.CharField(help_text="The RGB image engines work on (API download).")
    preview = serializers.CharField()
    thumbnail = serializers.CharField()


class MotifSerializer(serializers.ModelSerializer):
    site = MotifSiteSerializer()
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    annotations = serializers.SerializerMethodField(help_text="Current damage annotations.")
    files = serializers.SerializerMethodField()
    page = serializers.CharField(source="get_absolute_url", help_text="The motif's page.")

    class Meta:
        model = Motif
        fields = [
            "id",
            "title",
            "kind",
            "site",
            *services.MOTIF_TEXT_FIELDS[1:],
            "width",
            "height",
            "original_filename",
            "original_format",
            "original_mode",
            "file_size",
            "sha256",
            "conversions",
            "uploaded_by",
            "created_at",
            "updated_at",
            "annotations",
            "files",
            "page",
        ]

    def get_annotations(self, motif: Motif) -> int:
        count = getattr(motif, "annotation_count", None)
        return count if count is not None else selectors.annotation_list(motif=motif).count()

    @extend_schema_field(MotifFilesSerializer)
    def get_files(self, motif: Motif) -> dict:
        return {kind: motif_file_url(motif, kind) for kind in MOTIF_FILES}


def motif_file_url(motif: Motif, kind: str) -> str:
    return reverse("heritage_api:motif_file", args=[motif.pk, kind])


class MotifFilterSerializer(serializers.Serializer):
    # Blank values mean "all", as in the page's filter form.
    site = serializers.CharField(required=False, allow_blank=True)
    era = serializers.CharField(required=False, allow_blank=True, default="")
    style = serializers.CharField(required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(
        choices=[("", "all"), *Motif.Kind.choices], required=False, default=""
    )
    search = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_site(self, value: str) -> int | None:
        if not value:
            return None
        site = parse_id(value)
        if site is None:
            raise serializers.ValidationError("A site is given by its numeric id.")
        return site


class MotifUploadSerializer(serializers.Serializer):
    """What an upload sends (multipart); the upload form validates it."""

    image = serializers.FileField(help_text="JPEG, PNG, TIFF or WebP; stored untouched.")
    title = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=Motif.Kind.choices, required=False, help_text="Default: artwork."
    )
    site = serializers.IntegerField(required=False, help_text="An existing site's id, or...")
    new_site = serializers.CharField(required=False, help_text="...the name of a new site.")
    location = serializers.CharField(required=False)
    era = serializers.CharField(required=False)
    style = serializers.CharField(required=False)
    medium = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    credit = serializers.CharField(required=False)
    licence = serializers.CharField(required=False)


class MotifEditSerializer(serializers.Serializer):
    """The metadata a PATCH may change; fields left out keep their values."""

    title = serializers.CharField(required=False)
    kind = serializers.ChoiceField(choices=Motif.Kind.choices, required=False)
    site = serializers.IntegerField(required=False)
    new_site = serializers.CharField(required=False)
    location = serializers.CharField(required=False, allow_blank=True)
    era = serializers.CharField(required=False, allow_blank=True)
    style = serializers.CharField(required=False, allow_blank=True)
    medium = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    credit = serializers.CharField(required=False, allow_blank=True)
    licence = serializers.CharField(required=False, allow_blank=True)


class MotifListApi(generics.ListAPIView):
    """Motifs, newest first, filtered as the catalogue page filters; POST uploads one."""

    permission_classes = [CatalogueReadCuratorWrite]
    serializer_class = MotifSerializer
    pagination_class = Pages
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        filters = MotifFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return selectors.motif_list(
            site=data.get("site"),
            era=data["era"],
            style=data["style"],
            search=data["search"],
            kind=data["kind"],
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("site", int, description="Only motifs of this site (id)."),
            OpenApiParameter("era", str, description="Only motifs of this era / dynasty."),
            OpenApiParameter("style", str, description="Only motifs of this style."),
            OpenApiParameter("kind", str, enum=Motif.Kind.values, description="Kind of motif."),
            OpenApiParameter("search", str, description="Words of the title."),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": MotifUploadSerializer},
        responses={
            201: MotifSerializer,
            400: OpenApiResponse(description="The upload form's messages, by field."),
        },
    )
    def post(self, request: Request) -> Response:
        form = forms.MotifUploadForm(request.data, request.FILES)
        if not form.is_valid():
            raise form_error(form)
        data = form.cleaned_data
        try:
            # A refused upload must not leave the new site it named behind.
            with transaction.atomic():
                site = data["site"] or services.site_get_or_create(name=data["new_site"])
                motif = services.motif_create(
                    uploaded_by=request.user,
                    file=data["image"],
                    filename=data["image"].name,
                    site=site,
                    kind=data["kind"],
                    checked=form.checked_image,
                    **{name: data[name] for name in services.MOTIF_TEXT_FIELDS},
                )
        except services.DuplicateMotif as exc:
            raise exceptions.ValidationError({"image": exc.messages}) from exc
        except ValidationError as exc:
            # The page shows these beside the file field too.
            if exc.code in {"bad_image", "too_large"}:
                raise exceptions.ValidationError({"image": exc.messages}) from exc
            raise
        return Response(MotifSerializer(motif).data, status=status.HTTP_201_CREATED)


class MotifDetailApi(APIView):
    """One motif; PATCH changes its metadata (never its image)."""

    permission_classes = [CatalogueReadCuratorWrite]
    parser_classes = [BoundedJSONParser, MultiPartParser, FormParser]

    @extend_schema(responses=MotifSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(MotifSerializer(motif_or_404(pk)).data)

    @extend_schema(
        request=MotifEditSerializer,
        responses={
            200: MotifSerializer,
            400: OpenApiResponse(description="The edit form's messages, by field."),
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        motif = motif_or_404(pk)
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"detail": "Send the fields to change as an object."})
        # Validated by the edit form alone (the serializer only documents the fields), so a
        # script reads the page's messages.
        editable = MotifEditSerializer().fields
        unknown = sorted(set(request.data) - set(editable))
        if unknown:
            raise exceptions.ValidationError(
                {
                    "detail": f"Unknown motif fields: {', '.join(unknown)}; "
                    f"these can change: {', '.join(editable)}."
                }
            )
        given = {key: request.data[key] for key in editable if key in request.data}
        # The form checks the whole record, as the edit page sends it: current values first.
        data = {name: getattr(motif, name) for name in services.MOTIF_TEXT_FIELDS}
        data.update(kind=motif.kind, site=motif.site_id, new_site="")
        data.update(given)
        if "new_site" in given and "site" not in given:
            data["site"] = ""
        form = forms.MotifMetadataForm(data, instance=motif)
        if not form.is_valid():
            raise form_error(form)
        cleaned = form.cleaned_data
        with transaction.atomic():
            site = cleaned["site"] or services.site_get_or_create(name=cleaned["new_site"])
            services.motif_update(
                motif=motif,
                updated_by=request.user,
                site=site,
                kind=cleaned["kind"],
                **{name: cleaned[name] for name in services.MOTIF_TEXT_FIELDS},
            )
        return Response(MotifSerializer(motif_or_404(pk)).data)


def motif_or_404(pk: int) -> Motif:
    try:
        return selectors.motif_get(pk=pk)
    except Motif.DoesNotExist:
        raise exceptions.NotFound("No such motif.") from None


class MotifFileApi(FileApi):
    """A motif's file: `original` (the upload, as an attachment), `image` (the RGB image
    engines work on), `preview` or `thumbnail`."""

    permission_classes = [CatalogueReadCuratorWrite]

    @extend_schema(operation_id="motifs_file", responses=FILE_RESPONSES)
    def get(self, request: Request, pk: int, kind: str):
        if kind not in MOTIF_FILES:
            raise exceptions.NotFound(f"No such file; choose one of {', '.join(MOTIF_FILES)}.")
        motif = get_object_or_404(Motif, pk=pk)
        file = getattr(motif, MOTIF_FILES[kind])
        if kind == "original":
            return self.serve(request, file, filename=motif.original_filename, attachment=True)
        extension = media.extension_of(file)
        return self.serve(request, file, filename=f"motif-{motif.pk}-{kind}.{extension}")


urlpatterns = [
    path("sites/", SiteListApi.as_view(), name="sites"),
    path("sites/<id:pk>/", SiteDetailApi.as_view(), name="site"),
    path("motifs/", MotifListApi.as_view(), name="motifs"),
    path("motifs/<id:pk>/", MotifDetailApi.as_view(), name="motif"),
    path("motifs/<id:pk>/files/<str:kind>/", MotifFileApi.as_view(), name="motif_file"),
]
