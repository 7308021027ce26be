"""REST API of training runs: start one (202), follow its loss and samples, cancel, resume.

Starts are validated by the training page's form (restoration.forms.TrainingRunForm; options
left out take the values the page offers) and made by restoration.training_runs, as the page
makes them; progress streams over the run's WebSocket.
"""

from django.urls import path, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from heritage.api.common import FILE_RESPONSES, FileApi, Pages
from heritage.api.errors import form_error
from heritage.api.permissions import IsCurator
from heritage.jsonbody import BoundedJSONParser
from restoration import progress, training_runs, training_selectors
from restoration.forms import TrainingResumeForm, TrainingRunForm
from restoration.models import TrainingRun


class TrainingRunSerializer(serializers.ModelSerializer):
    motifs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resumed_from = serializers.PrimaryKeyRelatedField(read_only=True)
    checkpoint = serializers.SerializerMethodField(help_text="The weights it registered.")
    start_from = serializers.SerializerMethodField(
        help_text="prior_diffusion: the checkpoint it fine-tunes ({id, name, sha256}; name and "
        "sha256 null once deleted), or null for a new network."
    )
    eta = serializers.SerializerMethodField(help_text="Seconds left (running runs), or null.")
    losses = serializers.JSONField(help_text="[step, {loss name: value}, ...] so far.")
    sample = serializers.SerializerMethodField(help_text="The latest sample grid (JPEG).")
    websocket = serializers.SerializerMethodField(help_text="Live loss curve and samples.")
    url = serializers.SerializerMethodField()
    page = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "engine",
            "status",
            "motifs",
            "options",
            "step",
            "total",
            "eta",
            "losses",
            "sample_step",
            "sample",
            "error",
            "device",
            "checkpoint",
            "start_from",
            "resumed_from",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "websocket",
            "url",
            "page",
        ]

    def get_checkpoint(self, run: TrainingRun) -> dict | None:
        if run.checkpoint_id is None:
            return None
        return {"id": run.checkpoint_id, "name": run.checkpoint.name}

    def get_start_from(self, run: TrainingRun) -> dict | None:
        return training_selectors.training_run_start_record(run=run)

    def get_eta(self, run: TrainingRun) -> float | None:
        return progress.eta_seconds(run)

    def get_sample(self, run: TrainingRun) -> str | None:
        if not run.latest_sample:
            return None
        return reverse("restoration_api:training_run_sample", args=[run.pk])

    def get_websocket(self, run: TrainingRun) -> str:
        return f"/ws/restoration/training/{run.pk}/"

    def get_url(self, run: TrainingRun) -> str:
        return reverse("restoration_api:training_run", args=[run.pk])


class TrainingRunCreateSerializer(serializers.Serializer):
    """What the training page's form takes; numbers left out take the page's values."""

    engine = serializers.CharField(help_text="prior_diffusion, or a style engine (cyclegan, cut).")
    motifs = serializers.ListField(
        child=serializers.IntegerField(), help_text="Motif ids; for a style engine, domain A."
    )
    domain_b = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Style engines: paintings."
    )
    size = serializers.IntegerField(required=False)
    steps = serializers.IntegerField(required=False)
    batch = serializers.IntegerField(required=False)
    lr = serializers.FloatField(required=False)
    seed = serializers.IntegerField(required=False)
    sample_every = serializers.IntegerField(required=False)
    start_from = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="prior_diffusion: the id of a checkpoint to fine-tune (pixel backbone), or "
        "null for a new network; left out: the engine's default checkpoint, or a new network "
        "when widths are given.",
    )
    widths = serializers.CharField(
        required=False, help_text="A new network's widths, e.g. 64,96,128,192."
    )
    variant = serializers.CharField(required=False, help_text="cut only: cut or fastcut.")
    ngf = serializers.IntegerField(required=False)
    n_blocks = serializers.IntegerField(required=False)


def _form(data: dict) -> TrainingRunForm:
    form = TrainingRunForm(
        None,
        engines=training_runs.UI_TRAINABLE,
        style_engines=training_runs.STYLE_TRAINABLE,
        motifs=training_selectors.training_motif_choices(),
    )
    # What the page's fields start with, for what the script leaves out.
    initial = {
        name: field.initial for name, field in form.fields.items() if field.initial is not None
    }
    if data.get("widths") and "start_from" not in data:
        # Widths ask for a new network: the page's start (the default checkpoint) is not meant.
        initial.pop("start_from", None)
    return TrainingRunForm(
        {**initial, **data},
        engines=training_runs.UI_TRAINABLE,
        style_engines=training_runs.STYLE_TRAINABLE,
        motifs=training_selectors.training_motif_choices(),
    )


def _accepted(run: TrainingRun) -> Response:
    response = Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
    response["Location"] = reverse("restoration_api:training_run", args=[run.pk])
    return response


class TrainingRunListApi(generics.ListAPIView):
    """Training runs, newest first; POST starts one."""

    permission_classes = [IsCurator]
    serializer_class = TrainingRunSerializer
    pagination_class = Pages
    parser_classes = [BoundedJSONParser]

    def get_queryset(self):
        return training_selectors.training_run_list()

    @extend_schema(
        request=TrainingRunCreateSerializer,
        responses={
            202: TrainingRunSerializer,
            400: OpenApiResponse(description="The training form's or the service's messages."),
        },
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"detail": "Send the run as a JSON object."})
        known = TrainingRunCreateSerializer().fields
        unknown = sorted(set(request.data) - set(known))
        if unknown:
            raise exceptions.ValidationError(
                {"detail": f"Unknown fields: {', '.join(unknown)}; known: {', '.join(known)}."}
            )
        form = _form(dict(request.data))
        if not form.is_valid():
            raise form_error(form)
        run = training_runs.training_run_create(
            requested_by=request.user,
            engine=form.cleaned_data["engine"],
            motifs=form.run_motifs(),
            options=form.options(),
        )
        return _accepted(run)


def _run(request: Request, pk: int) -> TrainingRun:
    run = training_selectors.training_run_for_user(run_id=pk, user=request.user)
    if run is None:
        raise exceptions.NotFound("No such training run.")
    return run


class TrainingRunDetailApi(APIView):
    """A run's state: status, step of total, losses so far, its checkpoint once it ended."""

    permission_classes = [IsCurator]

    @extend_schema(responses=TrainingRunSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(TrainingRunSerializer(_run(request, pk)).data)


class TrainingRunCancelApi(APIView):
    """Cancel a run: a pending one at once, a running one at its next step (its last saved
    state stays, to resume from)."""

    permission_classes = [IsCurator]

    @extend_schema(request=None, responses={200: TrainingRunSerializer})
    def post(self, request: Request, pk: int) -> Response:
        run = training_runs.training_run_cancel(run=_run(request, pk), user=request.user)
        return Response(TrainingRunSerializer(run).data)


class TrainingRunResumeApi(APIView):
    """A new run that continues this one from its last saved state up to `steps`."""

    permission_classes = [IsCurator]
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        request=inline_serializer(
            "TrainingRunResume", {"steps": serializers.IntegerField(help_text="Train up to.")}
        ),
        responses={202: TrainingRunSerializer, 400: OpenApiResponse(description="Why not.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        run = _run(request, pk)
        form = TrainingResumeForm(request.data if isinstance(request.data, dict) else {})
        if not form.is_valid():
            raise form_error(form)
        resumed = training_runs.training_run_resume(
            run=run, user=request.user, steps=form.cleaned_data["steps"]
        )
        return _accepted(resumed)


class TrainingRunSampleApi(FileApi):
    """The run's latest sample grid (JPEG)."""

    permission_classes = [IsCurator]

    @extend_schema(operation_id="training_runs_sample", responses=FILE_RESPONSES)
    def get(self, request: Request, pk: int):
        run = _run(request, pk)
        if not run.latest_sample:
            raise exceptions.NotFound("No sample yet.")
        return self.serve(request, run.latest_sample, filename=f"training-{run.pk}-sample.jpg")


urlpatterns = [
    path("training-runs/", TrainingRunListApi.as_view(), name="training_runs"),
    path("training-runs/<id:pk>/", TrainingRunDetailApi.as_view(), name="training_run"),
    path(
        "training-runs/<id:pk>/cancel/", TrainingRunCancelApi.as_view(), name="training_run_cancel"
    ),
    path(
        "training-runs/<id:pk>/resume/", TrainingRunResumeApi.as_view(), name="training_run_resume"
    ),
    path(
        "training-runs/<id:pk>/sample/", TrainingRunSampleApi.as_view(), name="training_run_sample"
    ),
]
