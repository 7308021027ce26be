"""REST API of damage annotations: list, mask upload (import), simulated damage, mask download.

Validated by the motif page's forms (MaskImportForm, SimulateDamageForm) and written by
heritage.services, as the page does; a mask of the motif's proportions but another size is
resized only when the script sends resize=true, and the refusal says so.
"""

from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from heritage import forms, masks, selectors, services
from heritage.api.catalogue import motif_or_404
from heritage.api.common import FILE_RESPONSES, FileApi
from heritage.api.errors import form_error
from heritage.api.permissions import CatalogueReadCuratorWrite
from heritage.jsonbody import BoundedJSONParser
from heritage.models import DamageAnnotation, DamageKind


class AnnotationSerializer(serializers.ModelSerializer):
    motif = serializers.PrimaryKeyRelatedField(read_only=True)
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    supersedes = serializers.PrimaryKeyRelatedField(read_only=True)
    mask = serializers.SerializerMethodField(help_text="The mask PNG (API download).")
    resized_from = serializers.SerializerMethodField(
        help_text="[width, height] of an uploaded mask that was resized to the motif's size."
    )

    class Meta:
        model = DamageAnnotation
        fields = [
            "id",
            "motif",
            "method",
            "kinds",
            "protocol",
            "seed",
            "coverage",
            "notes",
            "author",
            "supersedes",
            "created_at",
            "mask",
            "resized_from",
        ]

    def get_mask(self, annotation: DamageAnnotation) -> str:
        return reverse("heritage_api:annotation_mask", args=[annotation.pk])

    @extend_schema_field({"type": "array", "items": {"type": "integer"}, "nullable": True})
    def get_resized_from(self, annotation: DamageAnnotation):
        return self.context.get("resized_from")


class MaskUploadSerializer(serializers.Serializer):
    """What a mask upload sends (multipart); the motif page's import form validates it."""

    mask = serializers.FileField(help_text="A black-and-white PNG of the motif's size.")
    resize = serializers.BooleanField(
        required=False,
        help_text="Resize (nearest neighbour) a mask of the motif's proportions but another "
        "size, e.g. 512 x 512 for a 720 x 720 motif. Other proportions are refused.",
    )
    kinds = serializers.MultipleChoiceField(choices=DamageKind.choices, required=False)
    notes = serializers.CharField(required=False, allow_blank=True)


class SimulateSerializer(serializers.Serializer):
    protocol = serializers.ChoiceField(choices=DamageAnnotation.Protocol.choices)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1)


class AnnotationListApi(APIView):
    """A motif's current damage annotations (latest revisions), newest first; POST uploads a
    mask as a new annotation."""

    permission_classes = [CatalogueReadCuratorWrite]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=AnnotationSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        annotations = selectors.annotation_list(motif=motif_or_404(pk))
        return Response(AnnotationSerializer(annotations, many=True).data)

    @extend_schema(
        request={"multipart/form-data": MaskUploadSerializer},
        responses={
            201: AnnotationSerializer,
            400: OpenApiResponse(description="Why the mask was refused, by field."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        motif = motif_or_404(pk)
        form = forms.MaskImportForm(request.data, request.FILES)
        if not form.is_valid():
            raise form_error(form)
        data = form.cleaned_data
        try:
            mask, size = masks.read_mask_sized(
                data["mask"].read(), width=motif.width, height=motif.height, resize=data["resize"]
            )
        except masks.MaskSizeError as exc:
            message = f"{exc}: send resize=true." if exc.resizable else f"{exc}."
            raise exceptions.ValidationError({"mask": [message]}) from exc
        except masks.MaskError as exc:
            raise exceptions.ValidationError({"mask": [str(exc)]}) from exc
        annotation = services.annotation_create(
            motif=motif,
            author=request.user,
            mask=mask,
            method=DamageAnnotation.Method.IMPORTED,
            kinds=data["kinds"],
            notes=data["notes"],
        )
        resized = list(size) if size != (motif.width, motif.height) else None
        return Response(
            AnnotationSerializer(annotation, context={"resized_from": resized}).data,
            status=status.HTTP_201_CREATED,
        )


class AnnotationSimulateApi(APIView):
    """Add simulated damage (dust, jelly or blocks; a pure function of size and seed) to an
    intact motif: restorations of it are scored against the motif itself."""

    permission_classes = [CatalogueReadCuratorWrite]
    parser_classes = [BoundedJSONParser, MultiPartParser, FormParser]

    @extend_schema(request=SimulateSerializer, responses={201: AnnotationSerializer})
    def post(self, request: Request, pk: int) -> Response:
        motif = motif_or_404(pk)
        if not hasattr(request.data, "get"):
            raise exceptions.ValidationError({"detail": "Send protocol and seed as an object."})
        form = forms.SimulateDamageForm(request.data)
        if not form.is_valid():
            raise form_error(form)
        annotation = services.annotation_simulate(
            motif=motif,
            author=request.user,
            protocol=form.cleaned_data["protocol"],
            seed=form.cleaned_data["seed"],
        )
        return Response(AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


def _annotation(pk: int) -> DamageAnnotation:
    try:
        return selectors.annotation_get(pk=pk)
    except DamageAnnotation.DoesNotExist:
        raise exceptions.NotFound("No such annotation.") from None


class AnnotationDetailApi(APIView):
    """One annotation (any revision; `supersedes` links to the one it revised)."""

    permission_classes = [CatalogueReadCuratorWrite]

    @extend_schema(responses=AnnotationSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(AnnotationSerializer(_annotation(pk)).data)


class AnnotationMaskApi(FileApi):
    """The annotation's mask: a single-channel PNG of the motif's size, 255 damaged."""

    permission_classes = [CatalogueReadCuratorWrite]

    @extend_schema(operation_id="annotations_mask", responses=FILE_RESPONSES)
    def get(self, request: Request, pk: int):
        annotation = get_object_or_404(DamageAnnotation, pk=pk)
        filename = f"motif-{annotation.motif_id}-annotation-{annotation.pk}-mask.png"
        return self.serve(request, annotation.mask, filename=filename)


urlpatterns = [
    path("motifs/<id:pk>/annotations/", AnnotationListApi.as_view(), name="annotations"),
    path(
        "motifs/<id:pk>/annotations/simulate/",
        AnnotationSimulateApi.as_view(),
        name="annotation_simulate",
    ),
    path("annotations/<id:pk>/", AnnotationDetailApi.as_view(), name="annotation"),
    path("annotations/<id:pk>/mask/", AnnotationMaskApi.as_view(), name="annotation_mask"),
]
