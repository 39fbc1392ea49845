"""The teacher-output cache: content keys, memory bound, and bit-identical runs with and without it
(and with and without the decoded images of :mod:`aicsd.data.decoded`)."""

import json
import shutil

import pytest
import torch

from aicsd.data import make_synthetic
from aicsd.data.decoded import DecodedImages
from aicsd.engine import distill, load_profile, read_metrics, run_dir, teacher_config, train_teacher
from aicsd.engine.checkpoint import load_checkpoint
from aicsd.engine.teacher_cache import TeacherOutputCache


def _taps(value: float, elements: int = 4) -> dict[str, torch.Tensor]:
    return {"logits": torch.full((elements,), float(value))}


def test_a_batch_seen_before_is_read_not_computed_and_other_content_or_teachers_miss():
    cache = TeacherOutputCache()
    images = torch.arange(24.0).view(1, 2, 3, 4)
    calls = []

    def compute():
        calls.append(1)
        return _taps(float(len(calls)))

    first = cache.taps("teacher a", images, compute)
    again = cache.taps("teacher a", images.clone(), compute)  # same content, another tensor
    assert again is first and len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    changed = images.clone()
    changed[0, 0, 0, 0] += 1e-6
    assert cache.taps("teacher a", changed, compute) is not first
    assert cache.taps("teacher b", images, compute) is not first
    assert len(calls) == 3 and len(cache) == 3
    assert cache.key("t", images) != cache.key("t", images.to(torch.float64))
    assert cache.key("t", images) != cache.key("t", images.view(1, 2, 4, 3))


def test_the_cache_holds_at_most_max_bytes_dropping_the_least_recently_used():
    entry = 4 * 4  # four float32 values
    cache = TeacherOutputCache(max_bytes=2 * entry)
    batches = [torch.full((1, 1, 2, 2), float(i)) for i in range(3)]
    for i, images in enumerate(batches[:2]):
        cache.taps("t", images, lambda i=i: _taps(i))
    cache.taps("t", batches[0], lambda: pytest.fail("batch 0 is held"))  # batch 0 is now the most recent
    cache.taps("t", batches[2], lambda: _taps(2))  # evicts batch 1
    assert cache.bytes == 2 * entry and len(cache) == 2
    recomputed = []
    cache.taps("t", batches[1], lambda: recomputed.append(1) or _taps(1))
    assert recomputed == [1]
    too_big = TeacherOutputCache(max_bytes=entry - 1)
    too_big.taps("t", batches[0], lambda: _taps(0))
    assert len(too_big) == 0 and too_big.bytes == 0
    with pytest.raises(ValueError, match="max_bytes"):
        TeacherOutputCache(max_bytes=-1)


@pytest.fixture(scope="module")
def teacher_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    data = make_synthetic(root / "data", num_train=16, num_val=4, num_test=4, image_size=(32, 40))
    fields = dict(data_root=str(data), output_dir=str(root / "runs"), device="cpu", quiet=True, epochs=2)
    train_teacher(teacher_config(load_profile("smoke", **fields)))
    return fields, root


def _student(fields, output_dir, method, **overrides):
    return load_profile("smoke", **{**fields, "output_dir": str(output_dir)}, method=method, backbone="resnet18", **overrides)


def _copy_teacher(fields, destination):
    teacher = run_dir(teacher_config(load_profile("smoke", **fields)))
    shutil.copytree(teacher, destination / teacher.name)


@pytest.mark.parametrize("methods", [("kd", "aicsd"), ("ad", "sp")])
def test_runs_sharing_caches_are_bit_identical_to_runs_computing_the_teacher_and_decoding_the_files(teacher_and_data, tmp_path, methods):
    fields, _ = teacher_and_data
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    for folder in (alone, shared):
        folder.mkdir()
        _copy_teacher(fields, folder)
    cache, decoded = TeacherOutputCache(), DecodedImages()
    for method in methods:
        distill(_student(fields, alone, method))
        distill(_student(fields, shared, method), teacher_cache=cache, decoded=decoded)
    assert cache.misses > 0 and cache.hits == cache.misses  # the second method read every batch the first computed
    assert decoded.misses == 8 + 4 + 4 and decoded.hits > decoded.misses  # smoke: 8 train, 4 val, 4 test images, each decoded once
    for method in methods:
        a, b = run_dir(_student(fields, alone, method)), run_dir(_student(fields, shared, method))
        def losses(run):
            return [{k: v for k, v in line.items() if k.startswith("train_") and not k.endswith("_s")} for line in read_metrics(run)]

        assert losses(a) == losses(b) and "train_loss" in losses(a)[0]
        weights_a, weights_b = load_checkpoint(a / "checkpoint.pt")["model"], load_checkpoint(b / "checkpoint.pt")["model"]
        assert all(torch.equal(weights_a[name], weights_b[name]) for name in weights_a)
        assert json.loads((a / "result.json").read_text())["test"]["miou"] == json.loads((b / "result.json").read_text())["test"]["miou"]


def test_a_released_style_teacher_in_train_mode_never_uses_the_cache(teacher_and_data, tmp_path):
    fields, _ = teacher_and_data
    _copy_teacher(fields, tmp_path)
    cache = TeacherOutputCache()
    distill(_student(fields, tmp_path, "kd", teacher_train_mode=True), teacher_cache=cache)
    assert (cache.hits, cache.misses, len(cache)) == (0, 0, 0)
