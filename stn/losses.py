"""Training losses: corners in normalised coordinates (one loss for every transform kind), classes, orientation.

Convention:
    Corners are (B, 4, 2) TL, TR, BR, BL in normalised input coordinates (shared/DESIGN.md §2). A record without
    corners carries NaN corners and ``has_corners = False``; one without a label carries label -1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["class_loss", "corner_loss", "cyclic_shifts"]


def cyclic_shifts(corners: torch.Tensor) -> torch.Tensor:
    """All four cyclic orders of each quad: ``out[:, s, i] = corners[:, (i + s) % 4]``.

    Args:
        corners: (B, 4, 2).

    Returns:
        (B, 4, 4, 2): shift s lists the quad starting from its s-th corner (the page turned by s quarter turns).

    Example:
        >>> cyclic_shifts(torch.arange(4.0).view(1, 4, 1).expand(1, 4, 2))[0, 1, :, 0]
        tensor([1., 2., 3., 0.])
    """
    idx = (torch.arange(4, device=corners.device)[None, :] + torch.arange(4, device=corners.device)[:, None]) % 4
    return corners[:, idx]  # (B, 4 shifts, 4 corners, 2)


def corner_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, any_order: bool = False, beta: float = 0.01
) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth-L1 distance between predicted and annotated corners, averaged over the records that have corners.

    Args:
        pred: (B, 4, 2) predicted corners.
        target: (B, 4, 2) annotated corners in reading order (NaN where unknown).
        mask: (B,) bool, True where ``target`` is known.
        any_order: compare with the best of the four cyclic orders of ``target`` (the net then regresses a
            geometric order and an orientation head says which corner is TL).
        beta: smooth-L1 threshold in normalised units.

    Returns:
        (loss (), shift (B,) long): the cyclic shift s used per record, with ``pred[:, i] ≈ target[:, (i+s) % 4]``
        (0 when ``any_order`` is off or the record has no corners).

    Example:
        >>> t = torch.tensor([[[-1.0, -1], [1, -1], [1, 1], [-1, 1]]])
        >>> loss, s = corner_loss(t.roll(-1, dims=1), t, torch.tensor([True]), any_order=True)
        >>> float(loss), int(s)
        (0.0, 1)
    """
    target = torch.where(mask[:, None, None], target, pred.detach())  # keeps NaN out of the graph
    if any_order:
        cand = cyclic_shifts(target)  # (B, 4, 4, 2)
        per = F.smooth_l1_loss(pred[:, None].expand_as(cand), cand, beta=beta, reduction="none").mean(dim=(2, 3))
        per, shift = per.min(dim=1)  # (B,)
    else:
        per = F.smooth_l1_loss(pred, target, beta=beta, reduction="none").mean(dim=(1, 2))
        shift = torch.zeros(pred.shape[0], dtype=torch.long, device=pred.device)
    m = mask.to(per.dtype)
    return (per * m).sum() / m.sum().clamp(min=1), torch.where(mask, shift, torch.zeros_like(shift))


def class_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the records whose target is known (``target >= 0``); 0 (with a graph) when none is.

    Args:
        logits: (B, K).
        target: (B,) long, -1 where unknown.
    """
    m = target >= 0
    per = F.cross_entropy(logits.float(), target.clamp(min=0), reduction="none")
    return (per * m).sum() / m.sum().clamp(min=1)
