"""Pascal VOC 2012 segmentation, optionally augmented with SBD (the 10,582-image ``train_aug``)."""

from __future__ import annotations

from pathlib import Path

from torchvision.datasets import SBDataset, VOCSegmentation

from aicsd.data.files import SegmentationFiles, Transforms, identity_label_map, require_layout
from aicsd.data.info import DatasetInfo, voc_palette

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip
VOC_INFO = DatasetInfo("voc", len(VOC_CLASSES), VOC_CLASSES, voc_palette(len(VOC_CLASSES)))
VOC_SPLITS = ("train", "val", "train_aug")
TORCHVISION_VOC_SPLITS = ("train", "val", "trainval")

VOC_LAYOUT = """\
  VOCdevkit/VOC2012/
    JPEGImages/<id>.jpg
    SegmentationClass/<id>.png          (palette PNG, 0..20, 255 = boundary/ignore)
    ImageSets/Segmentation/train.txt    (1464 ids)
    ImageSets/Segmentation/val.txt      (1449 ids)
  SBD/                                  (only for split "train_aug"; benchmark_RELEASE/dataset)
    img/<id>.jpg
    cls/<id>.mat                        (struct GTcls, field Segmentation)
    train.txt, val.txt                  (8498 and 2857 ids)
"""


def _voc_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """Pairs of a split list: torchvision's reader for VOC's own lists, the same layout rule for others."""
    if split in TORCHVISION_VOC_SPLITS:
        voc = VOCSegmentation(str(root), year="2012", image_set=split, download=False)
        return [(Path(image), Path(mask)) for image, mask in zip(voc.images, voc.masks, strict=True)]
    voc_dir = root / "VOCdevkit" / "VOC2012"
    ids = (voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()
    return [(voc_dir / "JPEGImages" / f"{i}.jpg", voc_dir / "SegmentationClass" / f"{i}.png") for i in ids]


def _sbd_pairs(sbd_root: Path, split: str) -> list[tuple[Path, Path]]:
    sbd = SBDataset(str(sbd_root), image_set=split, mode="segmentation", download=False)
    return [(Path(image), Path(mask)) for image, mask in zip(sbd.images, sbd.masks, strict=True)]


def voc_samples(
    root: Path, split: str, dataset: str = "voc", splits: tuple[str, ...] = VOC_SPLITS
) -> list[tuple[Path, Path]]:
    """Sorted ``(jpg, mask)`` pairs of a VOC 2012 split under ``root``.

    ``"train"`` / ``"val"``: the official segmentation lists (1464 / 1449 images).
    ``"train_aug"``: the standard SBD-augmented set of DeepLab (Chen et al.) and most segmentation
    KD work: (SBD train + SBD val + VOC train) minus every VOC val image, 10582 images. An image that
    has a VOC annotation keeps it (PNG, 255 boundaries); the rest use SBD's ``.mat`` masks.
    ``splits`` are the valid names (a dataset in the VOC layout may have its own, e.g. ``"test"``).
    """
    if split not in splits:
        raise ValueError(f"{dataset}: unknown split {split!r}; valid splits are {splits}")
    voc_dir = root / "VOCdevkit" / "VOC2012"
    lists = voc_dir / "ImageSets" / "Segmentation"
    voc_split = "train" if split == "train_aug" else split
    required = [voc_dir / "JPEGImages", voc_dir / "SegmentationClass", lists / f"{voc_split}.txt"]
    if split == "train_aug":
        sbd = root / "SBD"
        required += [lists / "val.txt", sbd / "img", sbd / "cls", sbd / "train.txt", sbd / "val.txt"]
    require_layout(dataset, root, required, VOC_LAYOUT)
    if split != "train_aug":
        return _voc_pairs(root, split)
    val_ids = {image.stem for image, _ in _voc_pairs(root, "val")}
    pairs = {image.stem: (image, mask) for image, mask in _voc_pairs(root, "train")}
    for sbd_split in ("train", "val"):
        for image, mask in _sbd_pairs(root / "SBD", sbd_split):
            if image.stem not in val_ids:
                pairs.setdefault(image.stem, (image, mask))
    return [pairs[name] for name in sorted(pairs)]


def build_voc(
    root: str | Path,
    split: str,
    transforms: Transforms | None = None,
    *,
    info: DatasetInfo = VOC_INFO,
    splits: tuple[str, ...] = VOC_SPLITS,
) -> SegmentationFiles:
    """Pascal VOC 2012 ``split`` under ``root`` (layout: ``VOC_LAYOUT``) as a SegmentationFiles.

    ``info`` and ``splits`` let a dataset in the VOC layout (the generated one) reuse this reader.
    """
    samples = voc_samples(Path(root), split, info.name, splits)
    return SegmentationFiles(info, samples, identity_label_map(info.num_classes), transforms)
