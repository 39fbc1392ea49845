"""A distillation method as one resolved, typed value: :class:`MethodConfig` from :func:`resolve`.

Every default (weights, temperatures, variants, ALW form) is filled in here, once, when a run's
configuration is built; the run's identity, ``config.json`` and ``result.json`` then hold the
effective numbers, and :func:`aicsd.losses.build_distiller` only reads them.

Overrides a user may give (``resolve("aicsd", icsd_weight=10.0, temperature=2.0)``):

- ``<term>_weight`` for a term of the method (e.g. ``kd_weight``), and ``ce_weight``;
- ``temperature``: every term of the method that has one (KD and ICSD share it, as in the
  released code; CWD and DIST have their own defaults);
- ``<term>_variant`` for a term with variants (``icsd_variant``: ``"paper"`` or ``"official"``);
- ``alw``: ``"off"``, ``"epoch"`` or ``"step"`` (:mod:`aicsd.losses.alw`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aicsd.losses import weights
from aicsd.losses.alw import ALW_FORMS
from aicsd.losses.registry import METHODS, TERMS

__all__ = ["MethodConfig", "TermConfig", "override_names", "resolve"]


@dataclass(frozen=True)
class TermConfig:
    """One distillation term as it runs: its weight, the taps it reads, temperature and variant."""

    name: str
    weight: float
    taps: tuple[str, ...]
    temperature: float | None = None
    variant: str | None = None


@dataclass(frozen=True)
class MethodConfig:
    """A method with every number filled in: cross-entropy weight, terms, ALW form."""

    method: str
    terms: tuple[TermConfig, ...] = ()
    ce_weight: float = weights.CE_WEIGHT
    alw: str = "off"

    def term(self, name: str) -> TermConfig:
        """The term ``name`` (ValueError naming the method's terms when it has none such)."""
        for term in self.terms:
            if term.name == name:
                return term
        raise ValueError(f"method {self.method!r} has no term {name!r}; its terms: {', '.join(self.term_names) or 'none'}")

    @property
    def term_names(self) -> tuple[str, ...]:
        return tuple(term.name for term in self.terms)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (the form stored in ``config.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> MethodConfig:
        """The inverse of :meth:`to_dict`."""
        terms = tuple(TermConfig(**{**term, "taps": tuple(term["taps"])}) for term in fields.get("terms", ()))
        return cls(method=fields["method"], terms=terms, ce_weight=fields["ce_weight"], alw=fields["alw"])

    def describe(self) -> str:
        """One line, e.g. ``"aicsd: ce 1 + icsd 53.4 (T 1, paper) + kd 2.86 (T 1); ALW per step"``."""
        parts = [f"ce {self.ce_weight:.3g}"]
        for term in self.terms:
            details = [f"T {term.temperature:g}"] if term.temperature is not None else []
            details += [term.variant] if term.variant is not None else []
            parts.append(f"{term.name} {term.weight:.3g}" + (f" ({', '.join(details)})" if details else ""))
        schedule = "" if self.alw == "off" else f"; ALW per {self.alw}"
        return f"{self.method}: {' + '.join(parts)}{schedule}"


def override_names() -> tuple[str, ...]:
    """Every override :func:`resolve` accepts, for the registered terms."""
    names = ["ce_weight", "temperature", "alw"]
    for name in TERMS:
        names.append(f"{name}_weight")
        if TERMS[name].variants:
            names.append(f"{name}_variant")
    return tuple(names)


def _finite(name: str, value: Any, *, positive: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return number


def resolve(method: str, *, alw_form: str = "epoch", **overrides: Any) -> MethodConfig:
    """The :class:`MethodConfig` of ``method`` with every default filled in and ``overrides`` applied.

    ``alw_form`` is the ALW form an adaptive method uses unless ``alw`` is given (the released
    per-epoch form by default; a profile may choose ``"step"``). ``None`` overrides mean "the
    default". Raises ValueError for an unknown method or override, an override the method has no
    term for, a negative or non-finite weight, a non-positive temperature or an unknown variant.
    """
    definition = METHODS[method]
    given = {key: value for key, value in overrides.items() if value is not None}
    valid = override_names()
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(f"unknown distillation setting(s) {unknown}; valid: {', '.join(valid)}")
    terms = definition.terms
    for key in given:
        term = key.rsplit("_", 1)[0]
        if key not in ("ce_weight", "temperature", "alw") and term not in terms:
            raise ValueError(f"{key} has no effect: method {method!r} has the terms {', '.join(('ce', *terms))}")
    with_temperature = [name for name in terms if TERMS[name].default_temperature is not None]
    if "temperature" in given and not with_temperature:
        raise ValueError(f"temperature has no effect: no term of method {method!r} has one")
    temperature = _finite("temperature", given["temperature"], positive=True) if "temperature" in given else None
    alw = given.get("alw", alw_form if definition.adaptive else "off")
    if alw not in ALW_FORMS:
        raise ValueError(f"unknown alw {alw!r}; valid: {', '.join(ALW_FORMS)}")
    resolved = []
    for name in terms:
        term = TERMS[name]
        variant = given.get(f"{name}_variant", term.variants[0] if term.variants else None)
        if term.variants and variant not in term.variants:
            raise ValueError(f"unknown {name}_variant {variant!r}; valid: {', '.join(term.variants)}")
        weight_key = f"{name}_weight"
        weight = _finite(weight_key, given[weight_key], positive=False) if weight_key in given else term.default_weight(variant)
        own_temperature = None if term.default_temperature is None else (temperature or term.default_temperature)
        resolved.append(TermConfig(name, weight, term.taps, own_temperature, variant))
    ce_weight = _finite("ce_weight", given["ce_weight"], positive=False) if "ce_weight" in given else weights.CE_WEIGHT
    return MethodConfig(method, tuple(resolved), ce_weight, alw)
