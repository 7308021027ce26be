"""Exhibitions, blind expert review campaigns and public user studies over result images.

Every place that shows a result (exhibition entry, review item, study candidate) refers to it
through a nullable foreign key per kind of result, with a constraint that exactly one is set.
Restorations and style transfers are both Restoration rows (their `task` tells them apart); a
study candidate may instead be a real painting, a motif of kind artwork (`artwork`).
`gallery.results` is the one place that turns any of them into what the pages show.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from heritage.models import Motif
from restoration.models import Restoration

# ITU-R BT.500 five-grade quality scale.
SCALE = {5: "Excellent", 4: "Good", 3: "Fair", 2: "Poor", 1: "Bad"}

DEFAULT_RUBRIC = [
    {
        "key": "structure",
        "label": "Structural continuity",
        "help": "Lines, contours and figures continue across the restored area without breaks.",
    },
    {
        "key": "colour",
        "label": "Colour and tone",
        "help": "Pigments and tonal values match the surrounding paint layer.",
    },
    {
        "key": "texture",
        "label": "Texture and material",
        "help": "The restored area reads as the same surface: plaster, rock, brushwork, ageing.",
    },
    {
        "key": "style",
        "label": "Style fidelity",
        "help": "The restored area belongs to the period and school of the work.",
    },
    {
        "key": "restraint",
        "label": "Restraint",
        "help": "Nothing is invented beyond what the surviving evidence supports.",
    },
    {"key": "overall", "label": "Overall", "help": "Your overall judgement of the restoration."},
]

# Scoring a photograph rendered in a painting style (seed 003 sec. 5): how well it takes the
# style, and how much of the photograph it keeps.
STYLE_RUBRIC = [
    {
        "key": "style_fidelity",
        "label": "Style fidelity",
        "help": "The image reads as a painting of the target style and period, not a filtered "
        "photograph.",
    },
    {
        "key": "palette",
        "label": "Colour palette",
        "help": "The colours are the style's own pigments and their balance (for the blue-green "
        "landscape: azurite, malachite, ochre).",
    },
    {
        "key": "brushwork",
        "label": "Brushwork and texture",
        "help": "Strokes, outlines and surface texture are those of the style, free of artefacts.",
    },
    {
        "key": "content",
        "label": "Content preserved",
        "help": "The photograph's scene stays recognisable: its shapes, layout and depth.",
    },
    {
        "key": "overall",
        "label": "Overall",
        "help": "Your overall judgement of the stylized image.",
    },
]


class ResultKind(models.TextChoices):
    """What a review campaign or a study compares: one kind of result at a time."""

    RESTORATION = "restoration", "Restorations"
    STYLIZED = "stylized", "Stylized images"


# What a style study asks by default (seed 003 sec. 5's user study).
STYLE_QUESTION = "Which image best represents the Dunhuang blue-green landscape style?"

# The rubric a campaign is created with, by the kind of result it holds.
RUBRICS = {ResultKind.RESTORATION: DEFAULT_RUBRIC, ResultKind.STYLIZED: STYLE_RUBRIC}


def opaque_token() -> str:
    """A random name for a result on blind and public pages, instead of any id.

    It starts with a letter: a leading "-" would read as a formula in a spreadsheet opened from
    the CSV exports, and as an option on a command line.
    """
    return "r" + secrets.token_urlsafe(12)


class ResultSlot(models.Model):
    """A place that shows one result image: a restoration or a stylized image (both are
    Restoration rows), or, for a study candidate, a real painting (see StudyCandidate)."""

    # PROTECT: a result that was scored, voted on or exhibited is evidence and stays.
    restoration = models.ForeignKey(
        Restoration, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True

    @classmethod
    def result_constraint(
        cls, name: str, fields: tuple[str, ...] = ("restoration",)
    ) -> models.CheckConstraint:
        """Exactly one of `fields` (the slot's foreign keys to a result) is set."""
        condition = Q()
        for chosen in fields:
            one = Q(**{f"{chosen}__isnull": False})
            for other in fields:
                if other != chosen:
                    one &= Q(**{f"{other}__isnull": True})
            condition |= one
        return models.CheckConstraint(condition=condition, name=name)


class Exhibition(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=120, unique=True)
    summary = models.CharField(max_length=500, blank=True)
    text = models.TextField("introduction", blank=True)
    credits = models.TextField(blank=True)
    licence = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("gallery:exhibition_detail", args=[self.slug])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ExhibitionEntry(models.Model):
    """One work in an exhibition: a motif, optionally with the result chosen to show."""

    exhibition = models.ForeignKey(Exhibition, on_delete=models.CASCADE, related_name="entries")
    position = models.PositiveIntegerField()
    motif = models.ForeignKey(Motif, on_delete=models.PROTECT, related_name="+")
    restoration = models.ForeignKey(
        Restoration, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    caption = models.TextField(blank=True)

    class Meta:
        ordering = ["exhibition", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["exhibition", "position"], name="exhibition_entry_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.motif}"

    def get_absolute_url(self) -> str:
        return reverse("gallery:exhibition_work", args=[self.exhibition.slug, self.position])


class ReviewCampaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Reference(models.TextChoices):
        DAMAGED = "damaged", "Damaged input (what the engine was given)"
        ORIGINAL = "original", "Original photograph"
        # Of a stylized image: the photograph it was made from, the reference for its content.
        PHOTOGRAPH = "photograph", "The photograph that was stylized"

    title = models.CharField(max_length=300)
    instructions = models.TextField(blank=True)
    # One kind of result per campaign: the rubric and the reference follow from it.
    kind = models.CharField(
        max_length=16, choices=ResultKind.choices, default=ResultKind.RESTORATION
    )
    reference = models.CharField(
        max_length=16, choices=Reference.choices, default=Reference.DAMAGED
    )
    # [{"key", "label", "help"}], frozen when the campaign is created so scores stay comparable.
    rubric = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    experts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ReviewAssignment", related_name="review_campaigns"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def criteria(self) -> list[str]:
        return [criterion["key"] for criterion in self.rubric]


class ReviewAssignment(models.Model):
    campaign = models.ForeignKey(ReviewCampaign, on_delete=models.CASCADE, related_name="+")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Each expert sees the items in their own random order, drawn once from this seed.
    order_seed = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "expert"], name="review_assignment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.expert} on {self.campaign}"


class ReviewItem(ResultSlot):
    campaign = models.ForeignKey(ReviewCampaign, on_delete=models.CASCADE, related_name="items")
    # What experts see in URLs and file names instead of any id that could lead to the engine.
    token = models.CharField(max_length=32, unique=True)

    class Meta:
        ordering = ["campaign", "id"]
        constraints = [
            ResultSlot.result_constraint("review_item_has_result"),
            models.UniqueConstraint(
                fields=["campaign", "restoration"], name="review_item_restoration_unique"
            ),
        ]

    def __str__(self) -> str:
        # Never the engine: the admin lists are seen by staff who may also review.
        return f"Item {self.token}"


class ReviewResponse(models.Model):
    """An expert's pass over one item: submitted with scores and a comment, or skipped for now."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="responses")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    comment = models.TextField(blank=True)
    skipped = models.BooleanField(default=False)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "expert"], name="review_response_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.expert} on item {self.item_id}"


class ExpertScore(models.Model):
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="scores")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    criterion = models.CharField(max_length=32)
    score = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "expert", "criterion"], name="expert_score_unique"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="expert_score_in_scale"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.expert}: {self.criterion} = {self.score}"


class UserStudy(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=120, unique=True)
    question = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    show_input = models.BooleanField(
        default=True, help_text="Show the input (damaged motif or photo) above the candidates."
    )
    allow_not_sure = models.BooleanField(default=True)
    retire_after = models.PositiveIntegerField(
        null=True, blank=True, help_text="A trial stops being shown after this many votes."
    )
    attention_check = models.BooleanField(
        default=False, help_text="Show each participant one earlier trial again, reshuffled."
    )
    # What its trials compare: restorations of a damaged input, or stylized renderings of a
    # photograph (with real paintings as optional candidates).
    kind = models.CharField(
        max_length=16, choices=ResultKind.choices, default=ResultKind.RESTORATION
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "user studies"

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("gallery:study_detail", args=[self.slug])

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class StudyTrial(models.Model):
    study = models.ForeignKey(UserStudy, on_delete=models.CASCADE, related_name="trials")
    position = models.PositiveIntegerField()
    # The input all candidates were made from, shown as context when the study says so.
    motif = models.ForeignKey(Motif, on_delete=models.PROTECT, related_name="+")
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "position"], name="study_trial_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Trial {self.position} of {self.study}"


class StudyCandidate(ResultSlot):
    trial = models.ForeignKey(StudyTrial, on_delete=models.CASCADE, related_name="candidates")
    # Instead of a result: a real painting (a motif of kind artwork) shown among stylized
    # images. Served only under the candidate's token while the study is open, like any other.
    artwork = models.ForeignKey(
        Motif, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    token = models.CharField(max_length=32, unique=True)

    class Meta:
        ordering = ["trial", "id"]
        constraints = [
            ResultSlot.result_constraint(
                "study_candidate_has_one_result", fields=("restoration", "artwork")
            ),
            models.UniqueConstraint(
                fields=["trial", "restoration"], name="study_candidate_restoration_unique"
            ),
            models.UniqueConstraint(
                fields=["trial", "artwork"], name="study_candidate_artwork_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Candidate {self.token}"


class Participant(models.Model):
    """An anonymous visitor taking part in studies, known by a signed cookie."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Salted hash, never the address itself: enough to spot stuffing from one source.
    ip_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Participant {self.id}"


class ServedTrial(models.Model):
    """A trial as the server showed it to one visitor: what their vote on it may claim.

    Written when the page or the API hands the trial out; a vote must name a trial served to
    its participant, as the repeat only if the server chose it as the attention check, and the
    candidates in the order stored here.
    """

    trial = models.ForeignKey(StudyTrial, on_delete=models.CASCADE, related_name="served")
    # The id in the visitor's signed cookie. No foreign key: the participant row only appears
    # with the first vote, and looking at a trial must not create one.
    participant_key = models.UUIDField()
    # The attention check: the server chose this trial to be shown to the participant again.
    repeat = models.BooleanField(default=False)
    # Candidate tokens in the order they were shown, left to right.
    shown = models.JSONField(default=list)
    served_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["served_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "participant_key", "repeat"], name="study_served_once"
            ),
        ]
        indexes = [models.Index(fields=["participant_key", "repeat"])]

    def __str__(self) -> str:
        return f"{self.trial} served to {self.participant_key}"


class StudyVote(models.Model):
    trial = models.ForeignKey(StudyTrial, on_delete=models.CASCADE, related_name="votes")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="votes")
    # Null: the participant answered "not sure".
    candidate = models.ForeignKey(
        StudyCandidate, on_delete=models.CASCADE, null=True, blank=True, related_name="votes"
    )
    # The attention check: the same trial shown to the same participant a second time.
    repeat = models.BooleanField(default=False)
    # Candidate tokens in the order the participant saw them, left to right.
    shown = models.JSONField(default=list)
    ip_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "participant", "repeat"], name="study_vote_once_per_trial"
            ),
        ]
        indexes = [models.Index(fields=["trial", "repeat"])]

    def __str__(self) -> str:
        return f"Vote {self.pk} on {self.trial}"
