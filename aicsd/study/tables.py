"""The book's tables from collected runs: mean +- std over seeds, next to the paper's numbers.

Inputs are frames from :func:`aicsd.study.experiments.collect` (metrics as fractions); outputs are in %.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from aicsd.engine import PROFILES, load_profile, seeds_of
from aicsd.paths import BENCHMARK_RESULTS
from aicsd.results import mean_std_text, summarise
from aicsd.study import display, experiments, paper
from aicsd.study.display import Table
from aicsd.study.experiments import MAIN_METHODS, PAPER_METHODS, STUDENTS
from aicsd.study.record_files import record_name, weights_file

METRICS = {"miou": "mIoU", "pixel_accuracy": "pixel acc.", "mean_class_accuracy": "class acc."}


def _mean_std(values: pd.Series) -> tuple[float, float, int]:
    return 100 * values.mean(), 100 * values.std(ddof=1), int(values.count())


def summary(df: pd.DataFrame, by: list[str], metric: str = "miou") -> pd.DataFrame:
    """Mean, std (ddof 1) and n of ``metric`` in % per group of ``by``, in order of first appearance
    (:func:`aicsd.results.summarise`, as columns)."""
    table = summarise(df, by, metric, sort=False).reset_index()
    return table.assign(mean=100 * table["mean"], std=100 * table["std"])


def main_results(
    df: pd.DataFrame, teacher: dict[str, float], teacher_backbone: str, params: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The main table: one row per (student, method) with our mean ± std mIoU and pixel accuracy,
    the gain over the plain student, and the paper's Pascal VOC mIoU and gain beside them.

    ``teacher`` holds the teacher run's reported metrics (fractions); its row comes first, beside
    the paper's ResNet-101 teacher. ``params`` (:func:`aicsd.study.beside_paper.parameter_counts`)
    adds its width columns (millions of parameters) on the teacher's and each plain student's row.
    """
    voc = paper.voc_table()
    rows = [
        {
            "student": f"Teacher: {teacher_backbone}",
            "method": "",
            "ours mIoU": f"{100 * teacher['miou']:.2f}",
            "ours pixel acc.": f"{100 * teacher['pixel_accuracy']:.2f}",
            "ours gain": "",
            "paper mIoU (VOC)": f"{voc.loc[('resnet101', 'teacher'), 'miou']:.2f}",
            "paper gain": "",
        }
    ]
    for student in STUDENTS:
        part = df[df["backbone"] == student]
        baseline = 100 * part[part["method"] == "none"]["miou"].mean()
        paper_baseline = voc.loc[(student, "none"), "miou"]
        for method in MAIN_METHODS:
            runs = part[part["method"] == method]
            if runs.empty:
                continue
            mean, std, _ = _mean_std(runs["miou"])
            acc_mean, acc_std, _ = _mean_std(runs["pixel_accuracy"])
            in_paper = (student, method) in voc.index
            paper_mean, paper_std = voc.loc[(student, method), ["miou", "miou_std"]] if in_paper else (float("nan"), float("nan"))
            rows.append(
                {
                    "student": paper.STUDENTS[student],
                    "method": paper.METHOD_LABELS[method],
                    "ours mIoU": mean_std_text(mean, std),
                    "ours pixel acc.": mean_std_text(acc_mean, acc_std),
                    "ours gain": "" if method == "none" else f"{mean - baseline:+.2f}",
                    "paper mIoU (VOC)": mean_std_text(paper_mean, paper_std) if in_paper else "not in the paper",
                    "paper gain": "" if method == "none" or not in_paper else f"{paper_mean - paper_baseline:+.2f}",
                }
            )
    table = pd.DataFrame(rows)
    if params is None:
        return table
    for column in [c for c in params.columns if c.endswith("(M)")]:
        counts = {"": params.loc["teacher", column]} | {paper.STUDENTS[s]: params.loc[s, column] for s in STUDENTS if s in params.index}
        shown = [f"{counts[r.student if r.method else '']:.2f}" if r.method in ("", paper.METHOD_LABELS["none"]) else "" for r in table.itertuples()]
        table[f"params {column.removesuffix(' (M)')} (M)"] = shown
    return table


def main_numbers(df: pd.DataFrame, teacher: dict[str, float]) -> dict[str, float]:
    """The main table's numbers that the prose cites, by glue key (values in %): ``main_<student>_<method>_miou``
    and ``_std``, ``main_teacher_miou``, per student ``main_<student>_aicsd_gain`` (over the plain
    student), ``_teacher_gap``, ``_aicsd_vs_best_baseline``, and the paper's ``paper_<student>_aicsd_gain``
    and ``_teacher_gap`` (Pascal VOC). ``+`` in method names becomes ``plus``."""
    voc = paper.voc_table()["miou"]
    numbers = {"main_teacher_miou": 100 * float(teacher["miou"])}
    table = summary(df, ["backbone", "method"])
    for row in table.itertuples():
        key = f"main_{row.backbone}_{row.method}".replace("+", "plus")
        numbers[f"{key}_miou"] = float(row.mean)
        numbers[f"{key}_std"] = float(row.std)
    for student in STUDENTS:
        means = table[table["backbone"] == student].set_index("method")["mean"]
        numbers[f"main_{student}_aicsd_gain"] = float(means["aicsd"] - means["none"])
        numbers[f"main_{student}_teacher_gap"] = numbers["main_teacher_miou"] - float(means["none"])
        paper_baselines = means.reindex([m for m in PAPER_METHODS if m not in ("none", "aicsd")]).dropna()
        numbers[f"main_{student}_aicsd_vs_best_baseline"] = float(means["aicsd"] - paper_baselines.max())
        numbers[f"paper_{student}_aicsd_gain"] = float(voc[(student, "aicsd")] - voc[(student, "none")])
        numbers[f"paper_{student}_teacher_gap"] = float(voc[("resnet101", "teacher")] - voc[(student, "none")])
    return numbers


def glue_keys(table: pd.DataFrame, columns: list[str], prefix: str) -> dict[str, float]:
    """``{prefix_<col1>_<col2>...: mean}`` for each row of a :func:`summary` table, lower case, every
    character that is not a letter or digit replaced by ``_`` (keys the prose can cite)."""
    numbers = {}
    for _, row in table.iterrows():
        text = "_".join([prefix, *(str(row[c]) for c in columns)]).lower()
        numbers["".join(ch if ch.isalnum() else "_" for ch in text)] = float(row["mean"])
    return numbers


def ablation(df: pd.DataFrame, group: str) -> pd.DataFrame:
    """One ablation group (rows in order): mean ± std test mIoU and pixel accuracy, n seeds."""
    part = df[df["group"] == group]
    if part.empty:
        raise ValueError(f"no runs in ablation group {group!r}; groups: {', '.join(df['group'].unique())}")
    rows = []
    for label, runs in part.groupby("label", sort=False):
        mean, std, n = _mean_std(runs["miou"])
        acc_mean, acc_std, _ = _mean_std(runs["pixel_accuracy"])
        rows.append({"setting": label, "mIoU": mean_std_text(mean, std), "pixel acc.": mean_std_text(acc_mean, acc_std), "seeds": n})
    return pd.DataFrame(rows)


RECIPE_FIELDS = {
    "backbone": "backbone",
    "width_multiplier": "width",
    "pretrained_backbone": "ImageNet init",
    "epochs": "epochs",
    "batch_size": "batch",
    "lr": "lr (backbone)",
    "head_lr_multiplier": "head lr x",
    "momentum": "momentum",
    "weight_decay": "weight decay",
    "poly_power": "poly power",
    "crop_size": "crop",
    "scale_range": "scale range",
    "eval_mode": "eval protocol",
    "eval_size": "eval size",
    "train_split": "train split",
    "train_limit": "train images (limit)",
    "amp": "mixed precision (CUDA)",
}


def recipe(
    profiles: tuple[tuple[str, str], ...] = (("smoke", "synthetic"), ("cpu", "synthetic"), ("paper", "voc")),
) -> pd.DataFrame:
    """The training recipe of each (profile, dataset), read from the config objects (not typed by
    hand): one column per (profile, dataset, teacher/student), one row per setting, plus the seeds
    per cell."""
    columns = {}
    for profile, dataset in profiles:
        for kind in ("teacher", "student"):
            cfg = load_profile(profile, kind=kind, dataset=dataset)
            column = {label: getattr(cfg, field) for field, label in RECIPE_FIELDS.items()}
            column["seeds per cell"] = len(seeds_of(profile)) if kind == "student" else 1
            columns[(f"{profile} ({dataset})", kind)] = {
                k: f"{v:.4g}" if isinstance(v, float) else str(v) for k, v in column.items()
            }
    return pd.DataFrame(columns)




def benchmark_records(prefix: str, folder: Path = BENCHMARK_RESULTS) -> list[dict]:
    """Every ``<prefix>-*.json`` record in ``folder`` (one per device), sorted by file name."""
    return [json.loads(path.read_text()) for path in sorted(folder.glob(f"{prefix}-*.json"))]


def benchmark_table(record: dict) -> pd.DataFrame:
    """The rows of one benchmark record as a frame, with its device, threads and date as columns."""
    rows = pd.DataFrame(record["rows"])
    return rows.assign(device=record["device"], threads=record.get("threads"), date=record["date"][:10])


def weights_source(profile: str, dataset: str) -> str:
    """Where the tables' weights come from, as a sentence for the main results chapter: the committed
    record (its file and tuning seeds) or this reproduction's own sweep (its tuning seeds)."""
    committed = experiments.committed_record(profile, dataset)
    if committed is None:
        seeds = ", ".join(str(seed) for seed in PROFILES[profile].tuning_seeds)
        return f"This reproduction chose them from its own sweep (tuning seeds {seeds})"
    seeds = ", ".join(map(str, experiments.committed_seeds(committed)))
    return (
        f"They are committed with the book (`benchmarks/results/{weights_file(record_name(profile, dataset))}`, "
        f"chosen from tuning seeds {seeds}), so that every machine trains the same cells: one seed's val mIoU moves "
        "with the seed's luck and with the CPU's last bits, and a choice made anew by each machine had two machines "
        "train different recipes; a reproduction trains anew only the sweep rows probed for feature collapse below"
    )


def weight_sweep_table(sweep: pd.DataFrame, chosen: experiments.StudentWeights) -> Table:
    """The weight sweep for reading: per student, method and weight, the mean val mIoU (%) over the
    sweep's seeds, and which weight was chosen for that student
    (:func:`aicsd.study.experiments.chosen_weights`)."""
    rows = []
    tuned = sweep[sweep["method"] != "none"]
    for (backbone, swept, method), runs in tuned.assign(swept=tuned["label"].map(experiments.sweep_key)).groupby(
        ["backbone", "swept", "method"], sort=False
    ):
        key = f"{experiments.swept_term(method)}_weight"
        for weight, part in runs.groupby(key):
            rows.append(
                {
                    "student": paper.STUDENTS[backbone],
                    "method": paper.METHOD_LABELS.get(swept, swept).removeprefix("+ "),
                    "weight": f"{key.removesuffix('_weight')} {weight:.4g}",
                    "val mIoU": mean_std_text(100 * part["val_miou"].mean(), 100 * part["val_miou"].std(ddof=1)),
                    "seeds": ", ".join(str(seed) for seed in sorted(part["seed"])),
                    "chosen": "yes" if chosen.get(backbone, {}).get(swept, {}).get(key) == weight else "",
                }
            )
    return display.table(pd.DataFrame(rows))


def claims_view(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims ledger for reading: gain, its raw 95 % interval and the gain Holm's strictest step
    would call supported in mIoU points (fractions x 100) or, for other metrics, in their own units
    with three significant digits; the raw and Holm-adjusted p-values; n seeds; the verdict after
    the adjustment and the raw one (:func:`aicsd.study.claims.claims_table`)."""

    def text(value: float, metric: str) -> str:
        return f"{100 * value:+.2f}" if metric in METRICS else f"{value:+.3g}"

    def p_text(value: float) -> str:
        return "n/a" if pd.isna(value) else f"{value:.2g}" if value >= 0.001 else "< 0.001"

    metrics = claims["metric"]
    return pd.DataFrame(
        {
            "claim": claims["claim"],
            "metric": [METRICS.get(m, m.replace("_", " ")) for m in metrics],
            "paired gain": [text(g, m) for g, m in zip(claims["gain"], metrics, strict=True)],
            "95 % interval": [
                "n/a" if pd.isna(lo) else f"[{text(lo, m)}, {text(hi, m)}]" for lo, hi, m in zip(claims["ci_low"], claims["ci_high"], metrics, strict=True)
            ],
            "p": [p_text(v) for v in claims["p_value"]],
            "p (Holm)": [p_text(v) for v in claims["p_holm"]],
            "detectable": [text(abs(d), m).lstrip("+") if pd.notna(d) else "n/a" for d, m in zip(claims["detectable_gain"], metrics, strict=True)],
            "seeds": claims["n"],
            "verdict": claims["verdict"],
            "raw verdict": claims["raw_verdict"],
        }
    )


def collapsed_runs(df: pd.DataFrame, by: tuple[str, ...] = ("group", "label", "backbone"), metric: str = "miou") -> pd.DataFrame:
    """Runs that collapsed: below half of their cell's median ``metric`` (one bad seed), below half of
    the median of the plain students (``method == "none"``) of the same backbone, or with a non-zero
    IoU for one class at most (background everywhere: a whole collapsed cell, which its own median
    cannot show). Returns those rows (empty when none); the book lists them under the main table."""
    median = df.groupby(list(by), sort=False)[metric].transform("median")
    plain = df[df["method"] == "none"].groupby("backbone")[metric].median()
    plain_median = df["backbone"].map(plain)
    one_class = df["per_class_iou"].map(_predicts_one_class) if "per_class_iou" in df.columns else False
    return df[(df[metric] < 0.5 * median) | (df[metric] < 0.5 * plain_median) | one_class]


def _predicts_one_class(per_class_iou: object) -> bool:
    """Whether at most one class has a non-zero IoU (a network that predicts one class everywhere)."""
    if not isinstance(per_class_iou, (list, tuple)):
        return False
    return sum(1 for value in per_class_iou if value == value and value > 0) <= 1


LOSS_BENCHMARK_COLUMNS = ["device", "threads", "date", "shape", "implementation", "ms", "peak_mib", "speedup_vs_loop", "memory_vs_loop"]
STEP_BENCHMARK_COLUMNS = ["device", "preset", "date", "student", "recipe", "compiled", "images_per_second", "peak_mib", "loss_share", "speedup_vs_released", "memory_vs_released"]


def loss_benchmarks(folder: Path = BENCHMARK_RESULTS) -> pd.DataFrame:
    """Every ``bench_losses-*.json`` record as one table (ms, MiB); empty when none is recorded."""
    records = benchmark_records("bench_losses", folder)
    if not records:
        return pd.DataFrame(columns=LOSS_BENCHMARK_COLUMNS)
    table = pd.concat([benchmark_table(r) for r in records], ignore_index=True)
    table = table.assign(
        shape=table["shape"].map(lambda s: "x".join(map(str, s))),
        ms=1e3 * table["seconds"],
        peak_mib=table["peak_bytes"] / 2**20,
    )
    return table[LOSS_BENCHMARK_COLUMNS]


def step_benchmarks(folder: Path = BENCHMARK_RESULTS) -> pd.DataFrame:
    """Every ``bench_step-*.json`` record as one table (MiB); empty when none is recorded."""
    records = benchmark_records("bench_step", folder)
    if not records:
        return pd.DataFrame(columns=STEP_BENCHMARK_COLUMNS)
    table = pd.concat([benchmark_table(r).assign(preset=r["preset"]) for r in records], ignore_index=True)
    return table.assign(peak_mib=table["peak_bytes"] / 2**20)[STEP_BENCHMARK_COLUMNS]


def ics_pieces(folder: Path = BENCHMARK_RESULTS) -> pd.DataFrame:
    """Every ``bench_ics_matrix-*.json`` record (benchmarks/bench_ics_matrix.py) as one table: device
    (name and type), shape, piece of the ICSD loss and its forward+backward milliseconds; empty when none is recorded."""
    records = benchmark_records("bench_ics_matrix", folder)
    columns = ["device", "device_type", "date", "shape", "piece", "ms"]
    frames = [benchmark_table(r).assign(device_type=r["device_type"], shape="x".join(map(str, r["shape"]))) for r in records]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def paper_runs(folder: Path = BENCHMARK_RESULTS) -> tuple[pd.DataFrame, dict[str, list[dict]]]:
    """Every ``paper_run-*.json`` record (benchmarks/bench_paper_run.py): one row per run (device,
    network, recipe, steps, training images/s, peak GiB, wall s, final val mIoU %) and the per-epoch
    curves by run label (for :func:`aicsd.study.plots.training_curves`); empty when none is recorded."""
    rows, curves = [], {}
    for record in benchmark_records("paper_run", folder):
        for run in record["runs"]:
            label = f"{run['backbone']} {run['method']} ({record['device']})"
            steps = len(run["curve"]) * (record["data"]["train_images"] // run["batch_size"])  # the loader drops the last partial batch
            rows.append(
                {
                    "device": record["device"],
                    "date": record["date"][:10],
                    "network": f"{run['backbone']} x{run['width_multiplier']:g}",
                    "method": run["method"],
                    "crop": run["crop_size"],
                    "batch": run["batch_size"],
                    "epochs": run["epochs"],
                    "steps": steps,
                    "images/s": run["train_images_per_s"],
                    "peak GiB": run["peak_memory_bytes"] / 2**30 if run["peak_memory_bytes"] else float("nan"),
                    "wall s": run["wall_time_s"],
                    "val mIoU (%)": 100 * run["final_val"]["miou"],
                }
            )
            curves[label] = run["curve"]
    return pd.DataFrame(rows), curves


def sweep_beside_plain(sweep: pd.DataFrame, backbone: str, methods: list[str]) -> pd.DataFrame:
    """The sweep runs (collected :func:`aicsd.study.experiments.weight_sweep`, read on ``val``) of
    ``methods`` on ``backbone``, after that backbone's plain runs at the tuning seeds (label
    ``"none"``): the rows :func:`collapse_view` compares."""
    mine = sweep[sweep["backbone"] == backbone]
    return pd.concat([mine[mine["method"] == "none"], mine[mine["method"].isin(methods)]], ignore_index=True)


def collapse_view(probed: pd.DataFrame) -> pd.DataFrame:
    """Sweep runs of one student (collected, with the columns of
    :func:`aicsd.study.analysis.with_feature_collapse`) beside its plain runs (label ``"none"``), per
    row label: the swept weight, mean val mIoU (%) and, where the runs report another split (the
    held-out test split), its mean mIoU (%) too; collapsed runs (:func:`collapsed_runs` within the
    label) out of the label's runs; the mean feature cosine at the first and the last backbone stage,
    shared energy and last-BatchNorm ``|beta| / |gamma|``."""
    collapsed = probed.index.isin(collapsed_runs(probed, by=("label",)).index)
    by_label = probed.assign(collapsed=collapsed).groupby("label", sort=False)
    count = by_label["collapsed"].sum().astype(int)
    reported = probed["split"].iloc[0]
    scores = {"val mIoU (%)": 100 * by_label["val_miou"].mean()}
    if reported != "val":
        scores[f"{reported} mIoU (%)"] = 100 * by_label["miou"].mean()

    def weight(runs: pd.DataFrame) -> str:
        method = runs["method"].iloc[0]
        return "-" if method == "none" else f"{runs[f'{experiments.swept_term(method)}_weight'].iloc[0]:g}"

    return pd.DataFrame(
        {
            "weight": pd.Series({label: weight(runs) for label, runs in by_label}),
            **scores,
            "collapsed runs": count.astype(str) + " of " + by_label.size().astype(str),
            "stage-1 cosine": by_label["first_stage_cosine"].mean(),
            "stage-4 cosine": by_label["pairwise_cosine"].mean(),
            "shared energy": by_label["shared_energy"].mean(),
            "|β| / |γ|": by_label["bn_shift_ratio"].mean(),
        }
    )


def first_step_gradient_view(norms: dict[tuple[str, str], dict[str, float]]) -> pd.DataFrame:
    """First-step gradient norms (:func:`aicsd.study.analysis.first_step_gradients`), keyed by
    (backbone, method), one row per method: for each student of :data:`STUDENTS`, the norm of the
    method's swept term's gradient and that norm over cross entropy's; then the ratio of the term's
    norm on the second student to the first (how much harder the same weight pulls there)."""
    methods = list(dict.fromkeys(method for _, method in norms))
    names = {student: paper.STUDENTS[student].split(": ")[-1] for student in STUDENTS}
    first, second = STUDENTS
    rows = []
    for method in methods:
        term = experiments.swept_term(method)
        row = {"method": paper.METHOD_LABELS.get(method, method).removeprefix("+ ")}
        for student in STUDENTS:
            measured = norms[(student, method)]
            row[f"{names[student]} ‖∇ term‖"] = measured[term]
            row[f"{names[student]} term / CE"] = measured[term] / measured["ce"]
        row[f"{names[second]} / {names[first]}"] = norms[(second, method)][term] / norms[(first, method)][term]
        rows.append(row)
    return pd.DataFrame(rows)


def teacher_cache_benchmark(folder: Path = BENCHMARK_RESULTS) -> tuple[pd.DataFrame, dict | None]:
    """The ``bench_teacher_cache`` record (its newest, if several): one row per method with its
    seconds recomputing the teacher and sharing the cache, and their ratio; and the record itself
    (None, with an empty table, when none is recorded)."""
    records = benchmark_records("bench_teacher_cache", folder)
    if not records:
        return pd.DataFrame(columns=["method", "recompute s", "shared s", "recompute / shared"]), None
    record = max(records, key=lambda r: r["date"])
    seconds = {(row["phase"], row["method"]): row["seconds"] for row in record["rows"]}
    methods = list(dict.fromkeys(row["method"] for row in record["rows"]))
    table = pd.DataFrame(
        {
            "method": methods,
            "recompute s": [seconds[("recompute", m)] for m in methods],
            "shared s": [seconds[("shared", m)] for m in methods],
        }
    )
    return table.assign(**{"recompute / shared": table["recompute s"] / table["shared s"]}), record


CPU_OPTION_LABELS = {
    "decode": "images decoded once into memory (per batch of 8)",
    "compile": "torch.compile of the student (per step)",
    "vmap": "seeds stepped together by vmap (per seed-step)",
}


def cpu_options_benchmark(folder: Path = BENCHMARK_RESULTS) -> tuple[pd.DataFrame, dict | None]:
    """The ``bench_cpu_options`` record (its newest, if several): one row per option and student with
    the loop's milliseconds as it is, the option's, and their ratio (below 1: the option is faster);
    and the record itself (None, with an empty table, when none is recorded)."""
    columns = ["option", "student", "as is (ms)", "option (ms)", "option / as is"]
    records = benchmark_records("bench_cpu_options", folder)
    if not records:
        return pd.DataFrame(columns=columns), None
    record = max(records, key=lambda r: r["date"])
    rows = [
        {
            "option": CPU_OPTION_LABELS[row["option"]],
            "student": row["student"] or "-",
            "as is (ms)": 1e3 * row["baseline_s"],
            "option (ms)": 1e3 * row["option_s"],
            "option / as is": row["ratio"],
        }
        for row in record["rows"]
    ]
    return pd.DataFrame(rows, columns=columns), record


LEVER_WAYS = ("raw, val", "EMA, val", "raw, test", "EMA, test", "raw, val+test", "EMA, val+test")
"""How ``benchmarks/variance_levers.py`` scores each run: trained (raw) or averaged (EMA) weights, on
val, on test, or on both pooled."""


def lever_recipe(record: dict) -> str:
    """A lever record's changes to the profile's recipe other than the warm-up (``--data-variant``
    and ``--set`` of ``benchmarks/variance_levers.py``), as ``"data v4 candidate, epochs 3, lr
    0.005"``; empty for none."""
    data = [f"data {record['data_variant']}"] if record.get("data_variant") else []
    settings = [f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}" for name, value in record.get("overrides", {}).items()]
    return ", ".join(data + settings)


def variance_levers(folder: Path = BENCHMARK_RESULTS) -> tuple[pd.DataFrame, list[dict]]:
    """The ``variance_levers`` records (``benchmarks/variance_levers.py``; one per recipe tried):
    one row per record and cell with the lr warm-up it trained with, its other recipe changes
    (:func:`lever_recipe`), the distillation weight as a multiple of the method's default, and the
    mean ± std over seeds (mIoU %) of each way of scoring the same runs side by side, each with its
    std as a share of the raw std on the same split; and the records (an empty table and list when
    none is recorded). Records are ordered by warm-up, then recipe."""
    records = sorted(
        (json.loads(path.read_text()) for path in folder.glob("variance_levers-cpu*.json")),
        key=lambda r: (r.get("warmup_steps", 0), bool(r.get("tag")), lever_recipe(r)),
    )
    rows = []
    for record in records:
        for cell, ways in record["cells"].items():
            backbone, method_factor = cell.split(":")
            method, _, factor = method_factor.partition("*")
            row = {
                "warm-up steps": record.get("warmup_steps", 0),
                "recipe change": lever_recipe(record),
                "student": paper.STUDENTS[backbone],
                "method": paper.METHOD_LABELS[method],
                "weight": f"x{float(factor):g}" if factor else "default",
            }
            for way in LEVER_WAYS:
                scores = ways[way]
                row[way] = f"{mean_std_text(scores['mean'], scores['std'])} (x{scores['std_ratio']:.2f})"
            rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["warm-up steps", "recipe change", "student", "method", "weight"]), records


def lever_effects(records: list[dict], warmup_steps: int = 0) -> dict[str, float]:
    """The levers' effects on the seed std in the records of :func:`variance_levers`, as the sizing
    chapter cites them, judged on ``val`` where a recipe may be chosen: over the cells of the
    record without warm-up, the smallest and largest std ratio of the moving average to the raw
    weights on val (``ema_*``) and of the pooled val+test evaluation to the test split alone
    (``pooled_*``); for the record of a ``warmup_steps`` warm-up (the longest recorded when 0 or
    not recorded), over the cells both records hold, the raw val std with warm-up as a ratio of the
    std without (``warmup_*``, with the record's ``warmup_steps``). Only records that change the
    warm-up alone count here (no recipe change, no ``--tag``). NaN where a record is missing."""
    warmup_only = [r for r in records if not lever_recipe(r) and not r.get("tag")]
    plain = next((r for r in warmup_only if not r.get("warmup_steps")), None)
    warmed = sorted((r for r in warmup_only if r.get("warmup_steps")), key=lambda r: r["warmup_steps"])
    warm = next((r for r in warmed if r["warmup_steps"] == warmup_steps), warmed[-1] if warmed else None)
    effects = {key: float("nan") for key in ("ema_min", "ema_max", "pooled_min", "pooled_max", "warmup_min", "warmup_max", "warmup_steps")}
    if plain is not None:
        ema = [ways["EMA, val"]["std_ratio"] for ways in plain["cells"].values()]
        pooled = [ways["raw, val+test"]["std_ratio"] for ways in plain["cells"].values()]
        effects.update(ema_min=min(ema), ema_max=max(ema), pooled_min=min(pooled), pooled_max=max(pooled))
    if plain is not None and warm is not None:
        shared = sorted(set(plain["cells"]) & set(warm["cells"]))
        ratios = [warm["cells"][c]["raw, val"]["std"] / plain["cells"][c]["raw, val"]["std"] for c in shared]
        if ratios:
            effects.update(warmup_min=min(ratios), warmup_max=max(ratios), warmup_steps=float(warm["warmup_steps"]))
    return effects


def recipe_levers(records: list[dict]) -> pd.DataFrame:
    """The recipe levers of :func:`variance_levers` (records with a recipe change,
    :func:`lever_recipe`: ``--set`` settings or another generated set) beside the recipe they
    change: per record and cell, the val mIoU mean ± std over seeds of the record with the same
    warm-up and tag and no change (the profile's recipe, on the same cells and weights) and of the
    change, the change's std as a ratio of the recipe's (below 1: narrower) and its mean gain in
    points. Empty when no change has such a baseline."""
    rows = []
    for change in (r for r in records if lever_recipe(r)):
        base = next(
            (r for r in records if not lever_recipe(r) and r.get("tag", "") == change.get("tag", "") and r.get("warmup_steps", 0) == change.get("warmup_steps", 0)),
            None,
        )
        if base is None:
            continue
        for cell, ways in change["cells"].items():
            if cell not in base["cells"]:
                continue
            backbone, method_factor = cell.split(":")
            method, _, factor = method_factor.partition("*")
            before, after = base["cells"][cell]["raw, val"], ways["raw, val"]
            rows.append(
                {
                    "recipe change": lever_recipe(change),
                    "student": paper.STUDENTS[backbone],
                    "method": paper.METHOD_LABELS[method],
                    "weight": f"x{float(factor):g}" if factor else "default",
                    "profile's recipe (val)": mean_std_text(before["mean"], before["std"]),
                    "with the change (val)": mean_std_text(after["mean"], after["std"]),
                    "std ratio": after["std"] / before["std"],
                    "mean gain": after["mean"] - before["mean"],
                }
            )
    return pd.DataFrame(rows)
