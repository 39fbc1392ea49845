"""SegmentationMetrics against torchmetrics and hand-computed cases."""

import math

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from aicsd.metrics import SegmentationMetrics

IGNORE = 255


def _random_batch(generator: torch.Generator, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (2, C, 9, 11) and a target with ~20 % ignore pixels."""
    logits = torch.randn(2, num_classes, 9, 11, generator=generator)
    target = torch.randint(0, num_classes, (2, 9, 11), generator=generator)
    ignore = torch.rand(2, 9, 11, generator=generator) < 0.2
    return logits, target.masked_fill(ignore, IGNORE)


@pytest.mark.parametrize("num_classes", [2, 5, 21])
def test_matches_torchmetrics_on_random_batches(num_classes):
    generator = torch.Generator().manual_seed(num_classes)
    ours = SegmentationMetrics(num_classes)
    jaccard = MulticlassJaccardIndex(num_classes, average="macro", ignore_index=IGNORE)
    jaccard_per_class = MulticlassJaccardIndex(num_classes, average="none", ignore_index=IGNORE)
    jaccard_weighted = MulticlassJaccardIndex(num_classes, average="weighted", ignore_index=IGNORE)
    accuracy_micro = MulticlassAccuracy(num_classes, average="micro", ignore_index=IGNORE)
    accuracy_per_class = MulticlassAccuracy(num_classes, average="none", ignore_index=IGNORE)
    for _ in range(3):
        logits, target = _random_batch(generator, num_classes)
        ours.update(logits, target)
        for metric in (jaccard, jaccard_per_class, jaccard_weighted, accuracy_micro, accuracy_per_class):
            metric.update(logits, target)
    result = ours.compute()
    per_class = torch.tensor(result["per_class_iou"], dtype=torch.float64)
    present = ~per_class.isnan()
    assert torch.allclose(per_class[present], jaccard_per_class.compute().double()[present], atol=1e-6)
    assert result["miou"] == pytest.approx(float(jaccard.compute()), abs=1e-6)
    assert result["fwiou"] == pytest.approx(float(jaccard_weighted.compute()), abs=1e-6)
    assert result["pixel_accuracy"] == pytest.approx(float(accuracy_micro.compute()), abs=1e-6)
    class_acc = accuracy_per_class.compute().double()
    assert result["mean_class_accuracy"] == pytest.approx(float(class_acc.mean()), abs=1e-6)


def test_hand_computed_case_with_absent_class():
    # 3 classes; class 2 appears nowhere; one ignored pixel predicted as 1.
    target = torch.tensor([[[0, 0, 1, 1, IGNORE]]])
    pred = torch.tensor([[[0, 1, 1, 1, 1]]])
    metrics = SegmentationMetrics(3)
    metrics.update(pred, target)
    result = metrics.compute()
    # class 0: tp 1, fn 1, fp 0 -> 1/2; class 1: tp 2, fp 1 -> 2/3; class 2: 0/0 -> NaN
    assert result["per_class_iou"][0] == pytest.approx(0.5)
    assert result["per_class_iou"][1] == pytest.approx(2 / 3)
    assert math.isnan(result["per_class_iou"][2])
    assert result["miou"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert result["pixel_accuracy"] == pytest.approx(3 / 4)
    assert result["mean_class_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    assert result["fwiou"] == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)


def test_class_only_predicted_has_zero_iou_and_counts_in_mean():
    target = torch.tensor([[[0, 0]]])
    pred = torch.tensor([[[0, 1]]])
    metrics = SegmentationMetrics(2)
    metrics.update(pred, target)
    result = metrics.compute()
    assert result["per_class_iou"] == pytest.approx([0.5, 0.0])
    assert result["miou"] == pytest.approx(0.25)
    assert result["mean_class_accuracy"] == pytest.approx(0.5)


def test_reset_and_accumulation():
    metrics = SegmentationMetrics(2)
    metrics.update(torch.tensor([[[0, 1]]]), torch.tensor([[[1, 1]]]))
    metrics.update(torch.tensor([[[1, 1]]]), torch.tensor([[[1, 1]]]))
    assert metrics.confusion.tolist() == [[0, 0], [1, 3]]
    metrics.reset()
    assert metrics.confusion.sum() == 0
    assert math.isnan(metrics.compute()["miou"])


def test_all_reduce_is_noop_without_distributed():
    metrics = SegmentationMetrics(2)
    metrics.update(torch.tensor([[[0, 1]]]), torch.tensor([[[0, 1]]]))
    metrics.all_reduce()
    assert metrics.confusion.tolist() == [[1, 0], [0, 1]]


@pytest.mark.parametrize(
    ("pred", "target", "match"),
    [
        (torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), "channels"),
        (torch.zeros(1, 2, 3, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.long), "shape"),
        (torch.tensor([[[0, 7]]]), torch.tensor([[[0, 1]]]), "outside"),
        (torch.tensor([[[0, 1]]]), torch.tensor([[[0, 5]]]), "outside"),
    ],
)
def test_bad_input_raises(pred, target, match):
    with pytest.raises(ValueError, match=match):
        SegmentationMetrics(3).update(pred, target)


def test_ignore_index_inside_class_range_is_rejected():
    with pytest.raises(ValueError, match="ignore_index"):
        SegmentationMetrics(3, ignore_index=2)


def test_logits_are_read_as_their_argmax_with_the_first_class_on_ties():
    # Two pixels tie between classes 1 and 2 (class 1 wins, as argmax), one pixel's maximum is class 0.
    logits = torch.tensor([[[[0.0, 0.0, 3.0]], [[2.0, 1.0, 0.0]], [[2.0, 1.0, 0.0]]]])
    target = torch.tensor([[[1, 1, 0]]])
    from_logits, from_labels = SegmentationMetrics(3), SegmentationMetrics(3)
    from_logits.update(logits, target)
    from_labels.update(logits.argmax(dim=1), target)
    assert logits.argmax(dim=1).tolist() == [[[1, 1, 0]]]
    assert torch.equal(from_logits.confusion, from_labels.confusion)
