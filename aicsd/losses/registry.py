"""Loss terms and distillation methods by name; a new method is one loss file and one registration.

A *term* is one distillation loss read on named feature taps (:mod:`aicsd.taps`) with its
default weight (:mod:`aicsd.losses.weights`), temperature and variants. A *method* is a set of
terms besides cross entropy, optionally under adaptive loss weighting (:mod:`aicsd.losses.alw`).
:func:`register_term` adds a term and, given ``method=``, the method made of that term alone;
:func:`register_method` adds a method combining registered terms. Both refuse a name twice.

The registrations at the bottom of this file are the methods of the paper (``kd``, ``ad``, ``sp``,
``ickd``, ``icsd``, ``icsd+kd``, ``aicsd``), the student baseline ``none``, and two later
baselines (``cwd``, ``dist``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from torch import nn

from aicsd.losses import weights
from aicsd.losses.ad import AttentionLoss
from aicsd.losses.cwd import ChannelWiseDistillationLoss
from aicsd.losses.dist import DISTLoss
from aicsd.losses.icsd import ICSDLoss
from aicsd.losses.ickd import ICKDLoss
from aicsd.losses.kd import PixelKDLoss
from aicsd.losses.sp import SimilarityPreservingLoss
from aicsd.taps import DECODER, LOGITS, STAGES

__all__ = [
    "METHODS",
    "TERMS",
    "MethodDefinition",
    "Registry",
    "TermDefinition",
    "TermSettings",
    "register_method",
    "register_term",
]

Item = TypeVar("Item")
Channels = Mapping[str, int]


class Registry(Generic[Item]):
    """Name -> item; refuses a second registration of a name, lists the valid names on a miss."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._items: dict[str, Item] = {}

    def add(self, name: str, item: Item) -> None:
        if name in self._items:
            raise ValueError(f"{self._kind} {name!r} is already registered")
        self._items[name] = item

    def __getitem__(self, name: str) -> Item:
        if name not in self._items:
            raise ValueError(f"unknown {self._kind} {name!r}; valid: {', '.join(self._items)}")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class TermSettings:
    """What a term's loss module is built from: its resolved temperature and variant, and the
    networks' tap channels (``model.feature_channels``; ICKD's adapter needs them)."""

    temperature: float | None
    variant: str | None
    student_channels: Channels | None
    teacher_channels: Channels | None


@dataclass(frozen=True)
class TermDefinition:
    """One registered loss term.

    ``build(settings) -> nn.Module`` makes the loss (``student, teacher -> scalar`` on one tap);
    ``default_weight(variant)`` is its weight relative to cross entropy 1; ``default_temperature``
    is ``None`` for a loss without one; ``variants`` lists the valid variants, the default first
    (empty when the loss has none); ``fades_in`` says how ALW schedules it (with cross entropy, as
    ICSD, or fading out like every pixel-wise teacher signal).
    """

    name: str
    build: Callable[[TermSettings], nn.Module]
    taps: tuple[str, ...]
    default_weight: Callable[[str | None], float]
    default_temperature: float | None = None
    variants: tuple[str, ...] = ()
    fades_in: bool = False


@dataclass(frozen=True)
class MethodDefinition:
    """A registered method: its terms besides cross entropy, whether ALW schedules them, a description."""

    name: str
    terms: tuple[str, ...]
    adaptive: bool
    description: str


TERMS: Registry[TermDefinition] = Registry("distillation term")
METHODS: Registry[MethodDefinition] = Registry("distillation method")


def register_term(definition: TermDefinition, *, method: str | None = None) -> TermDefinition:
    """Register ``definition``; with ``method`` (a description), also the method of that term alone."""
    for tap in definition.taps:
        if not isinstance(tap, str):
            raise TypeError(f"term {definition.name!r}: taps must be names, got {tap!r}")
    TERMS.add(definition.name, definition)
    if method is not None:
        register_method(definition.name, (definition.name,), adaptive=False, description=method)
    return definition


def register_method(name: str, terms: tuple[str, ...], *, adaptive: bool, description: str) -> MethodDefinition:
    """Register the method ``name`` made of the registered ``terms`` (besides cross entropy)."""
    unknown = [term for term in terms if term not in TERMS]
    if unknown:
        raise ValueError(f"unknown distillation term {unknown[0]!r} in method {name!r}; valid: {', '.join(TERMS)}")
    definition = MethodDefinition(name, tuple(terms), adaptive, description)
    METHODS.add(name, definition)
    return definition


def _default(name: str) -> Callable[[str | None], float]:
    """The default weight ``aicsd.losses.weights.<name>``, read when a method is resolved."""
    return lambda variant: getattr(weights, name)


def _ickd(settings: TermSettings) -> nn.Module:
    if settings.student_channels is None or settings.teacher_channels is None:
        raise ValueError(
            "term 'ickd' needs student_channels and teacher_channels "
            "(pass model.feature_channels of both networks to build_distiller)"
        )
    return ICKDLoss(settings.student_channels[DECODER], settings.teacher_channels[DECODER])


register_method("none", (), adaptive=False, description="cross entropy only (the student baseline, or the teacher)")
register_term(
    TermDefinition(
        "kd",
        lambda s: PixelKDLoss(s.temperature),
        (LOGITS,),
        _default("KD_WEIGHT"),
        default_temperature=1.0,
    ),
    method="pixel-wise KD (Hinton et al.)",
)
register_term(
    TermDefinition("ad", lambda s: AttentionLoss(), STAGES, _default("AD_WEIGHT")),
    method="attention distillation on the backbone stages",
)
register_term(
    TermDefinition("sp", lambda s: SimilarityPreservingLoss(), (STAGES[-1],), _default("SP_WEIGHT")),
    method="similarity-preserving KD on the last backbone stage",
)
register_term(
    TermDefinition("ickd", _ickd, (DECODER,), _default("ICKD_WEIGHT")),
    method="inter-channel correlation KD on the decoder feature",
)
register_term(
    TermDefinition(
        "icsd",
        lambda s: ICSDLoss(s.temperature, s.variant),
        (LOGITS,),
        lambda variant: weights.default_icsd_weight(variant),
        default_temperature=1.0,
        variants=ICSDLoss.VARIANTS,
        fades_in=True,
    ),
    method="inter-class similarity distillation alone",
)
register_method("icsd+kd", ("icsd", "kd"), adaptive=False, description="ICSD and pixel-wise KD, fixed weights")
register_method("aicsd", ("icsd", "kd"), adaptive=True, description="ICSD and pixel-wise KD under ALW (the paper)")
register_term(
    TermDefinition(
        "cwd",
        lambda s: ChannelWiseDistillationLoss(s.temperature),
        (LOGITS,),
        _default("CWD_WEIGHT"),
        default_temperature=ChannelWiseDistillationLoss.DEFAULT_TEMPERATURE,
    ),
    method="channel-wise distillation (Shu et al., 2021), beyond the paper",
)
register_term(
    TermDefinition(
        "dist",
        lambda s: DISTLoss(temperature=s.temperature),
        (LOGITS,),
        _default("DIST_WEIGHT"),
        default_temperature=DISTLoss.DEFAULT_TEMPERATURE,
    ),
    method="DIST, relations by Pearson correlation (Huang et al., 2022), beyond the paper",
)
