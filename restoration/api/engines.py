"""REST API of engines: what each does, its parameters and ranges, and the weights it has."""

from urllib.parse import urlencode

from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from heritage.api.permissions import IsCurator
from restoration import checkpoints
from restoration.engines.base import EngineError
from restoration.engines.registry import registry
from restoration.models import ModelCheckpoint, Task


class ParameterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["int", "float", "bool", "str"])
    default = serializers.JSONField()
    minimum = serializers.FloatField(allow_null=True, help_text="Inclusive; null: unbounded.")
    maximum = serializers.FloatField(allow_null=True, help_text="Inclusive; null: unbounded.")
    choices = serializers.ListField(child=serializers.JSONField(), allow_null=True)
    help = serializers.CharField()


class EngineCheckpointSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The checkpoint under /api/v1/checkpoints/.")

    class Meta:
        model = ModelCheckpoint
        fields = [
            "id",
            "name",
            "sha256",
            "size",
            "is_default",
            "steps",
            "created_at",
            "notes",
            "url",
        ]

    def get_url(self, checkpoint: ModelCheckpoint) -> str:
        return reverse("restoration_api:checkpoint", args=[checkpoint.pk])


class EngineSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(help_text="One line on what the engine does.")
    task = serializers.ChoiceField(choices=Task.choices, allow_null=True)
    version = serializers.CharField(allow_null=True)
    needs_weights = serializers.BooleanField(allow_null=True)
    available = serializers.BooleanField(
        help_text="It can run now: it loads, and has weights when it needs them."
    )
    unavailable_reason = serializers.CharField(allow_null=True)
    parameters = serializers.DictField(child=ParameterSerializer(), help_text="By name.")
    checkpoints = EngineCheckpointSerializer(
        many=True, help_text="Registered weights, default first."
    )
    checkpoints_url = serializers.CharField(
        help_text="Its checkpoints under /api/v1/checkpoints/ (POST there registers more)."
    )


def engine_description(name: str, weights: list[ModelCheckpoint]) -> dict:
    """The engine as the API lists it; an engine that does not load says why, never a 500."""
    try:
        described = registry().describe(name)
    except EngineError as exc:
        return {
            "name": name,
            "description": "",
            "task": None,
            "version": None,
            "needs_weights": None,
            "available": False,
            "unavailable_reason": str(exc),
            "parameters": {},
            "checkpoints": [],
            "checkpoints_url": _checkpoints_url(name),
        }
    missing = described["needs_weights"] and not weights
    return {
        "name": name,
        "description": described["summary"],
        "task": described["task"],
        "version": described["version"],
        "needs_weights": described["needs_weights"],
        "available": not missing,
        "unavailable_reason": "It needs trained weights and none are registered."
        if missing
        else None,
        "parameters": described["params"],
        "checkpoints": EngineCheckpointSerializer(weights, many=True).data,
        "checkpoints_url": _checkpoints_url(name),
    }


def _checkpoints_url(name: str) -> str:
    return f"{reverse('restoration_api:checkpoints')}?{urlencode({'engine': name})}"


class EngineListApi(APIView):
    """Every registered engine: restoration (task restore) and style transfer (stylize)."""

    permission_classes = [IsCurator]

    @extend_schema(responses=EngineSerializer(many=True))
    def get(self, request: Request) -> Response:
        weights = checkpoints.by_engine()
        return Response(
            [engine_description(name, weights.get(name, [])) for name in registry().names()]
        )


class EngineDetailApi(APIView):
    permission_classes = [IsCurator]

    @extend_schema(responses=EngineSerializer)
    def get(self, request: Request, name: str) -> Response:
        if name not in registry().names():
            raise exceptions.NotFound("No such engine.")
        weights = checkpoints.by_engine().get(name, [])
        return Response(engine_description(name, weights))


urlpatterns = [
    path("engines/", EngineListApi.as_view(), name="engines"),
    path("engines/<str:name>/", EngineDetailApi.as_view(), name="engine"),
]
