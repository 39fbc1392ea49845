"""Distillation methods by name: ``build_distiller("aicsd")`` -> a :class:`Distiller`.

A method is a set of loss terms on named feature taps of the two networks plus a schedule. Each
term is one loss module from this package; ``TERMS`` maps a term name to its builder and refuses
duplicate names, ``METHOD_SPECS`` lists the terms of each method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aicsd.losses import weights
from aicsd.losses.ad import AttentionLoss
from aicsd.losses.alw import alw_weights, constant_weights
from aicsd.losses.icsd import ICSDLoss
from aicsd.losses.ickd import ICKDLoss
from aicsd.losses.kd import PixelKDLoss
from aicsd.losses.sp import SimilarityPreservingLoss

Features = Mapping[str, Tensor]


class DistillationTerm(nn.Module):
    """One weighted loss on named taps: the sum over ``taps`` of ``loss(student[tap], teacher[tap])``."""

    def __init__(self, loss: nn.Module, taps: tuple[str, ...], weight: float) -> None:
        super().__init__()
        self.loss = loss
        self.taps = taps
        self.weight = weight

    def forward(self, student: Features, teacher: Features) -> Tensor:
        return sum(self.loss(student[tap], teacher[tap]) for tap in self.taps)

    def extra_repr(self) -> str:
        return f"taps={self.taps}, weight={self.weight:g}"


@dataclass(frozen=True)
class TermSettings:
    """What a term builder may read: temperature, ICSD variant and the networks' tap channels."""

    temperature: float
    icsd_variant: str
    student_channels: Mapping[str, int] | None
    teacher_channels: Mapping[str, int] | None


TermBuilder = Callable[[TermSettings, float | None], DistillationTerm]


class Registry:
    """Name -> builder; refuses a second registration of a name, lists valid names on a miss."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._items: dict[str, TermBuilder] = {}

    def register(self, name: str) -> Callable[[TermBuilder], TermBuilder]:
        def add(builder: TermBuilder) -> TermBuilder:
            if name in self._items:
                raise ValueError(f"{self._kind} {name!r} is already registered")
            self._items[name] = builder
            return builder

        return add

    def __getitem__(self, name: str) -> TermBuilder:
        if name not in self._items:
            raise ValueError(f"unknown {self._kind} {name!r}; valid: {', '.join(self._items)}")
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)


TERMS = Registry("distillation term")


def _weight(given: float | None, default: float) -> float:
    return default if given is None else float(given)


@TERMS.register("kd")
def _kd(settings: TermSettings, weight: float | None) -> DistillationTerm:
    return DistillationTerm(
        PixelKDLoss(settings.temperature), ("logits",), _weight(weight, weights.KD_WEIGHT)
    )


@TERMS.register("icsd")
def _icsd(settings: TermSettings, weight: float | None) -> DistillationTerm:
    default = weights.default_icsd_weight(settings.icsd_variant)
    loss = ICSDLoss(settings.temperature, settings.icsd_variant)
    return DistillationTerm(loss, ("logits",), _weight(weight, default))


@TERMS.register("ad")
def _ad(settings: TermSettings, weight: float | None) -> DistillationTerm:
    stages = ("stage1", "stage2", "stage3", "stage4")
    return DistillationTerm(AttentionLoss(), stages, _weight(weight, weights.AD_WEIGHT))


@TERMS.register("sp")
def _sp(settings: TermSettings, weight: float | None) -> DistillationTerm:
    return DistillationTerm(
        SimilarityPreservingLoss(), ("stage4",), _weight(weight, weights.SP_WEIGHT)
    )


@TERMS.register("ickd")
def _ickd(settings: TermSettings, weight: float | None) -> DistillationTerm:
    if settings.student_channels is None or settings.teacher_channels is None:
        raise ValueError(
            "method term 'ickd' needs student_channels and teacher_channels "
            "(pass model.feature_channels of both networks to build_distiller)"
        )
    loss = ICKDLoss(settings.student_channels["decoder"], settings.teacher_channels["decoder"])
    return DistillationTerm(loss, ("decoder",), _weight(weight, weights.ICKD_WEIGHT))


@dataclass(frozen=True)
class MethodSpec:
    """The distillation terms of a method (besides cross entropy) and whether ALW schedules them."""

    terms: tuple[str, ...]
    adaptive: bool
    description: str


METHOD_SPECS: Mapping[str, MethodSpec] = MappingProxyType(
    {
        "none": MethodSpec((), False, "cross entropy only (the student baseline, or the teacher)"),
        "kd": MethodSpec(("kd",), False, "pixel-wise KD (Hinton et al.)"),
        "ad": MethodSpec(("ad",), False, "attention distillation on the backbone stages"),
        "sp": MethodSpec(("sp",), False, "similarity-preserving KD on the last backbone stage"),
        "ickd": MethodSpec(("ickd",), False, "inter-channel correlation KD on the decoder feature"),
        "icsd": MethodSpec(("icsd",), False, "inter-class similarity distillation alone"),
        "icsd+kd": MethodSpec(("icsd", "kd"), False, "ICSD and pixel-wise KD, fixed weights"),
        "aicsd": MethodSpec(("icsd", "kd"), True, "ICSD and pixel-wise KD under ALW (the paper)"),
    }
)
METHODS: tuple[str, ...] = tuple(METHOD_SPECS)
_WEIGHT_NAMES = ("ce_weight", "kd_weight", "icsd_weight", "ad_weight", "sp_weight", "ickd_weight")
_OVERRIDES = ("temperature", "icsd_variant", "adaptive", "detach_teacher", "ignore_index", *_WEIGHT_NAMES)


class Distiller(nn.Module):
    """Cross entropy plus a method's distillation terms, weighted and scheduled.

    ``forward(student_features, teacher_features, target, epoch=, total_epochs=)`` takes the dicts of
    ``model.forward_features`` (tensors (B, C_tap, h, w); ``"logits"`` is (B, C, H, W)) and the
    target (B, H, W) int64 with ``ignore_index`` pixels, and returns the weighted scalar terms
    (``"ce"`` and one per distillation term) and their sum ``"loss"``. Its parameters (the ICKD
    adapter) must be given to the optimizer.
    """

    def __init__(
        self,
        method: str,
        terms: Mapping[str, DistillationTerm],
        *,
        adaptive: bool,
        ce_weight: float = weights.CE_WEIGHT,
        detach_teacher: bool = True,
        ignore_index: int = 255,
    ) -> None:
        super().__init__()
        self.method = method
        self.terms = nn.ModuleDict(dict(terms))
        self.adaptive = adaptive
        self.ce_weight = ce_weight
        self.detach_teacher = detach_teacher
        self.ignore_index = ignore_index

    @property
    def needs_teacher(self) -> bool:
        return len(self.terms) > 0

    @property
    def required_taps(self) -> frozenset[str]:
        taps = {"logits"}
        for term in self.terms.values():
            taps.update(term.taps)
        return frozenset(taps)

    def schedule(self, epoch: int, total_epochs: int) -> dict[str, float]:
        """Multipliers of the terms at ``epoch``: ALW's when adaptive, else all 1."""
        return alw_weights(epoch, total_epochs) if self.adaptive else constant_weights()

    def alpha(self, epoch: int, total_epochs: int) -> float | None:
        """ALW's alpha at ``epoch`` (None for a non-adaptive method)."""
        return epoch / total_epochs if self.adaptive else None

    def forward(
        self,
        student_features: Features,
        teacher_features: Features | None,
        target: Tensor,
        *,
        epoch: int,
        total_epochs: int,
    ) -> dict[str, Tensor]:
        schedule = self.schedule(epoch, total_epochs)
        logits = student_features["logits"]
        if target.shape != logits.shape[:1] + logits.shape[2:]:
            raise ValueError(
                f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)} "
                "(expected (B, H, W) for (B, C, H, W) logits)"
            )
        cross_entropy = F.cross_entropy(logits.float(), target, ignore_index=self.ignore_index)
        out = {"ce": self.ce_weight * schedule["ce"] * cross_entropy}
        if self.terms:
            if teacher_features is None:
                raise ValueError(f"method {self.method!r} needs teacher features, got None")
            teacher = self._teacher_view(teacher_features)
            for name, term in self.terms.items():
                out[name] = term.weight * schedule.get(name, 1.0) * term(student_features, teacher)
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
    method: str,
    *,
    student_channels: Mapping[str, int] | None = None,
    teacher_channels: Mapping[str, int] | None = None,
    **overrides: Any,
) -> Distiller:
    """The :class:`Distiller` of ``method`` (one of :data:`METHODS`) with optional overrides.

    Overrides (None means the default): ``temperature`` (1.0, shared by KD and ICSD as in the
    released code), ``icsd_variant`` ("paper" | "official"), ``adaptive`` (ALW; default True only
    for "aicsd"), ``detach_teacher`` (True), ``ignore_index`` (255) and the weights ``ce_weight``,
    ``kd_weight``, ``icsd_weight``, ``ad_weight``, ``sp_weight``, ``ickd_weight`` (defaults and
    their scale: :mod:`aicsd.losses.weights`). ``student_channels``/``teacher_channels`` are the
    models' ``feature_channels`` (needed by ICKD's adapter).
    """
    if method not in METHOD_SPECS:
        raise ValueError(f"unknown distillation method {method!r}; valid: {', '.join(METHODS)}")
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise ValueError(f"unknown override(s) {unknown} for build_distiller; valid: {', '.join(_OVERRIDES)}")
    given = {key: value for key, value in overrides.items() if value is not None}
    spec = METHOD_SPECS[method]
    for key in _WEIGHT_NAMES[1:]:
        term = key.removesuffix("_weight")
        if key in given and term not in spec.terms:
            raise ValueError(f"{key} has no effect: method {method!r} has the terms {('ce',) + spec.terms}")
    settings = TermSettings(
        temperature=float(given.get("temperature", 1.0)),
        icsd_variant=given.get("icsd_variant", "paper"),
        student_channels=student_channels,
        teacher_channels=teacher_channels,
    )
    terms = {name: TERMS[name](settings, given.get(f"{name}_weight")) for name in spec.terms}
    return Distiller(
        method,
        terms,
        adaptive=bool(given.get("adaptive", spec.adaptive)),
        ce_weight=float(given.get("ce_weight", weights.CE_WEIGHT)),
        detach_teacher=bool(given.get("detach_teacher", True)),
        ignore_index=int(given.get("ignore_index", 255)),
    )
