"""REST API of the Team page: accounts with their roles, invitations, deactivation.

For team managers only (curators with `manages_team`, superusers). Every change is made by the
page's services (heritage.team), so the same rules hold and the same words refuse: nobody
changes their own account, superusers are left to /admin/, the team keeps an active manager.
An invitation's link is in the answer that makes (or renews) it, once: only its hash is stored.
"""

import smtplib
from collections.abc import Callable

from django.urls import path, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from heritage import team
from heritage.api.common import Pages
from heritage.api.errors import api_call
from heritage.api.permissions import IsTeamManager
from heritage.jsonbody import BoundedJSONParser
from heritage.models import Invitation, User

POSITION_HELP = "expert, curator, or manager (a curator who manages the team)."


class MemberSerializer(serializers.ModelSerializer):
    position = serializers.SerializerMethodField(help_text=f'{POSITION_HELP} "": no role.')
    is_team_manager = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "role",
            "manages_team",
            "position",
            "is_team_manager",
            "is_superuser",
            "is_active",
            "date_joined",
            "last_login",
        ]

    def get_position(self, user: User) -> str:
        return team.position_of(user)


class InvitationSerializer(serializers.ModelSerializer):
    position = serializers.SerializerMethodField(help_text=POSITION_HELP)
    state = serializers.SerializerMethodField(help_text="valid, expired, used or revoked.")
    invited_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "username",
            "email",
            "role",
            "manages_team",
            "position",
            "state",
            "invited_by",
            "created_at",
            "expires_at",
        ]

    def get_position(self, invitation: Invitation) -> str:
        return team.position_of(invitation)

    def get_state(self, invitation: Invitation) -> str:
        return team.invitation_state(invitation)


class InvitationLinkSerializer(InvitationSerializer):
    link = serializers.CharField(help_text="The link to give the invitee; shown this once.")
    mailed = serializers.BooleanField(help_text="The link was also mailed to `email`.")
    mail_error = serializers.CharField(
        allow_null=True, help_text="Why mailing it failed (the link still works)."
    )

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "link", "mailed", "mail_error"]


class InviteSerializer(serializers.Serializer):
    username = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="The account's user name."
    )
    email = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="Optional address to mail."
    )
    position = serializers.CharField(
        required=False, default=team.EXPERT, help_text=f"{POSITION_HELP} Default: expert."
    )


PositionSerializer = inline_serializer(
    "TeamPosition", {"position": serializers.CharField(help_text=POSITION_HELP)}
)


def _link_response(request: Request, invitation: Invitation, key: str, code: int) -> Response:
    """The invitation with its link (mailed too where the site can mail), never cached."""
    link = request.build_absolute_uri(reverse("team:invitation_accept", args=[key]))
    mailed, mail_error = False, None
    try:
        mailed = team.invitation_mail(invitation=invitation, url=link)
    except (smtplib.SMTPException, OSError) as exc:
        mail_error = str(exc) or type(exc).__name__
    response = Response(
        {
            **InvitationSerializer(invitation).data,
            "link": link,
            "mailed": mailed,
            "mail_error": mail_error,
        },
        status=code,
    )
    # The link's key is stored nowhere: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


def _member(pk: int) -> User:
    member = team.team_members().filter(pk=pk).first()
    if member is None:
        raise exceptions.NotFound("No such account.")
    return member


def _invitation(pk: int) -> Invitation:
    invitation = Invitation.objects.select_related("invited_by").filter(pk=pk).first()
    if invitation is None:
        raise exceptions.NotFound("No such invitation.")
    return invitation


class MemberListApi(generics.ListAPIView):
    """Every account, active ones first, then by user name, with its role and state."""

    permission_classes = [IsTeamManager]
    serializer_class = MemberSerializer
    pagination_class = Pages

    def get_queryset(self):
        return team.team_members()


MEMBER_ANSWERS = {200: MemberSerializer, 400: OpenApiResponse(description="Why not.")}


class _MemberChangeApi(APIView):
    """POST: one change to one account (`pk`) by a team service, answered with the account.

    Subclasses name the service (`change`) and, where it takes more, read it from the request
    (`arguments`)."""

    permission_classes = [IsTeamManager]
    change: Callable[..., User]

    def arguments(self, request: Request) -> dict:
        return {}

    @extend_schema(request=None, responses=MEMBER_ANSWERS)
    def post(self, request: Request, pk: int) -> Response:
        member = _member(pk)
        changed = api_call(self.change, user=member, by=request.user, **self.arguments(request))
        return Response(MemberSerializer(changed).data)


class MemberPositionApi(_MemberChangeApi):
    """Make an account an expert, a curator or a curator who manages the team."""

    parser_classes = [BoundedJSONParser]
    change = staticmethod(team.member_set_position)

    def arguments(self, request: Request) -> dict:
        position = request.data.get("position", "") if isinstance(request.data, dict) else ""
        return {"position": str(position)}

    @extend_schema(request=PositionSerializer, responses=MEMBER_ANSWERS)
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class MemberDeactivateApi(_MemberChangeApi):
    """Deactivate an account: no more sign-in, sessions end, API tokens revoked."""

    change = staticmethod(team.member_deactivate)


class MemberReactivateApi(_MemberChangeApi):
    """Let a deactivated account sign in again (its old tokens stay revoked)."""

    change = staticmethod(team.member_reactivate)


class InvitationListApi(generics.ListAPIView):
    """Pending invitations (neither used nor revoked; expired ones say so), newest first; POST
    invites someone and answers the link, once."""

    permission_classes = [IsTeamManager]
    serializer_class = InvitationSerializer
    pagination_class = Pages
    parser_classes = [BoundedJSONParser]

    def get_queryset(self):
        return team.pending_invitations().select_related("invited_by")

    @extend_schema(
        request=InviteSerializer,
        responses={
            201: InvitationLinkSerializer,
            400: OpenApiResponse(description="The Team page's messages, by field."),
        },
    )
    def post(self, request: Request) -> Response:
        form = InviteSerializer(data=request.data if isinstance(request.data, dict) else {})
        form.is_valid(raise_exception=True)
        invitation, key = api_call(team.invitation_create, by=request.user, **form.validated_data)
        return _link_response(request, invitation, key, status.HTTP_201_CREATED)


class InvitationRevokeApi(APIView):
    """Revoke a pending invitation: its link stops working at once."""

    permission_classes = [IsTeamManager]

    @extend_schema(
        request=None,
        responses={200: InvitationSerializer, 400: OpenApiResponse(description="Why not.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        revoked = api_call(team.invitation_revoke, invitation=_invitation(pk), by=request.user)
        return Response(InvitationSerializer(revoked).data)


class InvitationRenewApi(APIView):
    """A new link for a pending invitation (the old one stops working), valid for the full
    period again; answered once."""

    permission_classes = [IsTeamManager]

    @extend_schema(
        request=None,
        responses={200: InvitationLinkSerializer, 400: OpenApiResponse(description="Why not.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        invitation = _invitation(pk)
        key = api_call(team.invitation_renew, invitation=invitation, by=request.user)
        invitation.refresh_from_db()
        return _link_response(request, invitation, key, status.HTTP_200_OK)


urlpatterns = [
    path("team/members/", MemberListApi.as_view(), name="team_members"),
    path("team/members/<id:pk>/role/", MemberPositionApi.as_view(), name="team_member_role"),
    path(
        "team/members/<id:pk>/deactivate/",
        MemberDeactivateApi.as_view(),
        name="team_member_deactivate",
    ),
    path(
        "team/members/<id:pk>/reactivate/",
        MemberReactivateApi.as_view(),
        name="team_member_reactivate",
    ),
    path("team/invitations/", InvitationListApi.as_view(), name="team_invitations"),
    path(
        "team/invitations/<id:pk>/revoke/",
        InvitationRevokeApi.as_view(),
        name="team_invitation_revoke",
    ),
    path(
        "team/invitations/<id:pk>/renew/",
        InvitationRenewApi.as_view(),
        name="team_invitation_renew",
    ),
]
