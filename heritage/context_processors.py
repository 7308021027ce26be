"""Template context shared by every page."""

from django.http import HttpRequest


def roles(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "is_curator": bool(user.is_authenticated and user.is_curator),
        "is_expert": bool(user.is_authenticated and user.is_expert),
        "is_team_manager": bool(user.is_authenticated and user.is_team_manager),
    }
