"""What the paper reports, beside what this project has: the recipe as stated, as released and as the
profiles run it; parameter counts; the Cityscapes table with the nearest measured stand-in; per-class
IoU of every network of the main table; the runs behind the qualitative grid.

The paper's and the released code's facts are data in :mod:`aicsd.study.paper`; the profiles' side is
read from :data:`aicsd.engine.PROFILES` and :func:`aicsd.engine.load_profile`, never typed by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aicsd.data.info import IGNORE_INDEX
from aicsd.engine import PROFILES, RunConfig, load_profile, read_metrics, run_dir
from aicsd.losses import resolve
from aicsd.models import build_segmenter
from aicsd.paths import BENCHMARK_RESULTS
from aicsd.results import mean_std_text, mean_where_present
from aicsd.study import experiments, paper
from aicsd.study.analysis import predictions
from aicsd.study.compare import reference_record
from aicsd.study.display import Table, table
from aicsd.study.experiments import MAIN_METHODS, STUDENTS

__all__ = [
    "BACKBONE_NAMES",
    "cityscapes_beside_ours",
    "learning_curves",
    "main_table_networks",
    "parameter_counts",
    "per_class_gain",
    "per_class_iou",
    "predictions",
    "profile_recipe",
    "recipe_comparison",
    "recipe_differences",
    "recipe_view",
    "reproduce_command",
    "summary_record",
]

BACKBONE_NAMES = {"resnet101": "ResNet-101", "resnet18": "ResNet-18", "mobilenet_v2": "MobileNetV2"}

PAPER_COLUMN = "paper (as stated)"
RELEASED_COLUMN = "released code (as run)"
SOURCE_COLUMN = f"released file ({paper.RELEASED_REPO})"

ALW_TEXT = {
    "off": "off",
    "epoch": "alpha = epoch / epochs, per epoch",
    "step": "alpha = step / (steps - 1), per optimiser step",
}
"""How :func:`aicsd.losses.alw_alpha` computes alpha for each ALW form, in the recipe table's words."""

ICS_SOFTMAX = {"paper": "over H x W", "official": "over H only (dim=2)"}
"""The softmax axis of each ICSD variant (:mod:`aicsd.losses.icsd`, :mod:`aicsd.losses.icsd_official`)."""

ENGINE_RECIPE = {
    "epoch 0": "trains the student",
    "reported epoch": "final (test split where labelled)",
    "loss scaling": "means over pixels; released weights x B / C (KD), x B (ICSD)",
}
"""Settings that :mod:`aicsd.engine` and :mod:`aicsd.losses` fix for every profile: every epoch trains
the student (:mod:`aicsd.engine.fit`), tables report the final weights, and the losses are plain
pixel means with the released weights converted (:mod:`aicsd.losses.weights`)."""


DATASET_NAMES = {"camvid": "CamVid", "cityscapes": "Cityscapes", "voc": "Pascal VOC", "synthetic": "generated"}
PROFILE_SCALES = {"smoke": "smoke scale", "cpu": "mini scale", "paper": "paper scale"}
"""How a column names a summary record's dataset and the scale of its profile."""


def _name(backbone: str) -> str:
    return BACKBONE_NAMES.get(backbone, backbone)


def profile_recipe(profile: str, dataset: str) -> dict[str, str]:
    """The recipe of ``profile`` on ``dataset`` in the rows of :data:`aicsd.study.paper.RECIPE_SETTINGS`,
    read from its student and teacher configs and its :class:`aicsd.engine.Profile` (the AICSD and
    ICKD terms resolved with the profile's ALW form)."""
    settings = PROFILES[profile]
    student = load_profile(profile, dataset=dataset)
    teacher = load_profile(profile, kind="teacher", dataset=dataset)
    aicsd = resolve("aicsd", alw_form=settings.alw_form)
    icsd, kd = aicsd.term("icsd"), aicsd.term("kd")
    ickd = resolve("ickd").term("ickd")
    factors = settings.sweep_factors_on(dataset)
    committed = experiments.committed_record(profile, dataset)
    seeds = ", ".join(map(str, experiments.committed_seeds(committed))) if committed else ""
    tuned = f"; tuned on val over x{min(factors):g}-x{max(factors):g}" if factors else ""
    tuned += f" (committed: tuning seeds {seeds})" if committed else ""
    epochs = str(student.epochs) if student.epochs == teacher.epochs else f"{teacher.epochs} (teacher) / {student.epochs} (students)"
    low, high = student.scale_range
    limit = f", at most {student.train_limit} images (students)" if student.train_limit else ""
    evaluation = f"shorter side {student.eval_size}" if student.eval_mode == "released" else f"{student.eval_mode} resolution"
    recipe = {
        "networks (teacher / students)": f"{_name(teacher.backbone)} / {', '.join(_name(s) for s in STUDENTS)}",
        "widths (teacher / student)": f"{student.teacher_width_multiplier:g} / {student.width_multiplier:g}",
        "ImageNet-pretrained backbones": "yes" if student.pretrained_backbone else "no",
        "output stride": str(student.output_stride),
        "batch (per process)": str(student.batch_size),
        "lr (backbone; VOC)": f"{student.lr:.3g}",
        "head lr multiplier": f"{student.head_lr_multiplier:g}",
        "momentum / weight decay": f"{student.momentum:g} / {student.weight_decay:g}",
        "poly power": f"{student.poly_power:g}",
        "epochs (VOC)": epochs,
        "crop": str(student.crop_size),
        "scale range": f"{low:g}-{high:g}",
        "VOC label padding": f"{IGNORE_INDEX} (ignore)",
        "train split (VOC)": f"{student.train_split}{limit}",
        "evaluation": f"{evaluation}, batch {student.eval_batch_size}",
        "teacher during distillation": "train mode" if student.teacher_train_mode else "eval mode, no gradients",
        "ALW": ALW_TEXT[aicsd.alw],
        "ICS softmax": ICS_SOFTMAX[icsd.variant],
        "ICSD weight": f"{icsd.weight:.3g} ({icsd.variant} variant){tuned}",
        "KD weight": f"{kd.weight:.3g}{tuned}",
        "temperature": f"{kd.temperature:g}, KD x T^2",
        "ICKD term": f"added, weight {ickd.weight:g}",
        "seeds per cell": str(len(settings.seeds)),
        **ENGINE_RECIPE,
    }
    return {setting: recipe[setting] for setting in paper.RECIPE_SETTINGS}


def recipe_comparison(profiles: Sequence[tuple[str, str]] = (("paper", "voc"), ("cpu", "synthetic"))) -> pd.DataFrame:
    """One row per setting (:data:`aicsd.study.paper.RECIPE_SETTINGS`): the paper as stated, the
    released code as run (:data:`aicsd.study.paper.PAPER_RECIPE`, :data:`~aicsd.study.paper.RELEASED_RECIPE`),
    then each (profile, dataset) of ``profiles`` (:func:`profile_recipe`), and the released file each
    released value is read from."""
    columns = {PAPER_COLUMN: paper.PAPER_RECIPE, RELEASED_COLUMN: paper.RELEASED_RECIPE}
    for profile, dataset in profiles:
        columns[f"`{profile}` profile ({dataset})"] = profile_recipe(profile, dataset)
    columns[SOURCE_COLUMN] = paper.RELEASED_SOURCES
    frame = pd.DataFrame({name: [values[s] for s in paper.RECIPE_SETTINGS] for name, values in columns.items()})
    return frame.set_axis(pd.Index(paper.RECIPE_SETTINGS, name="setting"))


def recipe_differences(recipe: pd.DataFrame) -> pd.DataFrame:
    """True for each cell of a :func:`recipe_comparison` that departs from the released code's cell of
    its row (the source column and cells the paper leaves :data:`~aicsd.study.paper.NOT_STATED` never do)."""
    compared = recipe.drop(columns=[SOURCE_COLUMN])
    differs = compared.ne(compared[RELEASED_COLUMN], axis=0) & compared.ne(paper.NOT_STATED)
    return differs.assign(**{SOURCE_COLUMN: False})[recipe.columns]


def recipe_view(recipe: pd.DataFrame) -> Table:
    """A :func:`recipe_comparison` for reading: each cell that departs from the released code in bold
    (:func:`recipe_differences`), and a column naming, per row, the columns that depart."""
    differs = recipe_differences(recipe)
    shown = recipe.where(~differs, "**" + recipe + "**")
    departing = [", ".join(c for c in recipe.columns if row[c]) for _, row in differs.iterrows()]
    return table(shown.assign(**{"departs from the released code": departing}), index="setting")


@functools.lru_cache(maxsize=None)
def _count(backbone: str, num_classes: int, width: float) -> int:
    model = build_segmenter(backbone, num_classes, width_multiplier=width)
    return sum(p.numel() for p in model.parameters())


def parameter_counts(profile: str, dataset: str, reference: tuple[str, str] = ("paper", "voc")) -> pd.DataFrame:
    """Parameters (millions) of the teacher and each student built with :mod:`aicsd.models`: at the
    widths and class count of the ``reference`` (profile, dataset) (the paper's: full width, VOC's
    21 classes) and at those of ``profile`` on ``dataset``. Index ``"teacher"`` and the students'
    backbones; columns ``backbone``, ``paper width (M)``, ``<profile> width (M)``."""
    rows = []
    for role in ("teacher", *STUDENTS):
        counts = {}
        for name, data in (reference, (profile, dataset)):
            cfg = load_profile(name, dataset=data)
            backbone = cfg.teacher_backbone if role == "teacher" else role
            width = cfg.teacher_width_multiplier if role == "teacher" else cfg.width_multiplier
            counts[name] = (backbone, _count(backbone, cfg.num_classes, width) / 1e6)
        rows.append(
            {
                "role": role,
                "backbone": counts[profile][0] if counts[profile][0] == counts[reference[0]][0] else f"{counts[reference[0]][0]} ({reference[0]}) / {counts[profile][0]} ({profile})",
                f"{reference[0]} width (M)": counts[reference[0]][1],
                f"{profile} width (M)": counts[profile][1],
            }
        )
    return pd.DataFrame(rows).set_index("role")


def reproduce_command(profile: str, dataset: str) -> str:
    """The command that runs the book's notebooks with ``profile`` on ``dataset`` (see the Makefile)."""
    return f"make reproduce PROFILE={profile} DATASET={dataset} DATA_ROOT=<path to {dataset}>"


def summary_record(profile: str, dataset: str, folder: Path = BENCHMARK_RESULTS) -> dict[str, Any]:
    """The committed summary record of ``profile`` on ``dataset`` (:func:`aicsd.study.compare.reference_record`);
    FileNotFoundError naming the profile and dataset when none is committed."""
    record = reference_record(profile, dataset, folder)
    if record is None:
        raise FileNotFoundError(f"no summary record of the {profile} profile on {dataset} in {folder}")
    return record


def _teacher_miou(record: Mapping[str, Any]) -> float:
    """The teacher's mIoU of a summary record in %: records that state their ``units`` hold every
    mIoU in %; older ones held the cells in % and the teacher's metrics as fractions."""
    value = float(record["teacher"]["miou"])
    return value if "units" in record else 100 * value


def cityscapes_beside_ours(record: Mapping[str, Any]) -> pd.DataFrame:
    """The paper's Cityscapes val table (mIoU, its "accuracy" column and the gain over the plain
    student) beside the nearest measured stand-in: the main-table cells (mean ± std mIoU over seeds,
    and the gain) of ``record``, a summary record (:func:`summary_record`) of a real dataset, and a
    column saying that this project has not run Cityscapes. Rows: teacher, then each student x
    :data:`~aicsd.study.experiments.MAIN_METHODS`."""
    cityscapes = paper.cityscapes_table()
    cells = {(c["backbone"], c["label"]): c for c in record["cells"] if c["group"] == "main"}
    scale = PROFILE_SCALES.get(record["profile"], record["profile"])
    where = f"{DATASET_NAMES.get(record['dataset'], record['dataset'])} {record['cells'][0]['split']}, {record['profile']} profile ({scale})"
    ours, ours_gain = f"{where}: mIoU", f"{where}: gain"
    teacher = cityscapes.loc[("resnet101", "teacher")]
    rows = [
        {
            "network": "Teacher: ResNet-101",
            "method": "",
            "paper mIoU": f"{teacher['miou']:.2f}",
            "paper acc. (class acc.)": f"{teacher['accuracy']:.2f}",
            "paper gain": "",
            "this project on Cityscapes": "not run here",
            ours: f"{_teacher_miou(record):.2f}",
            ours_gain: "",
        }
    ]
    for student in STUDENTS:
        base = cells.get((student, "none"))
        for method in MAIN_METHODS:
            cell = cells.get((student, method))
            in_paper = (student, method) in cityscapes.index
            values = cityscapes.loc[(student, method)] if in_paper else None
            gain = values["miou"] - cityscapes.loc[(student, "none"), "miou"] if in_paper else None
            std = cell["miou_std"] if cell and cell["miou_std"] is not None else float("nan")
            rows.append(
                {
                    "network": paper.STUDENTS[student],
                    "method": paper.METHOD_LABELS[method],
                    "paper mIoU": f"{values['miou']:.2f}" if in_paper else "not in the paper",
                    "paper acc. (class acc.)": f"{values['accuracy']:.2f}" if in_paper else "",
                    "paper gain": f"{gain:+.2f}" if in_paper and method != "none" else "",
                    "this project on Cityscapes": "not run here",
                    ours: mean_std_text(cell["miou_mean"], std) if cell else "",
                    ours_gain: f"{cell['miou_mean'] - base['miou_mean']:+.2f}" if cell and base and method != "none" else "",
                }
            )
    return pd.DataFrame(rows)


def _per_class(values: object, num_classes: int) -> np.ndarray:
    """A stored per-class IoU (list with NaN or None for absent classes; None for a run without one)
    as a float array, NaN where absent."""
    if values is None or (isinstance(values, float) and np.isnan(values)):
        return np.full(num_classes, np.nan)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _network_label(backbone: str, method: str) -> str:
    label = paper.METHOD_LABELS.get(method, method).replace("Student", "student").removesuffix(" (beyond the paper)")
    return f"{_name(backbone)} {label}"


def per_class_iou(results: pd.DataFrame, teacher_iou: Sequence[float | None], class_names: Sequence[str]) -> pd.DataFrame:
    """Per-class IoU (%) of the teacher and of every (student, method) of ``results`` (collected main
    table runs, column ``per_class_iou``), the mean over seeds of each class where present (NaN or
    None in a run: absent from its split). Rows: classes; columns: ``"teacher"``, then
    ``"<student> student"``, ``"<student> + KD"``, ... in the order of ``results``."""
    count = len(class_names)
    columns = {"teacher": 100 * _per_class(teacher_iou, count)}
    for (backbone, method), runs in results.groupby(["backbone", "method"], sort=False):
        values = np.stack([_per_class(v, count) for v in runs["per_class_iou"]])
        columns[_network_label(backbone, method)] = 100 * mean_where_present(values)
    return pd.DataFrame(columns, index=pd.Index(list(class_names), name="class"))


def per_class_gain(results: pd.DataFrame, class_names: Sequence[str], treatment: str = "aicsd", control: str = "none") -> pd.DataFrame:
    """The paired per-class gain (IoU points) of ``treatment`` over ``control`` for each student: per
    seed that both ran, treatment minus control, then the mean over those seeds (a class absent in
    either run of a seed is left out of that seed). Rows: classes; one column per student, named
    ``"<student>"``; ``attrs["seeds"]`` maps each column to the seeds paired."""
    count = len(class_names)
    columns, seeds = {}, {}
    for backbone in STUDENTS:
        part = results[results["backbone"] == backbone]
        treated = part[part["method"] == treatment].set_index("seed")["per_class_iou"]
        plain = part[part["method"] == control].set_index("seed")["per_class_iou"]
        paired = sorted(set(treated.index) & set(plain.index))
        if not paired:
            continue
        gains = np.stack([_per_class(treated[s], count) - _per_class(plain[s], count) for s in paired])
        columns[_name(backbone)] = 100 * mean_where_present(gains)
        seeds[_name(backbone)] = paired
    frame = pd.DataFrame(columns, index=pd.Index(list(class_names), name="class"))
    frame.attrs["seeds"] = seeds
    return frame


def main_table_networks(
    profile: str,
    *,
    backbone: str = "resnet18",
    seed: int = 0,
    dataset: str = "synthetic",
    data_root: str | None = None,
    device: str = "auto",
    weights: experiments.StudentWeights | None = None,
) -> dict[str, RunConfig]:
    """The teacher and the main table's runs of ``backbone`` at ``seed`` (one per method of
    :data:`~aicsd.study.experiments.MAIN_METHODS`, with the table's ``weights``), keyed by the labels
    the qualitative grid shows (``"teacher"``, ``"student"``, ``"+ KD"``, ...)."""
    place = {"dataset": dataset, "data_root": data_root, "device": device}
    runs = experiments.main_table(profile, **place, seeds=[seed], weights=weights)
    chosen = {"teacher": experiments.teacher_run(profile, **place)}
    for run in runs:
        if run.config.backbone == backbone:
            chosen[paper.METHOD_LABELS[run.label].replace("Student", "student").removesuffix(" (beyond the paper)")] = run.config
    return chosen


def learning_curves(networks: Mapping[str, RunConfig]) -> dict[str, list[dict[str, Any]]]:
    """Each student's per-epoch records (``metrics.jsonl``) of ``networks`` (e.g.
    :func:`main_table_networks`; the teacher, trained on another schedule, left out), keyed as
    ``networks``, for :func:`aicsd.study.plots.training_curves`."""
    return {name: read_metrics(run_dir(config)) for name, config in networks.items() if config.kind != "teacher"}
