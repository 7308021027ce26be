"""Losses of CycleGAN and CUT: least-squares GAN loss and the PatchNCE contrastive loss."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def lsgan(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    """Mean squared distance of discriminator logits to 1 (real) or 0 (fake): LSGAN."""
    return F.mse_loss(prediction, torch.full_like(prediction, 1.0 if real else 0.0))


def patch_nce(
    feat_q: torch.Tensor, feat_k: torch.Tensor, *, batch: int, temperature: float = 0.07
) -> torch.Tensor:
    """Per-patch InfoNCE loss (CUT's PatchNCELoss), shape (N * P,).

    feat_q, feat_k: (N * P, C) unit vectors of the same P positions in each of N images; the
    query's positive is the key at its position, its negatives the other positions of the same
    image (negatives are not shared across the batch). Keys get no gradient.
    """
    if feat_q.shape != feat_k.shape or feat_q.shape[0] % batch:
        raise ValueError(f"feature shapes {tuple(feat_q.shape)}, {tuple(feat_k.shape)} mismatch")
    feat_k = feat_k.detach()
    positive = (feat_q * feat_k).sum(dim=1, keepdim=True)
    q = feat_q.view(batch, -1, feat_q.shape[1])
    k = feat_k.view(batch, -1, feat_k.shape[1])
    patches = q.shape[1]
    negative = torch.bmm(q, k.transpose(2, 1))
    # The diagonal holds the positives; mask them out of the negatives, as CUT does.
    diagonal = torch.eye(patches, device=q.device, dtype=torch.bool)[None]
    negative = negative.masked_fill(diagonal, -10.0).view(-1, patches)
    logits = torch.cat([positive, negative], dim=1) / temperature
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target, reduction="none")
