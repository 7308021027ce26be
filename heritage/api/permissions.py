"""Permissions of the gallery API by role."""

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsCurator(BasePermission):
    """Curators only: results name the engines, which experts and visitors must not see."""

    message = "Only curators can read these results."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_curator)
