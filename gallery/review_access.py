"""What a reviewer may open, for the pages and the API alike: the campaigns they take part in and
the blind URLs of an item's images (tokens only, never a media path or an engine)."""

from pathlib import PurePosixPath

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse

from gallery.models import ReviewCampaign, ReviewItem
from gallery.results import result_of
from gallery.selectors import reviews as selectors

IMAGE_KINDS = ("result", "reference", "outline")


def reviewer_campaign(request: HttpRequest, pk: int) -> ReviewCampaign:
    """The campaign if the user may take part in it (assigned expert, or curator); else 404."""
    campaign = get_object_or_404(ReviewCampaign, pk=pk)
    if not selectors.user_can_review(campaign=campaign, user=request.user):
        raise Http404("No such review campaign.")
    return campaign


def image_file(campaign: ReviewCampaign, item: ReviewItem, kind: str):
    result = result_of(item)
    if kind == "result":
        return result.preview
    if kind == "reference":
        # The damaged input of a restoration, or the photograph a stylized image was made from.
        if campaign.reference in (
            ReviewCampaign.Reference.DAMAGED,
            ReviewCampaign.Reference.PHOTOGRAPH,
        ):
            return result.input_preview
        return result.motif.preview
    return result.outline


def image_url(campaign: ReviewCampaign, item: ReviewItem, kind: str) -> str | None:
    """A URL naming only the item's token and the kind of image, never a media path."""
    file = image_file(campaign, item, kind)
    if not file:
        return None
    ext = PurePosixPath(file.name).suffix.lstrip(".").lower()
    return reverse("gallery:review_image", args=[item.token, kind, ext])
