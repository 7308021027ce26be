from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Exhibitions, reviews and studies"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from heritage.models import Motif, Site

        # Visitor pages show motif and site metadata: an edit in the catalogue drops them.
        for model in (Motif, Site):
            post_save.connect(_public_changed, sender=model, dispatch_uid=f"gallery-{model}")
            post_delete.connect(_public_changed, sender=model, dispatch_uid=f"gallery-d-{model}")


def _public_changed(**kwargs) -> None:
    from gallery import cache

    cache.public_changed()
