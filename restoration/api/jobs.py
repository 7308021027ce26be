"""REST API of jobs: launch a restoration or a style transfer (202), follow, cancel, retry;
the result with its provenance and metrics, and its images.

Launches are validated by the motif page's job forms (restoration.forms) and made by
restoration.services, as the page makes them; progress streams over the job's WebSocket.
"""

from django.urls import path, reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from heritage import media
from heritage.api.common import FILE_RESPONSES, FileApi, Pages
from heritage.api.errors import form_error
from heritage.api.permissions import IsCurator
from heritage.ids import parse_id
from heritage.jsonbody import BoundedJSONParser
from heritage.models import DamageAnnotation, Motif
from restoration import progress, selectors, services
from restoration.engines.registry import registry
from restoration.forms import JobCreateForm, StyleJobForm
from restoration.models import Restoration, RestorationJob, Task

RESULT_FILES = {
    "image": "image",
    "preview": "preview",
    "input": "input_preview",
    "outline": "outline",
}


class JobCheckpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    sha256 = serializers.CharField()


class JobSerializer(serializers.ModelSerializer):
    motif = serializers.PrimaryKeyRelatedField(read_only=True)
    annotation = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The damage restored; null for a style transfer."
    )
    checkpoint = JobCheckpointSerializer(allow_null=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    retry_of = serializers.PrimaryKeyRelatedField(read_only=True)
    eta = serializers.SerializerMethodField(help_text="Seconds left (running jobs), or null.")
    ahead = serializers.SerializerMethodField(
        help_text="Jobs that run before this one (pending jobs), or null."
    )
    websocket = serializers.CharField(
        source="websocket_path", help_text="Live progress: job.progress events, then the end."
    )
    url = serializers.SerializerMethodField(help_text="This job in the API.")
    page = serializers.CharField(source="get_absolute_url", help_text="The job's page.")
    result = serializers.SerializerMethodField(help_text="The result (succeeded jobs), or null.")

    class Meta:
        model = RestorationJob
        fields = [
            "id",
            "task",
            "status",
            "motif",
            "annotation",
            "engine",
            "params",
            "seed",
            "colour_correction",
            "checkpoint",
            "step",
            "total",
            "eta",
            "ahead",
            "error",
            "device",
            "attempts",
            "cancel_requested",
            "retry_of",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "websocket",
            "url",
            "page",
            "result",
        ]

    def get_eta(self, job: RestorationJob) -> float | None:
        return progress.eta_seconds(job)

    def get_ahead(self, job: RestorationJob) -> int | None:
        return selectors.job_queue_ahead(job=job)

    def get_url(self, job: RestorationJob) -> str:
        return reverse("restoration_api:job", args=[job.pk])

    def get_result(self, job: RestorationJob) -> str | None:
        if job.status != RestorationJob.Status.SUCCEEDED:
            return None
        return reverse("restoration_api:job_result", args=[job.pk])


class JobCreateSerializer(serializers.Serializer):
    annotation = serializers.IntegerField(help_text="The damage annotation to restore.")
    engine = serializers.CharField(help_text="An engine of task restore (GET /api/v1/engines/).")
    params = serializers.DictField(required=False, help_text="The engine's parameters by name.")
    seed = serializers.IntegerField(required=False, help_text="0 to 2147483647; default 0.")
    colour_correction = serializers.BooleanField(required=False)
    checkpoint = serializers.IntegerField(
        required=False, help_text="Weights to run with; default: the engine's default."
    )


class StyleJobCreateSerializer(serializers.Serializer):
    motif = serializers.IntegerField(help_text="The motif (a photograph) to render.")
    engine = serializers.CharField(help_text="An engine of task stylize.")
    params = serializers.DictField(required=False)
    seed = serializers.IntegerField(required=False, help_text="0 to 2147483647; default 0.")
    checkpoint = serializers.IntegerField(required=False)


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"detail": "Send the job as a JSON object."})
    return request.data


def _params(body: dict) -> dict:
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise exceptions.ValidationError({"params": ["The parameters are an object by name."]})
    return params


def _choice(value):
    """An id for a form's model choice; anything no database id can be reads as "x", which
    the form refuses as an unknown choice without asking the database (SQLite cannot compare
    integers past 64 bits)."""
    if value is None or value == "":
        return ""
    return value if parse_id(value) is not None else "x"


def _form_data(body: dict, **more) -> dict:
    """What the page's form would post for this body (the form validates it)."""
    return {
        "engine": body.get("engine"),
        "seed": body.get("seed", 0),
        "checkpoint": _choice(body.get("checkpoint")),
        **more,
    }


def _accepted(job: RestorationJob) -> Response:
    response = Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
    response["Location"] = reverse("restoration_api:job", args=[job.pk])
    return response


class JobListApi(generics.ListAPIView):
    """Jobs, newest first (filters: motif, annotation, task, status, engine); POST launches a
    restoration of a damage annotation."""

    permission_classes = [IsCurator]
    serializer_class = JobSerializer
    pagination_class = Pages
    parser_classes = [BoundedJSONParser]

    class FilterSerializer(serializers.Serializer):
        motif = serializers.CharField(required=False, allow_blank=True)
        annotation = serializers.CharField(required=False, allow_blank=True)
        task = serializers.ChoiceField(choices=["", *Task.values], required=False, default="")
        status = serializers.ChoiceField(
            choices=["", *RestorationJob.Status.values], required=False, default=""
        )
        engine = serializers.CharField(required=False, allow_blank=True, default="")

        def _id(self, value: str) -> int | None:
            if not value:
                return None
            number = parse_id(value)
            if number is None:
                raise serializers.ValidationError("Give a numeric id.")
            return number

        validate_motif = _id
        validate_annotation = _id

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.job_list(**filters.validated_data)

    @extend_schema(
        parameters=[
            OpenApiParameter("motif", int),
            OpenApiParameter("annotation", int),
            OpenApiParameter("task", str, enum=Task.values),
            OpenApiParameter("status", str, enum=RestorationJob.Status.values),
            OpenApiParameter("engine", str),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=JobCreateSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(description="The job form's or the service's messages."),
        },
    )
    def post(self, request: Request) -> Response:
        body = _body(request)
        params = _params(body)
        annotation_id = parse_id(body.get("annotation"))
        annotation = (
            DamageAnnotation.objects.select_related("motif").filter(pk=annotation_id).first()
            if annotation_id
            else None
        )
        form = JobCreateForm(
            _form_data(
                body,
                annotation=_choice(body.get("annotation")),
                colour_correction=body.get("colour_correction") is True,
            ),
            # No annotation: the form offers none, and refuses the one sent as the page would.
            motif=annotation.motif if annotation else None,
            engines=registry().names(),
        )
        if not form.is_valid():
            raise form_error(form)
        data = form.cleaned_data
        job = services.job_create(
            requested_by=request.user,
            annotation=data["annotation"],
            engine=data["engine"],
            params=params,
            seed=data["seed"],
            colour_correction=data["colour_correction"],
            checkpoint=data["checkpoint"],
        )
        return _accepted(job)


class StyleJobCreateApi(APIView):
    """Launch a style transfer of a whole motif (no damage annotation)."""

    permission_classes = [IsCurator]
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        request=StyleJobCreateSerializer,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(description="The style form's or the service's messages."),
        },
    )
    def post(self, request: Request) -> Response:
        body = _body(request)
        params = _params(body)
        motif_id = parse_id(body.get("motif"))
        motif = Motif.objects.filter(pk=motif_id).first() if motif_id else None
        if motif is None:
            raise exceptions.ValidationError({"motif": ["No such motif."]})
        form = StyleJobForm(_form_data(body), engines=registry().names())
        if not form.is_valid():
            raise form_error(form)
        data = form.cleaned_data
        job = services.style_job_create(
            requested_by=request.user,
            motif=motif,
            engine=data["engine"],
            params=params,
            seed=data["seed"],
            checkpoint=data["checkpoint"],
        )
        return _accepted(job)


def _job(request: Request, pk: int) -> RestorationJob:
    job = selectors.job_for_user(job_id=pk, user=request.user)
    if job is None:
        raise exceptions.NotFound("No such job.")
    return job


class JobDetailApi(APIView):
    """A job's state: status, step of total, ETA, error; its result once it succeeded."""

    permission_classes = [IsCurator]

    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(JobSerializer(_job(request, pk)).data)


class JobCancelApi(APIView):
    """Cancel a job: a pending one at once, a running one at the engine's next step."""

    permission_classes = [IsCurator]

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            400: OpenApiResponse(description="The job has already ended."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        job = services.job_cancel(job=_job(request, pk), user=request.user)
        return Response(JobSerializer(job).data)


class JobRetryApi(APIView):
    """Run a failed or cancelled job again, as a new job with the same inputs."""

    permission_classes = [IsCurator]

    @extend_schema(
        request=None,
        responses={
            202: JobSerializer,
            400: OpenApiResponse(description="Only failed or cancelled jobs can be retried."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        return _accepted(services.job_retry(job=_job(request, pk), user=request.user))


class MetricSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    higher_is_better = serializers.BooleanField(allow_null=True)
    whole = serializers.FloatField(allow_null=True, help_text="Over the whole image.")
    damaged = serializers.FloatField(allow_null=True, help_text="Over the damaged region.")


class ResultFilesSerializer(serializers.Serializer):
    image = serializers.CharField(help_text="The full-resolution result (PNG).")
    preview = serializers.CharField()
    input = serializers.CharField(help_text="What the engine was given (preview).")
    outline = serializers.CharField(
        allow_null=True, help_text="Border of the reconstructed area; null for a style transfer."
    )


class ResultSerializer(serializers.ModelSerializer):
    job = serializers.PrimaryKeyRelatedField(read_only=True)
    checkpoint_sha256 = serializers.CharField()
    metrics = serializers.SerializerMethodField(
        help_text="Against the intact motif when the damage was simulated; else empty."
    )
    files = serializers.SerializerMethodField()

    class Meta:
        model = Restoration
        fields = [
            "job",
            "task",
            "engine",
            "engine_version",
            "checkpoint_sha256",
            "params",
            "seed",
            "colour_correction",
            "device",
            "seconds",
            "info",
            "created_at",
            "metrics",
            "files",
        ]

    @extend_schema_field(MetricSerializer(many=True))
    def get_metrics(self, result: Restoration) -> list:
        return [
            {key: row[key] for key in MetricSerializer().fields}
            for row in selectors.metric_rows(result.metrics)
        ]

    @extend_schema_field(ResultFilesSerializer)
    def get_files(self, result: Restoration) -> dict:
        return {
            kind: reverse("restoration_api:job_result_file", args=[result.job_id, kind])
            if getattr(result, field)
            else None
            for kind, field in RESULT_FILES.items()
        }


def _result(request: Request, pk: int) -> Restoration:
    job = _job(request, pk)
    result = getattr(job, "result", None) if job.status == RestorationJob.Status.SUCCEEDED else None
    if result is None:
        raise exceptions.NotFound(
            f"Job {job.pk} has no result ({job.get_status_display().lower()})."
        )
    return result


class JobResultApi(APIView):
    """The result of a succeeded job: provenance (engine, version, weights, parameters, seed,
    device, seconds, what the engine reports) and metrics."""

    permission_classes = [IsCurator]

    @extend_schema(responses=ResultSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ResultSerializer(_result(request, pk)).data)


class JobResultFileApi(FileApi):
    """The result's `image` (full resolution, PNG), `preview`, `input` or `outline`."""

    permission_classes = [IsCurator]

    @extend_schema(operation_id="jobs_result_file", responses=FILE_RESPONSES)
    def get(self, request: Request, pk: int, kind: str):
        if kind not in RESULT_FILES:
            raise exceptions.NotFound(f"No such file; choose one of {', '.join(RESULT_FILES)}.")
        result = _result(request, pk)
        file = getattr(result, RESULT_FILES[kind])
        extension = media.extension_of(file)
        return self.serve(request, file, filename=f"job-{pk}-{kind}.{extension}")


urlpatterns = [
    path("jobs/", JobListApi.as_view(), name="jobs"),
    path("style-jobs/", StyleJobCreateApi.as_view(), name="style_jobs"),
    path("jobs/<id:pk>/", JobDetailApi.as_view(), name="job"),
    path("jobs/<id:pk>/cancel/", JobCancelApi.as_view(), name="job_cancel"),
    path("jobs/<id:pk>/retry/", JobRetryApi.as_view(), name="job_retry"),
    path("jobs/<id:pk>/result/", JobResultApi.as_view(), name="job_result"),
    path("jobs/<id:pk>/result/<str:kind>/", JobResultFileApi.as_view(), name="job_result_file"),
]
