"""ALW, the method registry and the Distiller: names, weights, schedule, teacher handling."""

from __future__ import annotations

import pytest
import torch

from aicsd.losses import METHODS, ICSDLoss, alw_weights, build_distiller, constant_weights
from aicsd.losses import weights as default_weights
from aicsd.study.calibration import icsd_gradient_ratio

CHANNELS = {"stage1": 4, "stage2": 6, "stage3": 8, "stage4": 10, "aspp": 8, "decoder": 8, "logits": 5}
TEACHER_CHANNELS = {"stage1": 8, "stage2": 12, "stage3": 16, "stage4": 20, "aspp": 16, "decoder": 16, "logits": 5}


def features(channels: dict[str, int], seed: int, grad: bool = False) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    sizes = {"stage1": 8, "stage2": 4, "stage3": 2, "stage4": 2, "aspp": 2, "decoder": 8, "logits": 32}
    out = {}
    for tap, c in channels.items():
        out[tap] = torch.randn(2, c, sizes[tap], sizes[tap], generator=generator).requires_grad_(grad)
    return out


def target(seed: int = 0) -> torch.Tensor:
    t = torch.randint(0, 5, (2, 32, 32), generator=torch.Generator().manual_seed(seed))
    t[:, :3] = 255
    return t


def test_alw_schedule():
    assert alw_weights(0, 10) == {"ce": 0.0, "icsd": 0.0, "kd": 1.0}
    assert alw_weights(5, 10) == {"ce": 0.5, "icsd": 0.5, "kd": 0.5}
    assert alw_weights(9, 10)["kd"] == pytest.approx(0.1)
    assert constant_weights() == {"ce": 1.0, "icsd": 1.0, "kd": 1.0}
    with pytest.raises(ValueError, match="epoch"):
        alw_weights(10, 10)
    with pytest.raises(ValueError, match="total_epochs"):
        alw_weights(0, 0)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_builds_runs_and_sums_its_terms(method):
    distiller = build_distiller(method, student_channels=CHANNELS, teacher_channels=TEACHER_CHANNELS)
    student = features(CHANNELS, 1, grad=True)
    teacher = features(TEACHER_CHANNELS, 2) if distiller.needs_teacher else None
    out = distiller(student, teacher, target(), epoch=3, total_epochs=10)
    terms = [k for k in out if k != "loss"]
    assert terms == ["ce", *distiller.terms]
    torch.testing.assert_close(out["loss"], sum(out[k] for k in terms))
    out["loss"].backward()
    assert student["logits"].grad is not None
    assert all(torch.isfinite(v) for v in out.values())


def test_needs_teacher_and_required_taps():
    assert not build_distiller("none").needs_teacher
    assert build_distiller("aicsd").required_taps == {"logits"}
    assert build_distiller("ad").required_taps == {"logits", "stage1", "stage2", "stage3", "stage4"}
    with pytest.raises(ValueError, match="teacher features"):
        build_distiller("kd")(features(CHANNELS, 1), None, target(), epoch=0, total_epochs=1)


def test_identical_student_and_teacher_leave_only_cross_entropy():
    student = features(CHANNELS, 3)
    for method in ("kd", "icsd", "icsd+kd", "aicsd"):
        out = build_distiller(method)(student, student, target(), epoch=2, total_epochs=4)
        for name in out:
            if name not in ("ce", "loss"):
                assert out[name].item() == 0.0


def test_teacher_receives_no_gradient_unless_asked():
    student = features(CHANNELS, 4, grad=True)
    teacher = features(CHANNELS, 5, grad=True)
    build_distiller("icsd+kd")(student, teacher, target(), epoch=0, total_epochs=1)["loss"].backward()
    assert teacher["logits"].grad is None
    released_style = build_distiller("icsd+kd", detach_teacher=False)
    released_style(student, teacher, target(), epoch=0, total_epochs=1)["loss"].backward()
    assert teacher["logits"].grad is not None


def test_aicsd_applies_alw_and_icsd_plus_kd_does_not():
    student, teacher = features(CHANNELS, 6), features(CHANNELS, 7)
    aicsd, fixed = build_distiller("aicsd"), build_distiller("icsd+kd")
    at_start = aicsd(student, teacher, target(), epoch=0, total_epochs=4)
    reference = fixed(student, teacher, target(), epoch=0, total_epochs=4)
    assert at_start["ce"].item() == 0.0 and at_start["icsd"].item() == 0.0
    torch.testing.assert_close(at_start["kd"], reference["kd"])
    later = aicsd(student, teacher, target(), epoch=3, total_epochs=4)
    torch.testing.assert_close(later["ce"], 0.75 * reference["ce"])
    torch.testing.assert_close(later["icsd"], 0.75 * reference["icsd"])
    torch.testing.assert_close(later["kd"], 0.25 * reference["kd"])
    assert aicsd.alpha(3, 4) == 0.75 and fixed.alpha(3, 4) is None
    assert not build_distiller("aicsd", adaptive=False).adaptive


def test_default_weights_follow_the_documented_conversion():
    kd = build_distiller("kd").terms["kd"]
    assert kd.weight == pytest.approx(10 * 8 / 21)
    official = build_distiller("icsd", icsd_variant="official").terms["icsd"]
    assert official.weight == 9500 * 8
    paper = build_distiller("icsd").terms["icsd"]
    assert paper.weight == pytest.approx(9500 * 8 * default_weights.ICSD_GRADIENT_RATIO)
    assert isinstance(paper.loss, ICSDLoss) and paper.loss.variant == "paper"
    assert build_distiller("icsd", icsd_weight=7.0, temperature=2.0).terms["icsd"].weight == 7.0
    assert build_distiller("icsd", icsd_weight=None).terms["icsd"].weight == paper.weight


def test_ickd_adapter_parameters_reach_the_optimizer():
    distiller = build_distiller("ickd", student_channels=CHANNELS, teacher_channels=TEACHER_CHANNELS)
    params = list(distiller.parameters())
    assert [p.shape for p in params] == [(16, 8, 1, 1)]
    optimizer = torch.optim.SGD(params, lr=0.1)
    before = params[0].detach().clone()
    student, teacher = features(CHANNELS, 8), features(TEACHER_CHANNELS, 9)
    distiller(student, teacher, target(), epoch=0, total_epochs=1)["loss"].backward()
    optimizer.step()
    assert not torch.equal(before, params[0])
    for method in ("none", "kd", "ad", "sp", "icsd", "aicsd"):
        assert not list(build_distiller(method).parameters())


def test_bad_names_and_overrides_are_refused_with_the_valid_choices():
    with pytest.raises(ValueError, match="valid: none, kd, ad, sp, ickd, icsd, icsd\\+kd, aicsd"):
        build_distiller("cirkd")
    with pytest.raises(ValueError, match="valid: temperature"):
        build_distiller("kd", lambda_kd=3)
    with pytest.raises(ValueError, match="icsd_weight has no effect"):
        build_distiller("kd", icsd_weight=3)
    with pytest.raises(ValueError, match="student_channels and teacher_channels"):
        build_distiller("ickd")
    with pytest.raises(ValueError, match="variant"):
        build_distiller("icsd", icsd_variant="loop")
    with pytest.raises(ValueError, match="target shape"):
        build_distiller("none")(features(CHANNELS, 1), None, target()[:, :4], epoch=0, total_epochs=1)


@pytest.mark.slow
def test_paper_weight_gradient_ratio_is_what_the_weights_module_states():
    """Recomputes the ICSD weight conversion at (8, 21, 513, 513) on three seeds (~15 s)."""
    assert icsd_gradient_ratio() == pytest.approx(default_weights.ICSD_GRADIENT_RATIO, rel=0.01)
