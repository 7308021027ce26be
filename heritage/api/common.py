"""Pieces every API app shares: pagination, stored files answered through heritage.media."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from heritage import media


class Pages(PageNumberPagination):
    """`?page=N` (from 1) and `?page_size=M` (at most 100); the answer has count, next and
    previous links and results."""

    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


class FileApi(APIView):
    """A view that answers a stored file (an image, a mask) once its permissions pass.

    The bytes go out through heritage.media.serve_file, as from the pages' media views: safe
    content type, no storage path, `Cache-Control: private`. Errors are JSON whatever the
    client accepts (curl's `*/*`, a browser's `image/*`), never a 406.
    """

    def perform_content_negotiation(self, request: Request, force: bool = False):
        return super().perform_content_negotiation(request, force=True)

    @staticmethod
    def serve(request: Request, file, *, filename: str, attachment: bool = False) -> HttpResponse:
        return media.serve_file(request, file, filename=filename, attachment=attachment)


FILE_RESPONSES = {
    (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file's bytes."),
    404: OpenApiResponse(description="No such object or file."),
}
