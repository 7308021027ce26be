"""Public API of user studies: trials and votes as on the pages (same cookie, limits, rules)."""

import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from django_ratelimit.core import is_ratelimited
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gallery.models import ServedTrial, UserStudy
from gallery.participants import Visitor as _Visitor
from gallery.participants import ip_hash as _ip_hash
from gallery.participants import rate_period
from gallery.participants import remember as _remember
from gallery.participants import study_or_404 as _study_or_404
from gallery.participants import visitor_of as _visitor
from gallery.selectors import studies as selectors
from gallery.services import studies as services
from heritage.api.permissions import CsrfProtected, IsCurator

CLOSED = "This study has closed."
THROTTLED = "Too many votes came from your network in a short time, so this one was not counted."


class ErrorSerializer(serializers.Serializer):
    class Meta:
        ref_name = "StudyError"

    detail = serializers.CharField()
    code = serializers.CharField(required=False)


class EstimateSerializer(serializers.Serializer):
    class Meta:
        ref_name = "StudyEstimate"

    value = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="95% interval, lower end.")
    high = serializers.FloatField(allow_null=True, help_text="95% interval, upper end.")
    n = serializers.IntegerField()
    note = serializers.CharField(
        allow_blank=True, help_text="Why there is no interval (too few comparisons, ...), or empty."
    )


# A second vote, or one on an image set never handed to the visitor, is a conflict with what
# is stored rather than a malformed request.
CONFLICTS = {"already_voted", "not_served"}


def _refused(exc: ValidationError, visitor: _Visitor) -> Response:
    conflict = exc.code in CONFLICTS
    answer = status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST
    body = {"detail": " ".join(exc.messages), "code": exc.code or "invalid"}
    return _remember(Response(body, status=answer), visitor)


def _over_rate(request: Request, group: str, rate: str) -> bool:
    # The pages' groups and rates, so that votes through the API and through the page form
    # count against one limit per address.
    return is_ratelimited(request, group=group, key="ip", rate=rate, increment=True)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class StudyDetailApi(APIView):
    """A study's texts and state; drafts only for curators to preview."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Study"

        slug = serializers.SlugField()
        title = serializers.CharField()
        question = serializers.CharField()
        description = serializers.CharField()
        kind = serializers.CharField(
            help_text="What the image sets compare: restoration | stylized (real paintings may "
            "be among the candidates of a stylized study; which ones is not told)."
        )
        show_input = serializers.BooleanField()
        allow_not_sure = serializers.BooleanField()
        status = serializers.CharField(help_text="open | closed | draft (curators only)")
        answered = serializers.IntegerField(help_text="Image sets this visitor has answered.")
        url = serializers.CharField(help_text="The study's page.")

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        study = _study_or_404(request, slug)
        participant = _visitor(request).participant
        data = {
            "slug": study.slug,
            "title": study.title,
            "question": study.question,
            "description": study.description,
            "kind": study.kind,
            "show_input": study.show_input,
            "allow_not_sure": study.allow_not_sure,
            "status": study.status,
            "answered": selectors.study_participant_votes(study=study, participant=participant),
            "url": study.get_absolute_url(),
        }
        return Response(self.OutputSerializer(data).data)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class StudyNextApi(APIView):
    """The visitor's next image set, its candidates in this visitor's order."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        class CandidateSerializer(serializers.Serializer):
            class Meta:
                ref_name = "StudyCandidate"

            label = serializers.CharField(help_text="A, B, ... left to right.")
            token = serializers.CharField(help_text="What a vote names as its choice.")
            image = serializers.CharField(help_text="The candidate's image (opaque URL).")

        class Meta:
            ref_name = "StudyTrial"

        trial = serializers.IntegerField()
        repeat = serializers.BooleanField(
            help_text="The attention check: an earlier set shown again, chosen by the server."
        )
        number = serializers.IntegerField(
            help_text="Which image set this is for the visitor; a repeat keeps its set's number."
        )
        total = serializers.IntegerField(
            help_text="How many different image sets the visitor will see in all."
        )
        input_image = serializers.CharField(
            allow_null=True, help_text="What every candidate was made from; null if not shown."
        )
        allow_not_sure = serializers.BooleanField()
        candidates = CandidateSerializer(many=True)

    @extend_schema(
        responses={
            200: OutputSerializer,
            204: OpenApiResponse(description="The visitor has answered every image set."),
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, description=CLOSED),
        }
    )
    def get(self, request: Request, slug: str) -> Response:
        study = _study_or_404(request, slug)
        if study.status == UserStudy.Status.CLOSED:
            return Response({"detail": CLOSED, "code": "closed"}, status=status.HTTP_409_CONFLICT)
        visitor = _visitor(request)
        # Stored as served: the visitor's vote on it is checked against it.
        served = services.trial_serve(study=study, participant=visitor.viewer)
        if served is None:
            return _remember(Response(status=status.HTTP_204_NO_CONTENT), visitor)
        data = self._trial(study, served, visitor)
        return _remember(Response(self.OutputSerializer(data).data), visitor)

    @staticmethod
    def _trial(study: UserStudy, served: ServedTrial, visitor: _Visitor) -> dict:
        viewer, trial = visitor.viewer, served.trial
        candidates = selectors.served_candidates(served=served)
        number, total = selectors.study_progress(study=study, participant=viewer, trial=trial)
        return {
            "trial": trial.pk,
            "repeat": served.repeat,
            "number": number,
            "total": total,
            "input_image": (
                reverse("gallery:study_input_image", args=[trial.pk]) if study.show_input else None
            ),
            "allow_not_sure": study.allow_not_sure,
            "candidates": [
                {
                    "label": label,
                    "token": candidate.token,
                    "image": reverse("gallery:study_candidate_image", args=[candidate.token]),
                }
                for label, candidate in zip(string.ascii_uppercase, candidates, strict=False)
            ],
        }


class StudyVoteCreateApi(APIView):
    """Cast the visitor's vote on an image set; the first vote makes them a participant."""

    permission_classes = [AllowAny, CsrfProtected]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StudyVoteInput"

        trial = serializers.IntegerField(min_value=1)
        choice = serializers.CharField(
            max_length=32, allow_null=True, help_text='A candidate\'s token; null for "not sure".'
        )
        shown = serializers.ListField(
            child=serializers.CharField(max_length=32),
            allow_empty=False,
            max_length=len(string.ascii_uppercase),
            help_text=(
                "The candidates' tokens in the order they were shown, left to right: exactly as"
                " the image set was handed out."
            ),
        )
        repeat = serializers.BooleanField(
            default=False,
            help_text="True only for the attention check the server handed out as a repeat.",
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StudyVoteCounted"

        status = serializers.CharField(help_text='"counted"')

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: ErrorSerializer,
            403: OpenApiResponse(ErrorSerializer, description="No valid CSRF token."),
            404: ErrorSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description=f"{services.ALREADY_VOTED} Or: {services.NOT_SERVED}",
            ),
            429: OpenApiResponse(ErrorSerializer, description=THROTTLED),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        study = _study_or_404(request, slug)
        if _over_rate(request, "gallery.vote", settings.GALLERY_VOTE_RATE):
            raise exceptions.Throttled(
                wait=rate_period(settings.GALLERY_VOTE_RATE), detail=THROTTLED
            )
        vote = self.InputSerializer(data=request.data)
        vote.is_valid(raise_exception=True)
        trial = selectors.study_trial(study=study, trial_id=vote.validated_data["trial"])
        if trial is None:
            raise exceptions.ValidationError({"trial": ["No such image set in this study."]})
        visitor = _visitor(request)
        if visitor.participant is None and _over_rate(
            request, "gallery.participant", settings.GALLERY_PARTICIPANT_RATE
        ):
            raise exceptions.Throttled(
                wait=rate_period(settings.GALLERY_PARTICIPANT_RATE), detail=THROTTLED
            )
        ip_hash = _ip_hash(request)
        try:
            # A refused first vote must not leave a participant behind.
            with transaction.atomic():
                voter = visitor.participant or services.participant_create(
                    ip_hash=ip_hash, participant_id=visitor.key
                )
                services.vote_cast(
                    trial=trial,
                    participant=voter,
                    choice=vote.validated_data["choice"],
                    shown=vote.validated_data["shown"],
                    repeat=vote.validated_data["repeat"],
                    ip_hash=ip_hash,
                )
        except ValidationError as exc:
            return _refused(exc, visitor)
        counted = Response({"status": "counted"}, status=status.HTTP_201_CREATED)
        return _remember(counted, visitor)


class StudyResultsApi(APIView):
    """Vote shares, Bradley-Terry scale, attention check, timeline and trials; curators only."""

    permission_classes = [IsAuthenticated, IsCurator]

    class OutputSerializer(serializers.Serializer):
        class EngineSerializer(serializers.Serializer):
            class Meta:
                ref_name = "StudyEngineResult"

            engine = serializers.CharField(
                help_text='The engine, or "real painting" for every real painting shown.'
            )
            kind = serializers.CharField(help_text="restoration | stylized | artwork")
            votes = serializers.IntegerField()
            appearances = serializers.IntegerField()
            share = EstimateSerializer(help_text="Share of decisive votes, Wilson interval.")
            scale = EstimateSerializer(help_text="Centred Bradley-Terry log-strength.")

        class NotSureSerializer(serializers.Serializer):
            class Meta:
                ref_name = "StudyNotSure"

            votes = serializers.IntegerField()
            share = EstimateSerializer()

        class AttentionSerializer(serializers.Serializer):
            class Meta:
                ref_name = "StudyAttention"

            enabled = serializers.BooleanField()
            checked = serializers.IntegerField()
            passed = serializers.IntegerField()
            failed = serializers.IntegerField()
            excluded_votes = serializers.IntegerField()

        class DaySerializer(serializers.Serializer):
            class Meta:
                ref_name = "StudyVotesPerDay"

            day = serializers.DateField()
            votes = serializers.IntegerField()

        class TrialSerializer(serializers.Serializer):
            class Meta:
                ref_name = "StudyTrialResult"

            position = serializers.IntegerField()
            motif = serializers.CharField()
            candidates = serializers.ListField(
                child=serializers.CharField(),
                help_text='Engines of its results, and "real painting: TITLE" for paintings.',
            )
            votes = serializers.IntegerField()
            retired = serializers.BooleanField()
            retired_at = serializers.DateTimeField(allow_null=True)

        class Meta:
            ref_name = "StudyResults"

        study = serializers.SlugField()
        title = serializers.CharField()
        status = serializers.CharField()
        kind = serializers.CharField(help_text="restoration | stylized")
        engines = EngineSerializer(many=True)
        counted = serializers.IntegerField(
            help_text="First votes counted in shares and scale: from every participant who did "
            "not fail the attention check."
        )
        first_votes = serializers.IntegerField(
            help_text="Every first vote, as timeline and trials count them: counted plus "
            "attention.excluded_votes."
        )
        decisive = serializers.IntegerField(help_text="Counted votes that chose an image.")
        not_sure = NotSureSerializer()
        participants = serializers.IntegerField()
        attention = AttentionSerializer()
        timeline = DaySerializer(many=True)
        trials = TrialSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer, 403: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request: Request, pk: int) -> Response:
        study = get_object_or_404(UserStudy, pk=pk)
        results = selectors.study_results(study=study)
        data = {
            **results,
            "study": study.slug,
            "title": study.title,
            "status": study.status,
            "kind": study.kind,
            "timeline": [{"day": day, "votes": votes} for day, votes in results["timeline"]],
        }
        return Response(self.OutputSerializer(data).data)


urlpatterns = [
    path("studies/<slug:slug>/", StudyDetailApi.as_view(), name="study"),
    path("studies/<slug:slug>/next/", StudyNextApi.as_view(), name="study_next"),
    path("studies/<slug:slug>/votes/", StudyVoteCreateApi.as_view(), name="study_votes"),
    path("studies/<id:pk>/results/", StudyResultsApi.as_view(), name="study_results"),
]
