"""REST API of model checkpoints: list (by engine), detail, and registering uploaded weights.

An upload is what `manage.py register_checkpoint PATH --engine NAME --verify` does with a local
path (restoration.checkpoint_uploads, then restoration.checkpoints.checkpoint_register): the
engine's own loader checks the weights, their sha256 is computed once and they are copied into
storage; a refusal says why with the command's words and stores nothing.
"""

from django.db.models import Prefetch
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

from heritage.api.common import Pages
from heritage.api.errors import api_call
from heritage.api.permissions import IsCurator
from heritage.models import User
from restoration import checkpoint_uploads, checkpoints
from restoration.models import ModelCheckpoint, TrainingRun


class LicenceSetSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    licences = serializers.DictField(
        child=serializers.IntegerField(), help_text="Items by licence."
    )


class TrainingDataSummarySerializer(serializers.Serializer):
    sets = serializers.DictField(
        child=LicenceSetSerializer(), help_text="Each list of the manifest (files, domain_a...)."
    )


class CheckpointSerializer(serializers.ModelSerializer):
    trained_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    stored = serializers.SerializerMethodField(
        help_text="In the site's storage (else `source`: a path or Hugging Face id)."
    )
    training_run = serializers.SerializerMethodField(help_text="The run that trained them.")
    training_data = serializers.SerializerMethodField(
        help_text="What they were trained on, in brief (counts by licence)."
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = ModelCheckpoint
        fields = [
            "id",
            "engine",
            "name",
            "is_default",
            "sha256",
            "size",
            "is_folder",
            "stored",
            "source",
            "steps",
            "metrics",
            "training_data",
            "training_run",
            "trained_by",
            "created_at",
            "notes",
            "url",
        ]

    def get_stored(self, checkpoint: ModelCheckpoint) -> bool:
        return bool(checkpoint.weights)

    def get_training_run(self, checkpoint: ModelCheckpoint) -> int | None:
        runs = getattr(checkpoint, "prefetched_runs", None)
        if runs is None:
            runs = list(checkpoint.training_runs.order_by("pk")[:1])
        return runs[0].pk if runs else None

    @extend_schema_field(TrainingDataSummarySerializer)
    def get_training_data(self, checkpoint: ModelCheckpoint) -> dict:
        return checkpoints.training_data_summary(checkpoint.training_data)

    def get_url(self, checkpoint: ModelCheckpoint) -> str:
        return reverse("restoration_api:checkpoint", args=[checkpoint.pk])


class CheckpointDetailSerializer(CheckpointSerializer):
    files = serializers.JSONField(help_text='[{"path", "sha256", "size"}] of a folder\'s files.')
    manifest = serializers.JSONField(
        source="training_data", help_text="The whole training data manifest, as recorded."
    )

    class Meta(CheckpointSerializer.Meta):
        fields = [*CheckpointSerializer.Meta.fields, "config", "files", "manifest"]


class CheckpointUploadSerializer(serializers.Serializer):
    """What `register_checkpoint` takes, for a file sent with the request."""

    file = serializers.FileField(
        help_text="A .safetensors / .pth / .pt weights file, or a .zip of a checkpoint folder "
        "(a training folder, a diffusers pipeline)."
    )
    engine = serializers.CharField(max_length=64, help_text="An engine that takes weights.")
    name = serializers.CharField(
        max_length=200, required=False, default="", help_text="Default: the file's name."
    )
    default = serializers.BooleanField(
        required=False, default=False, help_text="Make it the engine's default checkpoint."
    )
    steps = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    trained_by = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="User name of who trained them.",
    )
    config = serializers.JSONField(
        binary=True, required=False, default=None, help_text="Architecture (JSON object)."
    )
    training_data = serializers.JSONField(
        binary=True,
        required=False,
        default=dict,
        help_text="Training data manifest: file hashes and licences (JSON object).",
    )
    losses = serializers.JSONField(binary=True, required=False, default=dict)
    metrics = serializers.JSONField(binary=True, required=False, default=dict)
    notes = serializers.CharField(required=False, default="", allow_blank=True, max_length=10_000)

    def validate(self, data: dict) -> dict:
        for field in ("config", "training_data", "losses", "metrics"):
            value = data.get(field)
            if value is not None and not isinstance(value, dict):
                raise serializers.ValidationError({field: "Send a JSON object."})
        return data


class CheckpointFilterSerializer(serializers.Serializer):
    engine = serializers.CharField(required=False, allow_blank=True, max_length=64)


class CheckpointListApi(generics.ListAPIView):
    """Registered weights, by engine (its default first, then newest); POST uploads weights."""

    permission_classes = [IsCurator]
    serializer_class = CheckpointSerializer
    pagination_class = Pages
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        filters = CheckpointFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        engine = filters.validated_data.get("engine") or None
        return checkpoints.checkpoint_list(engine=engine).prefetch_related(
            Prefetch(
                "training_runs",
                queryset=TrainingRun.objects.order_by("pk"),
                to_attr="prefetched_runs",
            )
        )

    @extend_schema(
        parameters=[OpenApiParameter("engine", str, description="Only this engine's weights.")]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        description="Register uploaded weights for an engine, as `manage.py register_checkpoint "
        "PATH --engine NAME --verify` registers a local path: the engine's own loader must "
        "load them (on the CPU), their sha256 is computed once, they are copied into storage. "
        "A refusal says why (by field where it is one) and stores nothing.",
        request={"multipart/form-data": CheckpointUploadSerializer},
        responses={
            201: CheckpointDetailSerializer,
            400: OpenApiResponse(description="Why the weights were refused; nothing stored."),
        },
    )
    def post(self, request: Request) -> Response:
        form = CheckpointUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        checkpoint = api_call(
            checkpoint_uploads.checkpoint_upload_register,
            upload=form.validated_data.pop("file"),
            **form.validated_data,
        )
        response = Response(
            CheckpointDetailSerializer(checkpoint).data, status=status.HTTP_201_CREATED
        )
        response["Location"] = reverse("restoration_api:checkpoint", args=[checkpoint.pk])
        return response


class CheckpointDetailApi(APIView):
    """One checkpoint: hash, files, architecture, the whole training data manifest."""

    permission_classes = [IsCurator]

    @extend_schema(responses=CheckpointDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        checkpoint = checkpoints.checkpoint_list().filter(pk=pk).first()
        if checkpoint is None:
            raise exceptions.NotFound("No such checkpoint.")
        return Response(CheckpointDetailSerializer(checkpoint).data)


urlpatterns = [
    path("checkpoints/", CheckpointListApi.as_view(), name="checkpoints"),
    path("checkpoints/<id:pk>/", CheckpointDetailApi.as_view(), name="checkpoint"),
]
