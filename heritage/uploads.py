"""Upload handlers that give every uploaded file a safe, bounded name before anything uses it.

Django truncates a long file name to 255 characters only after the temporary file of a large
upload was created with the name's extension as its suffix: a name like "mural." followed by a
thousand characters made that file name too long for the file system (a 500). These handlers
shorten the name first, keeping a real extension.
"""

import posixpath

from django.core.files.uploadhandler import (
    MemoryFileUploadHandler,
    TemporaryFileUploadHandler,
)

MAX_NAME = 255
# Longer "extensions" are part of the name (real ones: .jpg, .tiff, .webp...).
MAX_EXTENSION = 16


def safe_upload_name(name: str) -> str:
    """The last path component of `name`, at most 255 characters, its extension kept."""
    base = posixpath.basename(str(name).replace("\\", "/")).strip()
    stem, extension = posixpath.splitext(base)
    if len(extension) > MAX_EXTENSION:
        # Not an extension: the dot would still make everything after it one (for the
        # temporary file's suffix too).
        stem, extension = f"{stem}_{extension[1:]}", ""
    return (stem[: MAX_NAME - len(extension)] + extension) or "upload"


class _SafeName:
    def new_file(self, field_name, file_name, *args, **kwargs):
        return super().new_file(field_name, safe_upload_name(file_name), *args, **kwargs)


class SafeNameMemoryFileUploadHandler(_SafeName, MemoryFileUploadHandler):
    """Small uploads, kept in memory, with a bounded name."""


class SafeNameTemporaryFileUploadHandler(_SafeName, TemporaryFileUploadHandler):
    """Large uploads, streamed to a temporary file, with a bounded name."""
