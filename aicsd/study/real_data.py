"""The real-data chapter's views of a summary record (:mod:`aicsd.study.record`), so that the chapter
renders from the committed record alone, without the dataset or the runs.

:func:`chapter_record` picks the record (the reproduction running the chapter, when it is one of the
chapter's dataset, else the committed one); the other functions turn its fields into the chapter's
tables and figures' inputs: :func:`main_table` (mean ± std over seeds of the reported split, with
the gain over the plain student), :func:`ledger` (the claims as the ledger chapter shows them),
:func:`per_class_table` and :func:`per_class_gains` (classes x networks, in %), :func:`curves` (per
network, the per-epoch records :func:`aicsd.study.plots.training_curves` draws), :func:`narrow_classes`
and :func:`grid` (the stored qualitative grid beside the record, or one drawn afresh from the runs
when the data and the runs are on this machine).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aicsd.paths import BENCHMARK_RESULTS
from aicsd.study import experiments, paper, qualitative, tables
from aicsd.study.beside_paper import BACKBONE_NAMES
from aicsd.study.record import TEACHER, reproduction_summary
from aicsd.study.record_files import qualitative_file, record_name, teacher_edge_file
from aicsd.study.results_section import claims_frame, record_runs, select_record

__all__ = [
    "LEARNT_IOU",
    "NARROW_CLASSES",
    "TEACHER_EDGE_TARGET",
    "Grid",
    "chapter_record",
    "curves",
    "grid",
    "ledger",
    "main_table",
    "narrow_classes",
    "per_class_gains",
    "per_class_table",
    "teacher_choice",
    "teacher_edge_table",
]

NARROW_CLASSES = ("pole", "sign_symbol", "pedestrian", "bicyclist")
"""The thin or small classes of CamVid where a teacher's knowledge of class relations should show
first, if anywhere (the issue that asked for the chapter, and the paper's motivation)."""
LEARNT_IOU = 5.0
"""The IoU (%) below which the chapter says a network does not segment a class at all."""


def chapter_record(profile: str, dataset: str, running: str, data_root: str | None = None) -> tuple[dict[str, Any], str]:
    """The summary record of ``profile`` on ``dataset`` and a phrase saying where it comes from.

    When the reproduction running the chapter is of ``dataset`` itself (``running == dataset``) its
    runs have all finished by then, and the record is built from them
    (:func:`aicsd.study.record.reproduction_summary`); otherwise it is the reader's own record of
    that reproduction when ``make reproduce`` wrote one, else the committed one
    (:func:`aicsd.study.results_section.select_record`; FileNotFoundError when neither exists).
    """
    if running == dataset:
        return reproduction_summary(profile, dataset, data_root), "this reproduction's runs"
    return select_record(profile, dataset)


def _cell_key(entry: dict[str, Any]) -> str:
    """A column title for a per-class or curve entry: ``"teacher (ResNet-101)"`` or ``"ResNet-18 + AICSD"``."""
    if entry["group"] == TEACHER:
        return f"teacher ({BACKBONE_NAMES.get(entry['backbone'], entry['backbone'])})"
    return f"{BACKBONE_NAMES[entry['backbone']]} {paper.METHOD_LABELS[entry['label']]}"


def main_table(record: dict[str, Any]) -> pd.DataFrame:
    """The main table of ``record`` (mean ± std mIoU and pixel accuracy over seeds in %, gain over
    the plain student in points), without the paper's Pascal VOC columns: a real dataset's numbers
    sit beside the paper's own real-data table instead (:func:`aicsd.study.beside_paper.cityscapes_beside_ours`)."""
    teacher = {key: record["teacher"][key] / 100 for key in ("miou", "pixel_accuracy")}
    table = tables.main_results(record_runs(record), teacher, record["teacher_backbone"])
    return table[[c for c in table.columns if not c.startswith("paper")]]


def ledger(record: dict[str, Any]) -> pd.DataFrame:
    """The claims of ``record`` (Holm-adjusted family) as the claims chapter shows them."""
    return tables.claims_view(claims_frame(record["claims"]))


def per_class_table(record: dict[str, Any], methods: Sequence[str] = ("none", "kd", "aicsd")) -> pd.DataFrame:
    """IoU per class (%, mean over seeds): rows the record's classes, columns the teacher and each
    student with each of ``methods`` (NaN where a class is absent from the split)."""
    columns = {
        _cell_key(entry): entry["mean"]
        for entry in record["per_class"]
        if entry["group"] == TEACHER or entry["label"] in methods
    }
    frame = pd.DataFrame(columns, index=pd.Index(record["class_names"], name="class"), dtype=float)
    return frame


def per_class_gains(record: dict[str, Any], methods: Sequence[str] = experiments.MAIN_METHODS[1:]) -> pd.DataFrame:
    """Gain of each method over the plain student in IoU per class (points, mean over the paired
    seeds): rows the classes, columns ``"<student> <method>"`` (``"ResNet-18 + AICSD"``) for both students."""
    entries = {(e["backbone"], e["label"]): e for e in record["per_class"] if e["group"] == experiments.MAIN_GROUP}
    columns = {}
    for student in experiments.STUDENTS:
        plain = entries.get((student, "none"))
        for method in methods:
            cell = entries.get((student, method))
            if plain is None or cell is None:
                continue
            base = dict(zip(plain["seeds"], np.array(plain["values"], dtype=float)))
            paired = [np.array(values, dtype=float) - base[seed] for seed, values in zip(cell["seeds"], cell["values"]) if seed in base]
            columns[_cell_key(cell)] = np.nanmean(np.stack(paired), axis=0) if paired else np.full(len(record["class_names"]), np.nan)
    return pd.DataFrame(columns, index=pd.Index(record["class_names"], name="class"), dtype=float)


def narrow_classes(record: dict[str, Any], student: str = experiments.ABLATION_STUDENT) -> pd.DataFrame:
    """For the record's classes among :data:`NARROW_CLASSES`: the IoU (%) of the teacher, the plain
    ``student`` and the ``student`` with AICSD, and AICSD's paired gain (points)."""
    names = [name for name in NARROW_CLASSES if name in record["class_names"]]
    ious = per_class_table(record, ("none", "aicsd"))
    gains = per_class_gains(record, ("aicsd",))
    teacher = next(c for c in ious.columns if c.startswith("teacher"))
    plain, aicsd = (_cell_key({"group": experiments.MAIN_GROUP, "backbone": student, "label": method}) for method in ("none", "aicsd"))
    return pd.DataFrame(
        {
            "teacher IoU": ious.loc[names, teacher],
            "student IoU": ious.loc[names, plain],
            "AICSD student IoU": ious.loc[names, aicsd],
            "AICSD gain": gains.loc[names, aicsd],
        }
    )


def curves(record: dict[str, Any], backbones: Sequence[str] | None = None, methods: Sequence[str] | None = None) -> dict[str, list[dict[str, float]]]:
    """The record's learning curves as :func:`aicsd.study.plots.training_curves` takes them: per
    network (the teacher, or a main-table cell of ``backbones`` x ``methods``, all when None) the
    per-epoch records (``epoch``, ``train_loss``, ``train_ce``, ``val_miou`` in %), NaN entries dropped."""
    out = {}
    for entry in record["curves"]:
        if entry["group"] != TEACHER and (
            (backbones is not None and entry["backbone"] not in backbones) or (methods is not None and entry["label"] not in methods)
        ):
            continue
        keys = [k for k in entry if k not in ("group", "label", "backbone", "seeds", "epoch")]
        out[_cell_key(entry)] = [
            {"epoch": epoch, **{k: entry[k][i] for k in keys if entry[k][i] is not None and not np.isnan(entry[k][i])}}
            for i, epoch in enumerate(entry["epoch"])
        ]
    return out


@dataclass(frozen=True)
class Grid:
    """A qualitative grid to show: the PNG, its sidecar's fields, and how it came to be (a sentence)."""

    image: Path
    sidecar: dict[str, Any]
    origin: str


def grid(profile: str, dataset: str, data_root: str | None, *, redraw_to: Path, folder: Path = BENCHMARK_RESULTS) -> Grid:
    """The qualitative grid of ``profile`` on ``dataset``: drawn afresh into ``redraw_to`` from this
    machine's runs when the ``val`` split is on disk under ``data_root`` and the grid's runs have
    finished (:func:`aicsd.study.qualitative.write_grid`), else the one stored beside the committed
    record in ``folder`` (FileNotFoundError naming it when there is none either)."""
    place = {"dataset": dataset, "data_root": data_root}
    missing = qualitative.data_missing(experiments.teacher_run(profile, **place))
    reason = missing
    if missing is None:
        try:
            weights = experiments.tuned_weights(profile, **place, train=False)
            sidecar = qualitative.write_grid(qualitative.grid_networks(profile, weights=weights, **place), redraw_to)
            return Grid(redraw_to, json.loads(sidecar.read_text()), f"drawn from this machine's runs and {data_root}")
        except FileNotFoundError as error:
            reason = str(error)
    stored = folder / qualitative_file(record_name(profile, dataset))
    if not stored.is_file():
        raise FileNotFoundError(f"no qualitative grid stored at {stored}, and none could be drawn here: {reason}")
    sidecar = json.loads(qualitative.sidecar_path(stored).read_text())
    return Grid(stored, sidecar, f"stored with the committed record ({stored.name}); not drawn here: {reason}")


def teacher_edge_table(dataset: str, profile: str = "cpu", folder: Path = BENCHMARK_RESULTS) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The teacher recipes ``benchmarks/teacher_edge.py`` tried on ``dataset`` (its committed record
    ``teacher_edge-<profile>-<dataset>.json``), one row each, fewest epochs and narrowest first:
    network, width, epochs, val mIoU (%), edge over the plain ResNet-18 student's mean (points) and
    training wall time (s); with the record. FileNotFoundError naming the record when it is missing."""
    path = folder / teacher_edge_file(record_name(profile, dataset))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run benchmarks/teacher_edge.py --dataset {dataset} first")
    record = json.loads(path.read_text())
    rows = [
        {
            "teacher": BACKBONE_NAMES.get(t["backbone"], t["backbone"]),
            "width": t["width"],
            "epochs": t["epochs"],
            "val mIoU (%)": t["val_miou"],
            "edge over the student (points)": t["edge_over_student"],
            "training (s)": t["train_wall_s"],
        }
        for t in record["teachers"]
    ]
    return pd.DataFrame(rows).sort_values(["epochs", "width"], ignore_index=True), record


TEACHER_EDGE_TARGET = 5.0
"""The val mIoU points a real dataset's teacher must be ahead of the plain ResNet-18 student for the
students to have something to learn: below it every gain sits within the seed spreads."""


def teacher_choice(edges: pd.DataFrame, epochs: int, width: float, target: float = TEACHER_EDGE_TARGET) -> dict[str, Any]:
    """The profile's teacher (``epochs`` at ``width``) among the recipes of :func:`teacher_edge_table`,
    and the cheapest recipe tried whose edge reaches ``target`` (fewest epochs, then narrowest; None
    when none does): ``chosen_edge``, ``cheapest_epochs``, ``cheapest_width``, ``cheapest_edge`` and
    ``chosen_is_cheapest``. KeyError when the profile's teacher is not among the recipes."""
    chosen = edges[(edges["epochs"] == epochs) & (edges["width"] == width)]
    if chosen.empty:
        raise KeyError(f"the teacher-edge record has no recipe of {epochs} epochs at width {width:g}: rerun benchmarks/teacher_edge.py with it")
    enough = edges[edges["edge over the student (points)"] >= target]
    cheapest = enough.iloc[0] if not enough.empty else None
    return {
        "chosen_edge": float(chosen["edge over the student (points)"].iloc[0]),
        "cheapest_epochs": None if cheapest is None else int(cheapest["epochs"]),
        "cheapest_width": None if cheapest is None else float(cheapest["width"]),
        "cheapest_edge": None if cheapest is None else float(cheapest["edge over the student (points)"]),
        "chosen_is_cheapest": cheapest is not None and (int(cheapest["epochs"]), float(cheapest["width"])) == (epochs, width),
    }
