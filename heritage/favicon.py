"""/favicon.ico, which browsers ask for on every page whatever the page links to."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Send the browser to the icon among the static files (hashed name in a deployment)."""
    response = redirect(static("favicon.ico"))
    patch_cache_control(response, max_age=86400, public=True)
    return response
