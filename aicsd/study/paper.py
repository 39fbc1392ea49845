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


RELEASED_REPO = "github.com/AmirMansurian/AICSD"
"""The authors' released code, which :data:`RELEASED_RECIPE` cites file by file."""

NOT_STATED = "not stated"
"""A setting the paper's available text (abstract, README, method diagram) does not give."""

RECIPE_SETTINGS = (
    "networks (teacher / students)",
    "widths (teacher / student)",
    "ImageNet-pretrained backbones",
    "output stride",
    "batch (per process)",
    "lr (backbone; VOC)",
    "head lr multiplier",
    "momentum / weight decay",
    "poly power",
    "epochs (VOC)",
    "epoch 0",
    "crop",
    "scale range",
    "VOC label padding",
    "train split (VOC)",
    "evaluation",
    "reported epoch",
    "teacher during distillation",
    "ALW",
    "ICS softmax",
    "ICSD weight",
    "KD weight",
    "temperature",
    "loss scaling",
    "ICKD term",
    "seeds per cell",
)
"""The rows of the recipe comparison (:func:`aicsd.study.beside_paper.recipe_comparison`), in order."""

PAPER_RECIPE: dict[str, str] = {
    "networks (teacher / students)": "ResNet-101 / ResNet-18, MobileNetV2",
    "widths (teacher / student)": "1 / 1",
    "ImageNet-pretrained backbones": NOT_STATED,
    "output stride": NOT_STATED,
    "batch (per process)": NOT_STATED,
    "lr (backbone; VOC)": NOT_STATED,
    "head lr multiplier": NOT_STATED,
    "momentum / weight decay": NOT_STATED,
    "poly power": NOT_STATED,
    "epochs (VOC)": NOT_STATED,
    "epoch 0": NOT_STATED,
    "crop": NOT_STATED,
    "scale range": NOT_STATED,
    "VOC label padding": NOT_STATED,
    "train split (VOC)": NOT_STATED,
    "evaluation": NOT_STATED,
    "reported epoch": NOT_STATED,
    "teacher during distillation": "fixed",
    "ALW": "alpha grows with the epoch (exact form not stated)",
    "ICS softmax": "over H x W",
    "ICSD weight": "9500 (README)",
    "KD weight": "10 (README)",
    "temperature": NOT_STATED,
    "loss scaling": NOT_STATED,
    "ICKD term": "a baseline of both tables",
    "seeds per cell": "3 (an early README)",
}
"""The recipe as the paper states it: its abstract, method diagram and the README of the released
repository (which carries the paper's tables and run commands); the paper's full text was not
available. :data:`NOT_STATED` where none of them gives the setting."""

RELEASED_RECIPE: dict[str, str] = {
    "networks (teacher / students)": "ResNet-101 / ResNet-18, MobileNetV2",
    "widths (teacher / student)": "1 / 1",
    "ImageNet-pretrained backbones": "yes",
    "output stride": "16",
    "batch (per process)": "6",
    "lr (backbone; VOC)": "0.007",
    "head lr multiplier": "10",
    "momentum / weight decay": "0.9 / 0.0005",
    "poly power": "0.9",
    "epochs (VOC)": "50 (argparse default; the ALW line assumes 120)",
    "epoch 0": "trains nothing (its optimiser holds only unused adapters)",
    "crop": "513",
    "scale range": "0.5-2",
    "VOC label padding": "0 (background)",
    "train split (VOC)": "train, 1,464 images (--use-sbd crashes)",
    "evaluation": "shorter side 513, batch 1",
    "reported epoch": "best by val mIoU",
    "teacher during distillation": "train mode, autograd on",
    "ALW": "commented out: alpha = epoch / 120 (a literal 120); --ALW is not parsed",
    "ICS softmax": "over H only (dim=2)",
    "ICSD weight": "9500 via --pa_lambda, which weights another loss (ICSD is --lo_lambda)",
    "KD weight": "10 (--pi_lambda)",
    "temperature": "1 (hard-coded), no T^2",
    "loss scaling": "CE / B again; KD mean over B*C*H*W; ICSD / B twice",
    "ICKD term": "computed, never added to the loss",
    "seeds per cell": "1 (torch seed only)",
}
"""The recipe as the released code runs it (its training scripts' defaults and live lines)."""

RELEASED_SOURCES: dict[str, str] = {
    "networks (teacher / students)": "modeling/deeplab.py, train_kd.py",
    "widths (teacher / student)": "modeling/backbone/",
    "ImageNet-pretrained backbones": "modeling/backbone/resnet.py, mobilenet.py",
    "output stride": "train_kd.py (--out-stride)",
    "batch (per process)": "train_kd.py (--batch-size)",
    "lr (backbone; VOC)": "train_kd.py (--lr)",
    "head lr multiplier": "modeling/deeplab.py (get_10x_lr_params)",
    "momentum / weight decay": "train_kd.py",
    "poly power": "utils/lr_scheduler.py",
    "epochs (VOC)": "train_kd.py (--epochs; alpha = epoch/120)",
    "epoch 0": "train_kd.py (init_optimizer at epoch 0)",
    "crop": "train_kd.py (--base-size, --crop-size)",
    "scale range": "dataloaders/custom_transforms.py (RandomScaleCrop)",
    "VOC label padding": "dataloaders/custom_transforms.py (RandomScaleCrop fill=0)",
    "train split (VOC)": "dataloaders/__init__.py, dataloaders/datasets/pascal.py",
    "evaluation": "dataloaders/custom_transforms.py (FixedResize), train_kd.py",
    "reported epoch": "train_kd.py (is_best checkpoint)",
    "teacher during distillation": "distiller.py (t_net.train())",
    "ALW": "train_kd.py (commented lines); README (--ALW)",
    "ICS softmax": "distiller.py",
    "ICSD weight": "README; train_kd.py (--lo_lambda, --pa_lambda)",
    "KD weight": "README; distiller.py",
    "temperature": "distiller.py (self.temperature = 1)",
    "loss scaling": "utils/loss.py (batch_average), distiller.py",
    "ICKD term": "train_kd.py (ic_loss not in the sum)",
    "seeds per cell": "train_kd.py (--seed, torch.manual_seed)",
}
"""Where in the released repository (:data:`RELEASED_REPO`) each released setting is read."""
