"""CUT (Park et al. 2020): photographs rendered in a style, learned with a contrastive loss.

Training (restoration.style.training) learns one ResNet generator with anti-aliased down- and
up-sampling, a PatchGAN discriminator and the PatchNCE loss (or FastCUT's variant); the engine
runs that generator (netG). Checkpoints: a training folder, or the original project's
`latest_net_G.pth` (taesungp/contrastive-unpaired-translation) as published.
"""

from __future__ import annotations

from restoration.engines.translation import TranslationEngine


class CUTEngine(TranslationEngine):
    """CUT (contrastive unpaired translation): a photograph re-rendered in a learned style."""

    name = "cut"
