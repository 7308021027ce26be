"""The API's front door: `/api/v1/` lists its parts, who may use each, and how to sign in."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# (name, URL name or path, who may use it, what it holds); the URL names are the apps' own.
PARTS = [
    ("sites", "heritage_api:sites", "curators write, experts read", "Sites of the catalogue."),
    (
        "motifs",
        "heritage_api:motifs",
        "curators write, experts read",
        "Motifs: upload (multipart), list with filters, detail, metadata, files; "
        "their damage annotations under motifs/<id>/annotations/.",
    ),
    (
        "engines",
        "restoration_api:engines",
        "curators",
        "Restoration and style engines: parameters and ranges, weights.",
    ),
    (
        "checkpoints",
        "restoration_api:checkpoints",
        "curators",
        "Model checkpoints: list (?engine=), detail with hash and training data licences; "
        "register uploaded weights (multipart: a .safetensors / .pth file or a zipped folder).",
    ),
    (
        "jobs",
        "restoration_api:jobs",
        "curators",
        "Restoration jobs: launch (202), status, cancel, retry; results, provenance, metrics.",
    ),
    (
        "style-jobs",
        "restoration_api:style_jobs",
        "curators",
        "Launch a style transfer of a whole motif (202); followed under jobs.",
    ),
    (
        "training-runs",
        "restoration_api:training_runs",
        "curators",
        "Training runs: start (202), loss and samples, cancel, resume.",
    ),
    (
        "exhibitions",
        "gallery_api:exhibitions",
        "everyone",
        "Published exhibitions and their works.",
    ),
    (
        "studies",
        "/api/v1/studies/{slug}/",
        "everyone (results: curators)",
        "Open user studies: the next image set, votes (the page's cookie and CSRF token).",
    ),
    (
        "review",
        "gallery_api:review_campaigns",
        "experts (their campaigns), curators",
        "Blind expert review: queues, scores, skips; campaign results.",
    ),
    (
        "team-members",
        "heritage_api:team_members",
        "team managers",
        "Accounts with their roles and state: change a role, deactivate, reactivate.",
    ),
    (
        "team-invitations",
        "heritage_api:team_invitations",
        "team managers",
        "Pending invitations; invite someone (the link is answered once), renew, revoke.",
    ),
]


class ApiRootApi(APIView):
    """The parts of the API, its documentation and schema, and how scripts authenticate."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "ApiRoot",
            {
                "version": serializers.CharField(),
                "documentation": serializers.CharField(),
                "redoc": serializers.CharField(),
                "schema": serializers.CharField(),
                "authentication": serializers.CharField(),
                "errors": serializers.CharField(),
                "parts": serializers.DictField(
                    child=inline_serializer(
                        "ApiPart",
                        {
                            "url": serializers.CharField(),
                            "who": serializers.CharField(),
                            "description": serializers.CharField(),
                        },
                    )
                ),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "version": "1",
                "documentation": reverse("heritage_api:docs"),
                "redoc": reverse("heritage_api:redoc"),
                "schema": reverse("api_schema"),
                "authentication": "The browser's session, or `Authorization: Token KEY` with "
                f"a personal token made at {reverse('profile')}.",
                "errors": 'JSON: {"detail": "why"}, or {"<field>": ["why", ...]} for the '
                "fields a request got wrong.",
                "parts": {
                    name: {"url": _url(where), "who": who, "description": text}
                    for name, where, who, text in PARTS
                },
            }
        )


def _url(where: str) -> str:
    # A part without a list of its own (a study is reached by its slug) gives its path.
    return where if where.startswith("/") else reverse(where)
