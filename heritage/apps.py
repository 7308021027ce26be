from django.apps import AppConfig


class HeritageConfig(AppConfig):
    name = "heritage"
    verbose_name = "Heritage catalogue"

    def ready(self) -> None:
        from PIL import Image

        from heritage import ids

        # `<id:pk>` in every URL: ids a database cannot hold do not match (404, not a 500).
        ids.register()

        from heritage import errors

        # Long (but honest) file names are read and truncated rather than refused bare.
        errors.allow_long_part_headers()

        # Pillow's process-wide limit would refuse legitimate large mural scans with a
        # misleading "bomb" error and is not thread-safe to change per call. Every image the
        # app decodes is size-checked first instead: uploads against HERITAGE_MAX_IMAGE_PIXELS
        # (heritage.imaging.inspect), masks against their motif's size (heritage.masks).
        Image.MAX_IMAGE_PIXELS = None
