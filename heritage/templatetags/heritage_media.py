"""URLs of stored files for templates: views that check who asks, never storage paths."""

from django import template

from heritage import media

register = template.Library()


@register.filter
def motif_file(motif, kind: str) -> str:
    """{{ motif|motif_file:"preview" }}: preview, thumbnail or image (the RGB working image)."""
    return media.motif_file_url(motif, kind)


@register.filter
def restoration_file(restoration, kind: str) -> str:
    """{{ restoration|restoration_file:"preview" }}: image, preview, input or outline."""
    return media.restoration_file_url(restoration, kind)
