"""CycleGAN (Zhu et al. 2017): photographs rendered in a style by a generator trained with cycles.

Training (restoration.style.training) learns two ResNet generators, photo -> style and back,
with PatchGAN discriminators, an LSGAN loss, cycle (lambda 10) and identity (0.5) losses; the
engine runs the photo -> style one (netG_A). Checkpoints: a training folder, or the original
project's `latest_net_G_A.pth` (junyanz/pytorch-CycleGAN-and-pix2pix) as published.
"""

from __future__ import annotations

from restoration.engines.translation import TranslationEngine


class CycleGANEngine(TranslationEngine):
    """CycleGAN: a photograph re-rendered in the style of the paintings it was trained on."""

    name = "cyclegan"
