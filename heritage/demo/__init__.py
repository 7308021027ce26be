"""Procedurally generated demo artworks (rock art and murals) with true damage masks, and a
generated landscape photograph to stylize."""

from ._common import DAMAGE_KINDS, DemoArtwork
from ._landscape import landscape_photo
from ._mural import mural_panel
from ._rock import rock_art

__all__ = ["DAMAGE_KINDS", "DemoArtwork", "landscape_photo", "mural_panel", "rock_art"]
