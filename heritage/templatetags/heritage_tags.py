"""Template filters for the catalogue pages."""

from django import template

register = template.Library()


@register.filter
def percent(value: float) -> str:
    """0.0042 -> '0.4%', 0.35 -> '35%'; small shares keep one decimal so they don't read as 0."""
    share = float(value) * 100
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"
