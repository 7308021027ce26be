"""The images of exhibition works: public once the exhibition is published, drafts to curators."""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from gallery.models import ExhibitionEntry
from gallery.results import RESULT_RELATED, work_file_of
from heritage.media import extension_of, serve_file


@require_GET
def work_file(request: HttpRequest, pk: int, kind: str, ext: str) -> HttpResponse:
    """One image a work page shows; any other file of the motif or result is not here."""
    entry = (
        ExhibitionEntry.objects.select_related("exhibition", "motif", *RESULT_RELATED)
        .filter(pk=pk)
        .first()
    )
    if entry is None:
        raise Http404("No such image.")
    published = entry.exhibition.is_published
    if not published and not (request.user.is_authenticated and request.user.is_curator):
        raise Http404("No such image.")
    file = work_file_of(entry, kind)
    if not file or extension_of(file) != ext:
        raise Http404("No such image.")
    filename = f"{entry.exhibition.slug}-{entry.position}-{kind}.{ext}"
    return serve_file(request, file, filename=filename, public=published)
