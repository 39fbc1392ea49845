"""CamVid in the SegNet tutorial layout: 11 classes, label 11 (void) -> 255.

The full release has train (367), val (101) and test (233) pairs; some copies ship train and val
only. The test split is optional: where ``test.txt`` is on disk, every run reports it
(:func:`aicsd.data.labelled_test_split`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aicsd.data.files import SegmentationFiles, Transforms, identity_label_map, require_layout
from aicsd.data.info import IGNORE_INDEX, DatasetInfo

CAMVID_CLASSES = (
    "sky", "building", "pole", "road", "pavement", "tree", "sign_symbol", "fence", "car",
    "pedestrian", "bicyclist",
)  # fmt: skip
CAMVID_PALETTE = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)  # fmt: skip
CAMVID_INFO = DatasetInfo(
    "camvid", len(CAMVID_CLASSES), CAMVID_CLASSES, CAMVID_PALETTE,
    attribution="CamVid (Brostow et al. 2009; SegNet 11-class split, Badrinarayanan et al. 2017), research use",
)  # fmt: skip
CAMVID_SPLITS = ("train", "val", "test")
CAMVID_VOID = 11

CAMVID_LAYOUT = """\
  train/<name>.png       trainannot/<name>.png     train.txt   (367 pairs)
  val/<name>.png         valannot/<name>.png       val.txt     (101 pairs)
  test/<name>.png        testannot/<name>.png      test.txt    (233 pairs; optional: when present, runs report it)
  <split>.txt lines: "<image path> <annotation path>"; only the file names are used.
  Annotations: single-channel PNG, 0..10 classes, 11 = void.
"""


def camvid_samples(root: Path, split: str) -> list[tuple[Path, Path]]:
    """``(image, annotation)`` pairs listed in ``root/<split>.txt``, in file order.

    The SegNet lists hold absolute paths from the tutorial's machine (``/SegNet/CamVid/...``), so
    only the file names are kept and resolved under ``root/<split>`` and ``root/<split>annot``.
    """
    if split not in CAMVID_SPLITS:
        raise ValueError(f"camvid: unknown split {split!r}; valid splits are {CAMVID_SPLITS}")
    list_file = root / f"{split}.txt"
    require_layout("camvid", root, [list_file, root / split, root / f"{split}annot"], CAMVID_LAYOUT)
    pairs = []
    for number, line in enumerate(list_file.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ValueError(
                f"{list_file}:{number}: expected '<image path> <annotation path>', got {line!r}"
            )
        pairs.append((root / split / Path(fields[0]).name, root / f"{split}annot" / Path(fields[1]).name))
    return pairs


def camvid_label_map() -> np.ndarray:
    """(256,) int64 lookup table: 0..10 kept, 11 (void) and 255 -> 255, anything else invalid."""
    label_map = identity_label_map(CAMVID_INFO.num_classes)
    label_map[CAMVID_VOID] = IGNORE_INDEX
    return label_map


def build_camvid(root: str | Path, split: str, transforms: Transforms | None = None) -> SegmentationFiles:
    """CamVid ``split`` under ``root`` (layout: ``CAMVID_LAYOUT``), 11 classes, ignore 255."""
    samples = camvid_samples(Path(root), split)
    return SegmentationFiles(CAMVID_INFO, samples, camvid_label_map(), transforms)
