"""Permissions of every API app, by role (the one place the API decides who may do what).

Curators (and superusers) change the catalogue, run jobs and read what names engines; team
managers (curators with `manages_team`, superusers) manage accounts and invitations; experts
read the catalogue and score blind; signed-in people without a role and anonymous visitors
reach only the public endpoints (exhibitions, studies), which say AllowAny.
"""

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from heritage.selectors import user_can_browse_catalogue


def _signed_in(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated)


class IsCurator(BasePermission):
    """Curators only: jobs, engines and results name the engines, which experts and visitors
    must not see."""

    message = "Only curators can do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _signed_in(request) and request.user.is_curator


class IsTeamManager(BasePermission):
    """Team managers only (curators with `manages_team`, superusers): accounts and invitations."""

    message = "Only curators who manage the team can do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _signed_in(request) and request.user.is_team_manager


class CatalogueReadCuratorWrite(BasePermission):
    """Curators and experts read the catalogue; only curators change it."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not _signed_in(request):
            return False
        if request.method in SAFE_METHODS:
            self.message = "The catalogue is open to curators and experts."
            return user_can_browse_catalogue(user=request.user)
        self.message = "Only curators can change the catalogue."
        return request.user.is_curator


class CsrfProtected(BasePermission):
    """CSRF for every caller: DRF checks it only for signed-in sessions, but a study vote acts
    on the visitor's cookie identity, which another site could otherwise use."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        SessionAuthentication().enforce_csrf(request)  # raises PermissionDenied (403)
        return True
