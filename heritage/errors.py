"""The site's error answers (400, 403, 404, 500 and a refused CSRF token): what happened and
where to go next, in words, as a page of the site or as JSON for scripts."""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseServerError,
    JsonResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template import loader

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


def _json(request: HttpRequest, message: str, status: int) -> JsonResponse:
    """A script's answer: {"error": message}, or under /api/ the API's own format
    ({"detail": message}, heritage.api.errors), so every API answer has one shape."""
    key = "detail" if request.path.startswith("/api/") else "error"
    return JsonResponse({key: message}, status=status)


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
        return _json(request, message, 400)
    return render(request, "400.html", {"message": message}, status=400)


def _answer(request: HttpRequest, status: int, template: str, message: str, **context):
    if not wants_html(request):
        return _json(request, message, status)
    return render(request, template, {"message": message, **context}, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: who may open the page (the view's reason), and how to get there."""
    reason = str(exception or "").strip()
    message = reason or "You do not have permission to open this page."
    return _answer(request, 403, "403.html", message)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent without its page's security token (an old tab, cookies
    blocked); Django's reason is for the log, the person gets what to do."""
    message = (
        "The form could not be accepted: its security token is missing or out of date, which "
        "happens when the page was open for a long time, you signed in or out in another tab, "
        "or cookies are blocked for this site. Reload the page and send the form again."
    )
    return _answer(request, 403, "403.html", message, csrf=True)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: nothing at this address (never the list of the site's URL patterns)."""
    return _answer(
        request, 404, "404.html", f"There is no page at {request.path}.", path=request.path
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: rendered without the request's context, so that the error page cannot fail
    for the reason the page did (a database or template fault in a context processor)."""
    message = "Something went wrong on our side; the error has been logged. Please try again."
    if not wants_html(request):
        return _json(request, message, 500)
    return HttpResponseServerError(loader.get_template("500.html").render({"message": message}))
