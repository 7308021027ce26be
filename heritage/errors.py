"""The site's 400 answer: what was wrong with the request, in words, as HTML or JSON."""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

# Bytes the headers of one part of a multipart form may take (Django: 1024). A file name of a
# thousand characters is long but honest; past this the request gets the message below.
MULTIPART_HEADER_LIMIT = 8192


def allow_long_part_headers() -> None:
    """Raise Django's per-part header limit so that long file names reach the views (which
    keep a truncated, safe name) instead of ending the request with a bare 400."""
    from django.http import multipartparser

    multipartparser.MAX_TOTAL_HEADER_SIZE = max(
        multipartparser.MAX_TOTAL_HEADER_SIZE, MULTIPART_HEADER_LIMIT
    )


def wants_html(request: HttpRequest) -> bool:
    """True for a browser's form post or page (Accept names text/html, not fetch/XHR).

    Such a client gets a redirect and a flash message, or a page; scripts (curl, fetch, XHR)
    get the status code and a JSON message instead.
    """
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return False
    return "text/html" in request.headers.get("Accept", "")


def _message(exception: Exception | None) -> str:
    if isinstance(exception, MultiPartParserError):
        if "header size" in str(exception):
            return (
                "The upload could not be read: a file name (or another field's header) is longer "
                f"than {MULTIPART_HEADER_LIMIT:,} bytes. Rename the file and try again."
            )
        return f"The form data could not be read ({exception}). Send it again."
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent | RequestDataTooBig):
        return f"The request was refused: {exception}"
    return "The request could not be understood; check what was sent and try again."


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: the reason the request was refused, for a person or a script."""
    message = _message(exception)
    if not wants_html(request):
        return JsonResponse({"error": message}, status=400)
    return render(request, "400.html", {"message": message}, status=400)
