"""Procedurally generated demo artworks (rock art and murals) with true damage masks."""

from ._common import DAMAGE_KINDS, DemoArtwork
from ._mural import mural_panel
from ._rock import rock_art

__all__ = ["DAMAGE_KINDS", "DemoArtwork", "mural_panel", "rock_art"]
