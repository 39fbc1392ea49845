"""train_one_epoch and evaluate on tiny modules defined here."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aicsd.engine.loops import (
    FeatureTaps,
    NonFiniteLossError,
    Precision,
    evaluate,
    select_precision,
    train_one_epoch,
)

CPU = Precision(torch.device("cpu"))
NUM_CLASSES = 3


class TinySegmenter(nn.Module):
    """x (B, 3, H, W) -> logits (B, 3, H, W): class = the brightest input channel, learnable."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, NUM_CLASSES, 1)

    def forward_features(self, x):
        return {"logits": self.head(x)}

    def forward(self, x):
        return self.forward_features(x)["logits"]


class CrossEntropy(nn.Module):
    """The distiller contract with cross entropy only (no ALW)."""

    def alpha(self, **counters):
        return None

    def forward(self, student, teacher, target, *, alpha=None):
        ce = F.cross_entropy(student["logits"], target, ignore_index=255)
        return {"ce": ce, "loss": ce}


class MatchTeacher(nn.Module):
    """A loss that saves the teacher tensor for backward (a product with the student)."""

    def alpha(self, **counters):
        return None

    def forward(self, student, teacher, target, *, alpha=None):
        match = -(student["logits"] * teacher["logits"]).mean()
        return {"match": match, "loss": match}


def _loader(num_batches=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(num_batches):
        images = 4 * torch.rand(4, 3, 8, 8, generator=generator)
        target = images.argmax(dim=1)
        target[:, 0, 0] = 255
        batches.append((images, target))
    return batches


def _optimizer(model, steps):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (1 - step / steps) ** 0.9)
    return optimizer, scheduler


def test_training_lowers_the_loss_and_steps_the_schedule_per_batch():
    torch.manual_seed(0)
    model = TinySegmenter()
    loader = _loader()
    optimizer, scheduler = _optimizer(model, steps=5 * len(loader))
    first = train_one_epoch(
        FeatureTaps(model), CrossEntropy(), optimizer, scheduler, loader,
        epoch=0, total_epochs=5, steps_per_epoch=4, precision=CPU, taps=frozenset({"logits"}),
    )
    for epoch in range(1, 5):
        last = train_one_epoch(
            FeatureTaps(model), CrossEntropy(), optimizer, scheduler, loader,
            epoch=epoch, total_epochs=5, steps_per_epoch=4, precision=CPU, taps=frozenset({"logits"}),
        )
    assert set(first) == {"ce", "loss", "lr", "alpha", "images"} and first["alpha"] is None
    assert first["lr"] == 0.5 and first["images"] == 16
    assert last["loss"] < 0.5 * first["loss"], (first, last)
    assert scheduler.last_epoch == 5 * len(loader)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0)


def test_evaluate_gives_perfect_scores_for_a_perfect_model():
    model = TinySegmenter()
    with torch.no_grad():
        model.head.weight.copy_(torch.eye(3).reshape(3, 3, 1, 1))
        model.head.bias.zero_()
    metrics = evaluate(model, _loader(), NUM_CLASSES, "cpu")
    assert metrics["miou"] == pytest.approx(1.0)
    assert metrics["pixel_accuracy"] == pytest.approx(1.0)
    assert not model.training


def test_teacher_runs_frozen_in_eval_mode_and_its_outputs_can_be_saved_for_backward():
    torch.manual_seed(0)
    student, teacher = TinySegmenter(), TinySegmenter()
    teacher.requires_grad_(False)
    before = teacher.head.weight.clone()
    optimizer, scheduler = _optimizer(student, steps=4)
    stats = train_one_epoch(
        FeatureTaps(student), MatchTeacher(), optimizer, scheduler, _loader(),
        epoch=0, total_epochs=1, steps_per_epoch=4, precision=CPU, taps=frozenset({"logits"}), teacher=FeatureTaps(teacher),
    )
    assert "match" in stats
    assert not teacher.training
    assert torch.equal(teacher.head.weight, before) and teacher.head.weight.grad is None


def test_teacher_train_mode_runs_the_teacher_in_train_mode_without_updating_it():
    torch.manual_seed(0)
    student, teacher = TinySegmenter(), TinySegmenter()
    before = teacher.head.weight.clone()
    optimizer, scheduler = _optimizer(student, steps=4)
    train_one_epoch(
        FeatureTaps(student), MatchTeacher(), optimizer, scheduler, _loader(),
        epoch=0, total_epochs=1, steps_per_epoch=4, precision=CPU, taps=frozenset({"logits"}),
        teacher=FeatureTaps(teacher), teacher_train_mode=True,
    )
    assert teacher.training
    assert torch.equal(teacher.head.weight, before) and teacher.head.weight.grad is None


def test_non_finite_loss_names_the_step_and_the_terms():
    class Exploding(CrossEntropy):
        def forward(self, student, teacher, target, *, alpha=None):
            out = super().forward(student, teacher, target, alpha=alpha)
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 3:
                out["loss"] = out["loss"] * float("inf")
            return out

    model = TinySegmenter()
    optimizer, scheduler = _optimizer(model, steps=4)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2 step 2: terms \{'ce': [0-9.]+, 'loss': inf\}"):
        train_one_epoch(
            FeatureTaps(model), Exploding(), optimizer, scheduler, _loader(),
            epoch=2, total_epochs=3, steps_per_epoch=4, precision=CPU, taps=frozenset({"logits"}),
        )


def test_empty_loader_is_an_error():
    model = TinySegmenter()
    optimizer, scheduler = _optimizer(model, steps=1)
    with pytest.raises(ValueError, match="no batch"):
        train_one_epoch(
            FeatureTaps(model), CrossEntropy(), optimizer, scheduler, [],
            epoch=0, total_epochs=1, steps_per_epoch=4, precision=CPU, taps=frozenset({"logits"}),
        )


def test_precision_is_plain_float32_on_cpu():
    precision = select_precision(torch.device("cpu"), amp=True, channels_last=True)
    assert precision.amp_dtype is None and not precision.channels_last and not precision.needs_grad_scaler
