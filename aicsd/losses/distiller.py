"""Cross entropy plus a method's distillation terms: ``build_distiller("aicsd")`` -> :class:`Distiller`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses.alw import alw_alpha, alw_multiplier
from aicsd.losses.method import MethodConfig, resolve
from aicsd.losses.precision import at_least_float32
from aicsd.losses.registry import TERMS, TermSettings
from aicsd.taps import LOGITS

__all__ = ["DistillationTerm", "Distiller", "build_distiller"]

Features = Mapping[str, Tensor]


class DistillationTerm(nn.Module):
    """One weighted loss on named taps: the sum over ``taps`` of ``loss(student[tap], teacher[tap])``."""

    def __init__(self, loss: nn.Module, taps: tuple[str, ...], weight: float, *, fades_in: bool) -> None:
        super().__init__()
        self.loss = loss
        self.taps = taps
        self.weight = weight
        self.fades_in = fades_in

    def forward(self, student: Features, teacher: Features) -> Tensor:
        return sum(self.loss(student[tap], teacher[tap]) for tap in self.taps)

    def extra_repr(self) -> str:
        return f"taps={self.taps}, weight={self.weight:g}, fades_in={self.fades_in}"


class Distiller(nn.Module):
    """Cross entropy plus the distillation terms of a :class:`MethodConfig`, weighted and scheduled.

    ``forward(student_features, teacher_features, target, alpha=)`` takes the dicts of
    ``model.forward_features`` (tensors (B, C_tap, h, w); ``"logits"`` is (B, C, H, W)), the target
    (B, H, W) int64 with ``ignore_index`` pixels and ALW's ``alpha`` (:meth:`alpha`; ``None`` when
    ALW is off), and returns the weighted scalar terms (``"ce"`` and one per distillation term) and
    their sum ``"loss"``. Its parameters (the ICKD adapter) must be given to the optimizer.
    """

    def __init__(
        self,
        config: MethodConfig,
        terms: Mapping[str, DistillationTerm],
        *,
        detach_teacher: bool = True,
        ignore_index: int = 255,
    ) -> None:
        super().__init__()
        self.config = config
        self.terms = nn.ModuleDict(dict(terms))
        self.detach_teacher = detach_teacher
        self.ignore_index = ignore_index

    @property
    def method(self) -> str:
        return self.config.method

    @property
    def needs_teacher(self) -> bool:
        return len(self.terms) > 0

    @property
    def required_taps(self) -> frozenset[str]:
        taps = {LOGITS}
        for term in self.terms.values():
            taps.update(term.taps)
        return frozenset(taps)

    def alpha(self, *, epoch: int, total_epochs: int, step: int, total_steps: int) -> float | None:
        """ALW's alpha at optimiser ``step`` of the run (in ``epoch``); ``None`` when ALW is off."""
        return alw_alpha(self.config.alw, epoch=epoch, total_epochs=total_epochs, step=step, total_steps=total_steps)

    def forward(
        self,
        student_features: Features,
        teacher_features: Features | None,
        target: Tensor,
        *,
        alpha: float | None = None,
    ) -> dict[str, Tensor]:
        logits = student_features[LOGITS]
        if target.shape != logits.shape[:1] + logits.shape[2:]:
            raise ValueError(
                f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)} "
                "(expected (B, H, W) for (B, C, H, W) logits)"
            )
        cross_entropy = F.cross_entropy(at_least_float32(logits), target, ignore_index=self.ignore_index)
        out = {"ce": self.config.ce_weight * alw_multiplier(alpha, fades_in=True) * cross_entropy}
        if self.terms:
            if teacher_features is None:
                raise ValueError(f"method {self.method!r} needs teacher features, got None")
            teacher = self._teacher_view(teacher_features)
            for name, term in self.terms.items():
                multiplier = alw_multiplier(alpha, fades_in=term.fades_in)
                out[name] = term.weight * multiplier * term(student_features, teacher)
        out["loss"] = torch.stack(list(out.values())).sum()
        return out

    def _teacher_view(self, teacher_features: Features) -> dict[str, Tensor]:
        taps = self.required_taps
        missing = taps - set(teacher_features)
        if missing:
            raise ValueError(f"teacher features lack the taps {sorted(missing)} that {self.method!r} reads")
        return {
            tap: teacher_features[tap].detach() if self.detach_teacher else teacher_features[tap]
            for tap in taps
        }


def build_distiller(
    method: str | MethodConfig,
    *,
    student_channels: Mapping[str, int] | None = None,
    teacher_channels: Mapping[str, int] | None = None,
    detach_teacher: bool = True,
    ignore_index: int = 255,
    **overrides: Any,
) -> Distiller:
    """The :class:`Distiller` of ``method``: a resolved :class:`MethodConfig`, or a method name
    resolved here with ``overrides`` (see :func:`aicsd.losses.resolve`).

    ``student_channels``/``teacher_channels`` are the models' ``feature_channels`` (ICKD's adapter
    needs them); ``detach_teacher`` stops gradients into the teacher's taps.
    """
    if isinstance(method, MethodConfig):
        if overrides:
            raise ValueError("pass overrides to aicsd.losses.resolve, not with a resolved MethodConfig")
        config = method
    else:
        config = resolve(method, **overrides)
    terms = {}
    for term in config.terms:
        definition = TERMS[term.name]
        settings = TermSettings(term.temperature, term.variant, student_channels, teacher_channels)
        terms[term.name] = DistillationTerm(definition.build(settings), term.taps, term.weight, fades_in=definition.fades_in)
    return Distiller(config, terms, detach_teacher=detach_teacher, ignore_index=ignore_index)
