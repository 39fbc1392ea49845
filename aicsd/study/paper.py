"""The numbers the paper reports (README of the released code, mIoU and accuracy in %).

Source: the tables of the README of the authors' released repository (github AmirMansurian/AICSD),
which the paper's abstract summarises. Pascal VOC 2012 val gives mean +- std (presumably over 3 seeds); Cityscapes
val gives single numbers and an "accuracy" that fits mean class accuracy better than pixel accuracy.
Used to print the paper's columns next to ours; nothing here is computed.
"""

from __future__ import annotations

import pandas as pd

STUDENTS = {"resnet18": "S1: ResNet-18", "mobilenet_v2": "S2: MobileNetV2"}
METHOD_LABELS = {
    "none": "Student",
    "kd": "+ KD",
    "ad": "+ AD",
    "sp": "+ SP",
    "ickd": "+ ICKD",
    "aicsd": "+ AICSD",
    "icsd": "+ ICSD",
    "icsd+kd": "+ ICSD + KD",
    "cwd": "+ CWD (beyond the paper)",
    "dist": "+ DIST (beyond the paper)",
}

_VOC = {
    ("resnet101", "teacher"): (77.85, None),
    ("resnet18", "none"): (67.50, None),
    ("resnet18", "kd"): (69.13, 0.11),
    ("resnet18", "ad"): (68.95, 0.26),
    ("resnet18", "sp"): (69.04, 0.10),
    ("resnet18", "ickd"): (69.13, 0.17),
    ("resnet18", "aicsd"): (70.03, 0.13),
    ("mobilenet_v2", "none"): (63.92, None),
    ("mobilenet_v2", "kd"): (66.39, 0.21),
    ("mobilenet_v2", "ad"): (66.27, 0.17),
    ("mobilenet_v2", "sp"): (66.32, 0.05),
    ("mobilenet_v2", "ickd"): (67.01, 0.10),
    ("mobilenet_v2", "aicsd"): (68.05, 0.24),
}
_CITYSCAPES = {
    ("resnet101", "teacher"): (77.66, 84.05),
    ("resnet18", "none"): (64.09, 74.80),
    ("resnet18", "kd"): (65.21, 76.32),
    ("resnet18", "ad"): (65.29, 76.27),
    ("resnet18", "sp"): (65.64, 76.90),
    ("resnet18", "ickd"): (66.98, 77.48),
    ("resnet18", "aicsd"): (68.46, 78.30),
    ("mobilenet_v2", "none"): (63.05, 73.38),
    ("mobilenet_v2", "kd"): (64.03, 75.34),
    ("mobilenet_v2", "ad"): (63.72, 74.79),
    ("mobilenet_v2", "sp"): (64.22, 75.28),
    ("mobilenet_v2", "ickd"): (65.55, 76.48),
    ("mobilenet_v2", "aicsd"): (66.53, 76.96),
}
PARAMS_M = {"resnet101": 59.3, "resnet18": 16.6, "mobilenet_v2": 5.9}


def voc_table() -> pd.DataFrame:
    """Pascal VOC 2012 val: rows (backbone, method), columns ``miou``, ``miou_std`` (NaN if none)."""
    rows = [
        {"backbone": b, "method": m, "miou": v, "miou_std": float("nan") if s is None else s}
        for (b, m), (v, s) in _VOC.items()
    ]
    return pd.DataFrame(rows).set_index(["backbone", "method"])


def cityscapes_table() -> pd.DataFrame:
    """Cityscapes val: rows (backbone, method), columns ``miou`` and ``accuracy``."""
    rows = [{"backbone": b, "method": m, "miou": v, "accuracy": a} for (b, m), (v, a) in _CITYSCAPES.items()]
    return pd.DataFrame(rows).set_index(["backbone", "method"])
