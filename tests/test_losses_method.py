"""resolve(): one typed value per method with every default filled in, validated once."""

import pytest

from aicsd.losses import METHODS, TERMS, MethodConfig, override_names, register_method, register_term, resolve, weights
from aicsd.losses.registry import Registry, TermDefinition


@pytest.mark.parametrize("method", METHODS)
def test_every_method_resolves_with_its_registered_terms(method):
    config = resolve(method)
    assert config.method == method and config.term_names == METHODS[method].terms
    assert config.ce_weight == weights.CE_WEIGHT
    assert config.alw == ("epoch" if METHODS[method].adaptive else "off")
    for term in config.terms:
        assert term.taps == TERMS[term.name].taps
        assert term.weight == TERMS[term.name].default_weight(term.variant)
    assert MethodConfig.from_dict(config.to_dict()) == config


def test_aicsd_defaults_and_overrides():
    config = resolve("aicsd", alw_form="step", kd_weight=1.5, temperature=2.0, icsd_variant="official")
    assert config.alw == "step"
    assert config.term("kd").weight == 1.5 and config.term("kd").temperature == 2.0
    assert config.term("icsd").variant == "official"
    assert config.term("icsd").weight == weights.default_icsd_weight("official")
    assert resolve("aicsd", alw="off", alw_form="step").alw == "off"
    assert resolve("kd", alw_form="step").alw == "off"
    assert "ALW per step" in config.describe() and "kd 1.5" in config.describe()


def test_terms_keep_their_own_default_temperature():
    assert resolve("cwd").term("cwd").temperature == TERMS["cwd"].default_temperature
    assert resolve("kd").term("kd").temperature == 1.0
    assert resolve("ad").term("ad").temperature is None


def test_every_weight_and_variant_override_is_named_after_a_registered_term():
    names = override_names()
    for term in TERMS:
        assert f"{term}_weight" in names
    assert "icsd_variant" in names and "kd_variant" not in names


def test_registries_refuse_duplicates_and_unknown_terms():
    with pytest.raises(ValueError, match="already registered"):
        register_method("kd", ("kd",), adaptive=False, description="again")
    with pytest.raises(ValueError, match="already registered"):
        register_term(TermDefinition("kd", lambda s: None, ("logits",), lambda v: 1.0))
    with pytest.raises(ValueError, match="unknown distillation term 'fitnet'"):
        register_method("fitnet-kd", ("fitnet", "kd"), adaptive=False, description="unknown term")
    registry: Registry[int] = Registry("thing")
    registry.add("a", 1)
    assert list(registry) == ["a"] and "a" in registry and len(registry) == 1
