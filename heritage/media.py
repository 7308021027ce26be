"""Serving stored files: only through views that check who asks, never from a derivable path.

Nothing under MEDIA_ROOT (or the bucket) is published as a folder. Every image a page shows has
the URL of a view that knows which object the file belongs to and who may see it:

- motif images (preview, thumbnail, the RGB working image) and the original: the catalogue's
  users (curators and experts);
- restoration results: curators (experts see results only through their review campaigns, under
  blind tokens, see gallery/views/review.py);
- the works of a published exhibition: everyone (drafts: curators), see gallery/views/media.py;
  a stylized image is such a work like a restoration (before: the photograph; no outline);
- study candidates, a real painting (a motif of kind artwork) among them: participants of an
  open study, under the candidate's opaque token only (gallery/views/studies.py); the
  painting's own motif routes stay the catalogue's.

`serve_file` answers with the bytes (FileResponse), or hands the sending to a proxy
(HERITAGE_MEDIA_ACCEL = "nginx": X-Accel-Redirect to an internal location; "apache": X-Sendfile),
or, when files live in object storage, redirects to a signed URL that expires.
"""

from pathlib import PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from heritage import imaging
from heritage.models import Motif

# Only these types are ever sent; anything else goes out as a download of octet-stream.
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
}
# Types a browser may show inline (TIFF, the catalogue's archival format, is downloaded).
INLINE_TYPES = {"image/jpeg", "image/png", "image/webp"}
ACCEL_MODES = ("", "nginx", "apache")

MOTIF_KINDS = {"preview": "preview", "thumbnail": "thumbnail", "image": "rgb_file"}
RESTORATION_KINDS = {
    "image": "image",
    "preview": "preview",
    "input": "input_preview",
    "outline": "outline",
}


def extension_of(file) -> str:
    """The stored file's extension, lower case, without the dot ('' when it has none)."""
    return PurePosixPath(file.name or "").suffix.lstrip(".").lower()


def content_type_of(file) -> str:
    return CONTENT_TYPES.get(extension_of(file), "application/octet-stream")


def _local_path(file) -> str | None:
    """The file's path on this machine, or None when its storage has none (object storage)."""
    try:
        return file.storage.path(file.name)
    except NotImplementedError:
        return None


def _signed_url(file, *, content_type: str, disposition: str, cache_control: str) -> str | None:
    """A signed URL that expires, from storages that make them (django-storages' S3Storage)."""
    parameters = {
        "ResponseContentType": content_type,
        "ResponseContentDisposition": disposition,
        "ResponseCacheControl": cache_control,
    }
    try:
        return file.storage.url(
            file.name, parameters=parameters, expire=settings.HERITAGE_MEDIA_URL_EXPIRE
        )
    except TypeError:
        # A storage whose url() signs nothing: its URL would be public, so stream instead.
        return None


def serve_file(
    request: HttpRequest,
    file,
    *,
    filename: str,
    public: bool = False,
    attachment: bool = False,
    strip_metadata: bool = False,
) -> HttpResponse:
    """Answer with a stored file the caller has already decided `request.user` may see.

    `public` is for derivatives of published works only (cacheable by shared caches); every
    other file is `Cache-Control: private`. The name the browser sees is `filename`, never the
    stored path (it would name jobs, and so, to a curious expert, engines). `strip_metadata`
    sends an original's pixels without its EXIF, XMP and comments (streamed by this process).
    """
    if not file or not file.name:
        raise Http404("No such file.")
    content_type = content_type_of(file)
    attachment = attachment or content_type not in INLINE_TYPES
    disposition = content_disposition_header(attachment, filename)
    if public:
        cache_control = f"public, max-age={settings.HERITAGE_MEDIA_PUBLIC_MAX_AGE}"
    else:
        cache_control = "private, max-age=3600"

    local = _local_path(file)
    if strip_metadata:
        try:
            handle = file.storage.open(file.name, "rb")
        except FileNotFoundError as exc:
            raise Http404("No such file.") from exc
        try:
            chunks = imaging.without_metadata(handle)
        except imaging.ImageRejected as exc:
            handle.close()
            raise Http404("This file cannot be sent without its metadata.") from exc
        response = StreamingHttpResponse(_closing(chunks, handle), content_type=content_type)
    elif local is None:
        url = _signed_url(
            file, content_type=content_type, disposition=disposition, cache_control=cache_control
        )
        if url is not None:
            response = HttpResponseRedirect(url)
            # The signed URL expires: neither the browser nor a proxy may keep the redirect.
            response["Cache-Control"] = "private, no-store"
            response["X-Content-Type-Options"] = "nosniff"
            return response
        try:
            handle = file.storage.open(file.name, "rb")
        except FileNotFoundError as exc:
            raise Http404("No such file.") from exc
        response = FileResponse(handle, content_type=content_type)
    else:
        if not file.storage.exists(file.name):
            raise Http404("No such file.")
        accel = settings.HERITAGE_MEDIA_ACCEL
        if accel == "nginx":
            response = HttpResponse(content_type=content_type)
            prefix = settings.HERITAGE_MEDIA_ACCEL_PREFIX.rstrip("/")
            response["X-Accel-Redirect"] = f"{prefix}/{quote(file.name)}"
        elif accel == "apache":
            response = HttpResponse(content_type=content_type)
            response["X-Sendfile"] = local
        else:
            response = FileResponse(open(local, "rb"), content_type=content_type)  # noqa: SIM115
    response["Content-Type"] = content_type
    response["Content-Disposition"] = disposition
    response["Cache-Control"] = cache_control
    response["X-Content-Type-Options"] = "nosniff"
    # Opened directly, a file is a document: let it run nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


def _closing(chunks, handle):
    try:
        yield from chunks
    finally:
        handle.close()


# URLs


def motif_file_url(motif: Motif, kind: str) -> str:
    """URL of a motif's preview, thumbnail or RGB image, for the catalogue's users."""
    file = getattr(motif, MOTIF_KINDS[kind])
    return reverse("media:motif", args=[motif.pk, kind, extension_of(file)])


def restoration_file_url(restoration, kind: str) -> str:
    """URL of a restoration's image, preview, input or outline, for curators."""
    file = getattr(restoration, RESTORATION_KINDS[kind])
    return reverse("media:restoration", args=[restoration.pk, kind, extension_of(file)])


# Views


def _catalogue_user(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and (user.is_curator or user.is_expert)


def _checked(file, ext: str):
    """The file if the URL's extension is its own (one URL per file); else 404."""
    if not file or extension_of(file) != ext:
        raise Http404("No such file.")
    return file


@require_GET
def motif_file(request: HttpRequest, pk: int, kind: str, ext: str) -> HttpResponse:
    """A motif's preview, thumbnail or RGB image; 404 to anyone outside the catalogue."""
    if kind not in MOTIF_KINDS or not _catalogue_user(request):
        raise Http404("No such file.")
    motif = get_object_or_404(Motif, pk=pk)
    file = _checked(getattr(motif, MOTIF_KINDS[kind]), ext)
    return serve_file(request, file, filename=f"motif-{motif.pk}-{kind}.{ext}")


@require_GET
def restoration_file(request: HttpRequest, pk: int, kind: str, ext: str) -> HttpResponse:
    """A restoration's files, for curators only (experts score them blind, through reviews)."""
    from restoration.models import Restoration

    if kind not in RESTORATION_KINDS or not (
        request.user.is_authenticated and request.user.is_curator
    ):
        raise Http404("No such file.")
    restoration = get_object_or_404(Restoration, pk=pk)
    file = _checked(getattr(restoration, RESTORATION_KINDS[kind]), ext)
    return serve_file(request, file, filename=f"restoration-{restoration.pk}-{kind}.{ext}")
