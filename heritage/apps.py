from django.apps import AppConfig


class HeritageConfig(AppConfig):
    name = "heritage"
    verbose_name = "Heritage catalogue"

    def ready(self) -> None:
        from PIL import Image

        # Pillow's process-wide limit would refuse legitimate large mural scans with a
        # misleading "bomb" error and is not thread-safe to change per call. Every image the
        # app decodes is size-checked first instead: uploads against HERITAGE_MAX_IMAGE_PIXELS
        # (heritage.imaging.inspect), masks against their motif's size (heritage.masks).
        Image.MAX_IMAGE_PIXELS = None
