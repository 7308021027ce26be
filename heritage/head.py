"""HEAD wherever GET works (RFC 9110: the same answer without its body), for every view.

Views say which methods they take with Django's `require_GET`, `require_POST`... and
`require_GET` refuses HEAD (405), so link checkers, uptime monitors and `curl -I` were told
that pages which exist do not. Rather than each view naming HEAD, the request is shown to
the views (and to the page cache) as a GET, and its answer leaves without the body.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class HeadAsGetMiddleware:
    """Serve HEAD as GET and drop the body, keeping the headers (Content-Length included)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "HEAD":
            return self.get_response(request)
        request.method = "GET"
        try:
            response = self.get_response(request)
        finally:
            request.method = "HEAD"
        if response.streaming:
            # A file answer keeps the Content-Length of its file; the file itself is closed
            # with the response, as FileResponse registered it.
            response.streaming_content = []
        else:
            response.headers.setdefault("Content-Length", str(len(response.content)))
            response.content = b""
        return response
