"""REST API of blind expert review: an expert's campaigns, queue, scores and skips; results."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gallery.models import SCALE, ReviewCampaign, ReviewItem
from gallery.results import result_of
from gallery.review_access import IMAGE_KINDS
from gallery.review_access import image_url as _image_url
from gallery.review_access import reviewer_campaign as _reviewer_campaign
from gallery.selectors import reviews as selectors
from gallery.services import reviews as services
from heritage.api.errors import api_call
from heritage.api.permissions import IsCurator
from heritage.jsonbody import BoundedJSONParser
from heritage.models import User

SCALE_LABELS = {str(value): SCALE[value] for value in sorted(SCALE)}
ITEM_STATUSES = ("pending", "skipped", "submitted")


def _reviewer_item(request: Request, token: str) -> ReviewItem:
    """The item if the user may take part in its campaign (assigned expert or curator), or 404."""
    item = selectors.review_item_for_image(token=token, user=request.user)
    if item is None:
        raise exceptions.NotFound("No such review item.")
    return item


def _item(
    campaign: ReviewCampaign, item: ReviewItem, number: int, expert: User, answer=None
) -> dict:
    """One item as its expert sees it: token, their own answer, blind image URLs; no engine.

    `answer` is the (response, scores) pair when the caller fetched the whole queue's at once.
    """
    if answer is None:
        answer = selectors.review_response_of(item=item, expert=expert)
    response, scores = answer
    if response is not None and response.submitted_at is not None and not response.skipped:
        item_status = "submitted"
    elif response is not None and response.skipped:
        item_status = "skipped"
    else:
        item_status = "pending"
    motif = result_of(item).motif
    return {
        "token": item.token,
        "number": number,
        "status": item_status,
        "scores": scores,
        "comment": response.comment if response is not None else "",
        "submitted_at": response.submitted_at if response is not None else None,
        "motif": {"title": motif.title, "width": motif.width, "height": motif.height},
        "images": {kind: _image_url(campaign, item, kind) for kind in IMAGE_KINDS},
    }


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 5})
class ScoreField(serializers.Field):
    """A score passed on as sent (null too), so the service's messages name the criterion."""

    def run_validation(self, data=serializers.empty):
        return data

    def to_representation(self, value):
        return value


# An inline enum: a named one would collide with every other "status" choice set in the schema.
@extend_schema_field({"type": "string", "enum": list(ITEM_STATUSES)})
class ItemStatusField(serializers.CharField):
    pass


class ReviewRubricSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    help = serializers.CharField()


class ReviewMotifSerializer(serializers.Serializer):
    title = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class ReviewImagesSerializer(serializers.Serializer):
    result = serializers.CharField(help_text="The restored or stylized image (preview size).")
    reference = serializers.CharField(
        help_text="The damaged input or the original photograph; for a stylized image, the "
        "photograph it was made from."
    )
    outline = serializers.CharField(
        allow_null=True, help_text="Border of the reconstructed area, if any."
    )


class ReviewItemSerializer(serializers.Serializer):
    token = serializers.CharField()
    number = serializers.IntegerField(help_text="1-based position in this expert's own order.")
    status = ItemStatusField(help_text="pending, skipped or submitted (by this expert).")
    scores = serializers.DictField(child=serializers.IntegerField(), help_text="By criterion.")
    comment = serializers.CharField(allow_blank=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    motif = ReviewMotifSerializer()
    images = ReviewImagesSerializer()


class ReviewProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class ReviewEstimateSerializer(serializers.Serializer):
    mean = serializers.FloatField(source="value", allow_null=True)
    low = serializers.FloatField(
        allow_null=True, help_text="95% Student-t interval, clipped to the 1-5 scale."
    )
    high = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField(help_text="Number of scores.")
    note = serializers.CharField(
        allow_blank=True,
        help_text='Why low and high are null ("too few scores": under 3), or that the interval '
        "was clipped to the scale; empty otherwise.",
    )


class ReviewAgreementSerializer(serializers.Serializer):
    alpha = serializers.FloatField(allow_null=True, help_text="Krippendorff's alpha, ordinal.")
    alpha_reason = serializers.CharField(allow_null=True, help_text="Why alpha is missing.")
    icc = serializers.FloatField(allow_null=True, help_text="ICC(2,k) over experts x items.")
    icc_reason = serializers.CharField(allow_null=True, help_text="Why ICC is missing.")


class ReviewExpertCompletionSerializer(serializers.Serializer):
    username = serializers.CharField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    total = serializers.IntegerField()


class ReviewCountsSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    experts = serializers.IntegerField()
    responses = serializers.IntegerField()
    scores = serializers.IntegerField()


# Expert side


class ReviewCampaignListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        title = serializers.CharField()
        instructions = serializers.CharField(allow_blank=True)
        reference = serializers.CharField(help_text="What the reference image shows.")
        rubric = ReviewRubricSerializer(many=True)
        scale = serializers.DictField(child=serializers.CharField(), help_text='{"1": "Bad", …}')
        done = serializers.IntegerField()
        total = serializers.IntegerField()

        class Meta:
            ref_name = "ReviewCampaign"

    @extend_schema(
        summary="Open campaigns the signed-in expert is invited to",
        responses=OutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        campaigns = selectors.campaigns_for_expert(expert=request.user)
        data = [
            {
                "id": progress.campaign.pk,
                "title": progress.campaign.title,
                "instructions": progress.campaign.instructions,
                "reference": progress.campaign.get_reference_display(),
                "rubric": progress.campaign.rubric,
                "scale": SCALE_LABELS,
                "done": progress.done,
                "total": progress.total,
            }
            for progress in campaigns
        ]
        return Response(self.OutputSerializer(data, many=True).data)


class ReviewItemListApi(APIView):
    @extend_schema(
        summary="The expert's items in their own order, with their answers so far",
        responses={
            200: ReviewItemSerializer(many=True),
            404: OpenApiResponse(description="No such campaign for this user."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        campaign = _reviewer_campaign(request, pk)
        queue = selectors.review_queue(campaign=campaign, expert=request.user)
        answers = selectors.review_answers(campaign=campaign, expert=request.user)
        data = [
            _item(campaign, item, number, request.user, answers.get(item.pk, (None, {})))
            for number, item in enumerate(queue, 1)
        ]
        return Response(ReviewItemSerializer(data, many=True).data)


class ReviewNextApi(APIView):
    class OutputSerializer(ReviewItemSerializer):
        progress = ReviewProgressSerializer()

        class Meta:
            ref_name = "ReviewNextItem"

    @extend_schema(
        summary="The next item to score (unseen first, then skipped ones)",
        responses={
            200: OutputSerializer,
            204: OpenApiResponse(description="Every item is scored."),
            403: OpenApiResponse(description="The campaign is not open for scoring."),
            404: OpenApiResponse(description="No such campaign for this user."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        campaign = _reviewer_campaign(request, pk)
        # As on the review pages: experts score open campaigns; curators may look at any.
        if campaign.status != ReviewCampaign.Status.OPEN and not request.user.is_curator:
            raise exceptions.PermissionDenied(f"“{campaign.title}” is not open for scoring.")
        item = selectors.review_next(campaign=campaign, expert=request.user)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        queue = selectors.review_queue(campaign=campaign, expert=request.user)
        number = next(index for index, queued in enumerate(queue, 1) if queued.pk == item.pk)
        done, total = selectors.review_progress(campaign=campaign, expert=request.user)
        data = {
            **_item(campaign, item, number, request.user),
            "progress": {"done": done, "total": total},
        }
        return Response(self.OutputSerializer(data).data)


class ReviewResponseUpdateApi(APIView):
    parser_classes = [BoundedJSONParser]

    class InputSerializer(serializers.Serializer):
        scores = serializers.DictField(
            child=ScoreField(), help_text='A score from 1 to 5 per criterion: {"structure": 4}.'
        )
        comment = serializers.CharField(required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "ReviewResponseInput"

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        scores = serializers.DictField(child=serializers.IntegerField())
        comment = serializers.CharField(allow_blank=True)
        submitted_at = serializers.DateTimeField()

        class Meta:
            ref_name = "ReviewResponse"

    @extend_schema(
        summary="Score an item (again, to revise while the campaign is open)",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="Errors by criterion, or the campaign is closed."),
            404: OpenApiResponse(description="No such item for this user."),
        },
    )
    def put(self, request: Request, token: str) -> Response:
        item = _reviewer_item(request, token)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        response = api_call(
            services.review_submit, item=item, expert=request.user, **serializer.validated_data
        )
        _, scores = selectors.review_response_of(item=item, expert=request.user)
        data = {
            "token": item.token,
            "scores": scores,
            "comment": response.comment,
            "submitted_at": response.submitted_at,
        }
        return Response(self.OutputSerializer(data).data)


class ReviewSkipApi(APIView):
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField(help_text='Always "skipped".')

        class Meta:
            ref_name = "ReviewSkip"

    @extend_schema(
        summary="Put an item aside; it comes back once the others are scored",
        request=None,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="Already scored, or the campaign is closed."),
            404: OpenApiResponse(description="No such item for this user."),
        },
    )
    def post(self, request: Request, token: str) -> Response:
        item = _reviewer_item(request, token)
        api_call(services.review_skip, item=item, expert=request.user)
        return Response(self.OutputSerializer({"status": "skipped"}).data)


# Curator side


class ReviewCampaignResultsApi(APIView):
    permission_classes = [IsCurator]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        title = serializers.CharField()
        status = serializers.CharField()
        kind = serializers.CharField(help_text="What is scored: restoration | stylized.")
        rubric = ReviewRubricSerializer(many=True)
        engines = serializers.ListField(child=serializers.CharField())
        means = serializers.DictField(
            child=serializers.DictField(child=ReviewEstimateSerializer()),
            help_text="Per engine, per criterion: mean score with 95% confidence interval.",
        )
        agreement = serializers.DictField(
            child=ReviewAgreementSerializer(), help_text="Per criterion."
        )
        experts = ReviewExpertCompletionSerializer(many=True)
        counts = ReviewCountsSerializer()

        class Meta:
            ref_name = "ReviewResults"

    @extend_schema(
        summary="Scores per engine and criterion, agreement between experts, completion",
        responses={
            200: OutputSerializer,
            403: OpenApiResponse(description="Curators only."),
            404: OpenApiResponse(description="No such campaign."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(ReviewCampaign, pk=pk)
        results = selectors.campaign_results(campaign=campaign)
        data = {
            "id": campaign.pk,
            "title": campaign.title,
            "status": campaign.status,
            "kind": campaign.kind,
            "rubric": results["criteria"],
            "engines": results["engines"],
            "means": {
                engine: {c["key"]: results["means"][(engine, c["key"])] for c in campaign.rubric}
                for engine in results["engines"]
            },
            "agreement": {
                a["key"]: {
                    "alpha": a["alpha"],
                    "alpha_reason": a["alpha_note"] or None,
                    "icc": a["icc"],
                    "icc_reason": a["icc_note"] or None,
                }
                for a in results["agreement"]
            },
            "experts": [
                {**row, "username": row["expert"].get_username()} for row in results["experts"]
            ],
            "counts": results["counts"],
        }
        return Response(self.OutputSerializer(data).data)


urlpatterns = [
    path("review/campaigns/", ReviewCampaignListApi.as_view(), name="review_campaigns"),
    path("review/campaigns/<id:pk>/items/", ReviewItemListApi.as_view(), name="review_items"),
    path("review/campaigns/<id:pk>/next/", ReviewNextApi.as_view(), name="review_next"),
    path(
        "review/campaigns/<id:pk>/results/",
        ReviewCampaignResultsApi.as_view(),
        name="review_results",
    ),
    path(
        "review/items/<str:token>/response/",
        ReviewResponseUpdateApi.as_view(),
        name="review_response",
    ),
    path("review/items/<str:token>/skip/", ReviewSkipApi.as_view(), name="review_skip"),
]
