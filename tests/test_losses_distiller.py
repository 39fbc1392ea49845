"""The Distiller of every registered method: terms, ALW schedule, teacher handling, adapters."""

from __future__ import annotations

import pytest
import torch

from aicsd.losses import METHODS, ICSDLoss, build_distiller, resolve
from aicsd.losses import weights as default_weights

CHANNELS = {"stage1": 4, "stage2": 6, "stage3": 8, "stage4": 10, "aspp": 8, "decoder": 8, "decoder_logits": 5, "logits": 5}
TEACHER_CHANNELS = {
    "stage1": 8,
    "stage2": 12,
    "stage3": 16,
    "stage4": 20,
    "aspp": 16,
    "decoder": 16,
    "decoder_logits": 5,
    "logits": 5,
}


def features(channels: dict[str, int], seed: int, grad: bool = False) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    sizes = {"stage1": 8, "stage2": 4, "stage3": 2, "stage4": 2, "aspp": 2, "decoder": 8, "decoder_logits": 8, "logits": 32}
    out = {}
    for tap, c in channels.items():
        out[tap] = torch.randn(2, c, sizes[tap], sizes[tap], generator=generator).requires_grad_(grad)
    return out


def target(seed: int = 0) -> torch.Tensor:
    t = torch.randint(0, 5, (2, 32, 32), generator=torch.Generator().manual_seed(seed))
    t[:, :3] = 255
    return t


@pytest.mark.parametrize("method", METHODS)
def test_every_method_builds_runs_and_sums_its_terms(method):
    distiller = build_distiller(method, student_channels=CHANNELS, teacher_channels=TEACHER_CHANNELS)
    student = features(CHANNELS, 1, grad=True)
    teacher = features(TEACHER_CHANNELS, 2) if distiller.needs_teacher else None
    out = distiller(student, teacher, target(), alpha=0.3 if distiller.config.alw != "off" else None)
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
        build_distiller("kd")(features(CHANNELS, 1), None, target())


def test_identical_student_and_teacher_leave_only_cross_entropy():
    student = features(CHANNELS, 3)
    for method in ("kd", "icsd", "icsd+kd", "aicsd"):
        out = build_distiller(method)(student, student, target())
        for name in out:
            if name not in ("ce", "loss"):
                assert out[name].item() == 0.0


def test_teacher_receives_no_gradient_unless_asked():
    student = features(CHANNELS, 4, grad=True)
    teacher = features(CHANNELS, 5, grad=True)
    build_distiller("icsd+kd")(student, teacher, target())["loss"].backward()
    assert teacher["logits"].grad is None
    released_style = build_distiller("icsd+kd", detach_teacher=False)
    released_style(student, teacher, target())["loss"].backward()
    assert teacher["logits"].grad is not None


def test_aicsd_applies_alw_and_icsd_plus_kd_does_not():
    student, teacher = features(CHANNELS, 6), features(CHANNELS, 7)
    aicsd, fixed = build_distiller("aicsd"), build_distiller("icsd+kd")
    at_start = aicsd(student, teacher, target(), alpha=aicsd.alpha(epoch=0, total_epochs=4, step=0, total_steps=40))
    reference = fixed(student, teacher, target(), alpha=None)
    assert at_start["ce"].item() == 0.0 and at_start["icsd"].item() == 0.0
    torch.testing.assert_close(at_start["kd"], reference["kd"])
    alpha = aicsd.alpha(epoch=3, total_epochs=4, step=35, total_steps=40)
    assert alpha == 0.75
    later = aicsd(student, teacher, target(), alpha=alpha)
    torch.testing.assert_close(later["ce"], 0.75 * reference["ce"])
    torch.testing.assert_close(later["icsd"], 0.75 * reference["icsd"])
    torch.testing.assert_close(later["kd"], 0.25 * reference["kd"])
    assert fixed.alpha(epoch=3, total_epochs=4, step=35, total_steps=40) is None
    per_step = build_distiller("aicsd", alw="step")
    assert per_step.alpha(epoch=3, total_epochs=4, step=35, total_steps=40) == pytest.approx(35 / 39)
    assert build_distiller("aicsd", alw="off").alpha(epoch=0, total_epochs=4, step=0, total_steps=40) is None


def test_term_weights_come_from_the_resolved_method():
    kd = build_distiller("kd").terms["kd"]
    assert kd.weight == default_weights.KD_WEIGHT
    official = build_distiller("icsd", icsd_variant="official").terms["icsd"]
    assert official.weight == default_weights.ICSD_OFFICIAL_WEIGHT
    paper = build_distiller("icsd").terms["icsd"]
    assert paper.weight == pytest.approx(default_weights.ICSD_PAPER_WEIGHT)
    assert isinstance(paper.loss, ICSDLoss) and paper.loss.variant == "paper"
    assert build_distiller("icsd", icsd_weight=7.0, temperature=2.0).terms["icsd"].weight == 7.0
    assert build_distiller("icsd", icsd_weight=None).terms["icsd"].weight == paper.weight
    assert build_distiller(resolve("kd", kd_weight=2.5)).terms["kd"].weight == 2.5
    with pytest.raises(ValueError, match="not with a resolved MethodConfig"):
        build_distiller(resolve("kd"), kd_weight=1.0)


def test_cross_entropy_keeps_float64_for_gradient_checks():
    logits = torch.randn(2, 5, 6, 6, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 5, (2, 6, 6))
    out = build_distiller("none")({"logits": logits}, None, labels)
    assert out["ce"].dtype == torch.float64
    torch.autograd.gradcheck(lambda x: build_distiller("none")({"logits": x}, None, labels)["loss"], (logits,))


def test_ickd_adapter_parameters_reach_the_optimizer():
    distiller = build_distiller("ickd", student_channels=CHANNELS, teacher_channels=TEACHER_CHANNELS)
    params = list(distiller.parameters())
    assert [p.shape for p in params] == [(16, 8, 1, 1)]
    optimizer = torch.optim.SGD(params, lr=0.1)
    before = params[0].detach().clone()
    student, teacher = features(CHANNELS, 8), features(TEACHER_CHANNELS, 9)
    distiller(student, teacher, target())["loss"].backward()
    optimizer.step()
    assert not torch.equal(before, params[0])
    for method in ("none", "kd", "ad", "sp", "icsd", "aicsd", "cwd", "dist"):
        assert not list(build_distiller(method).parameters())


def test_bad_names_and_overrides_are_refused_with_the_valid_choices():
    with pytest.raises(ValueError, match="valid: none, kd, ad, sp, ickd, icsd, icsd\\+kd, aicsd, cwd, dist"):
        build_distiller("cirkd")
    with pytest.raises(ValueError, match="valid: ce_weight, temperature"):
        build_distiller("kd", lambda_kd=3)
    with pytest.raises(ValueError, match="icsd_weight has no effect"):
        build_distiller("kd", icsd_weight=3)
    with pytest.raises(ValueError, match="student_channels and teacher_channels"):
        build_distiller("ickd")
    with pytest.raises(ValueError, match="variant"):
        build_distiller("icsd", icsd_variant="loop")
    with pytest.raises(ValueError, match="target shape"):
        build_distiller("none")(features(CHANNELS, 1), None, target()[:, :4])
