"""The named profiles as data, and :func:`load_profile`, which builds a run's config from one.

Every profile has the same shape (:class:`Profile`): the seeds each table cell averages over, the
ALW form of adaptive methods, and field values for every run, per dataset, and per kind of run
(teacher or student). Field values apply in that order over the :class:`RunConfig` defaults (the
``cpu`` student on a real dataset), then the caller's overrides.

- ``smoke``: the whole pipeline in seconds (a few tiny synthetic images, one epoch, narrow nets).
- ``cpu`` (the default): the CPU reproduction on the generated dataset (1,000 train / 300 val /
  300 test images of 64-96 px), 64-pixel crops with the shorter side drawn from 0.75-1.25 x the
  image's own (the released 0.5-2.0 shrinks the textures below what the networks can resolve:
  measured in the book's chapter "Sizing the mini scale"), evaluation at shorter side 64 with batch 1.
  Teacher: ResNet-101 at width 0.25, 12 epochs (1,500 steps). Students: ResNet-18 / MobileNetV2 at
  width 0.25, 3 epochs (375 steps, :data:`CPU_STUDENT_EPOCHS`) over the same training images with
  the same lr, crop and augmentation, evaluated after the last epoch only; their lr warms up
  linearly over the first 100 steps (:data:`CPU_STUDENT_WARMUP_STEPS`). Batch 8, lr 0.01 for both;
  ALW stepped per optimiser step (with 3 epochs the released per-epoch form would train the first
  third on KD alone). The students' shorter schedule is a budget compromise, not the paper's design (there,
  teacher and students share one recipe): the sizing chapter shows that at a shared schedule of
  1,000-2,000 steps the ResNet-18 student matches or beats every from-scratch ResNet-101 teacher,
  and that converged students do not fit the hour. Five seeds (0-4) for the main table, the
  components and the ICSD-variant ablations, three for the other ablations; the weight sweep
  (x1/16, x1 and x16 of each default, on each student: :data:`CPU_SWEEP_FACTORS`) runs on a
  tuning seed of its own (100), which no table reports.
  On the real datasets it keeps the recipe and scales the images so that thin classes (poles,
  signs, pedestrians) stay a few pixels wide: CamVid (360 x 480) is evaluated at shorter side 192
  (192 x 256) and trained on 160-pixel crops with the shorter side drawn from 0.75-1.5 x 192
  (144-288 px, 0.4-0.8 of the original); Cityscapes (1024 x 2048) at shorter side 256 (256 x 512),
  192-pixel crops, 0.75-1.5 x 256; VOC (about 500 x 375, large objects) at 128 with 128-pixel
  crops and the released 0.5-2.0. The training scale is relative to the shorter side an image
  has at evaluation (:func:`aicsd.data.train_transforms`). There the students train 4 epochs over
  at most 400 images (the :class:`RunConfig` defaults), the teacher 12 epochs over all of them (36
  on CamVid, :data:`CPU_CAMVID_TEACHER_EPOCHS`, where the sweep and the detail ablations are also
  smaller: :data:`CPU_CAMVID_SWEEP_FACTORS`).
  One intra-op thread: these networks are too small for a second thread to pay off, the numbers
  then do not depend on the machine's core count, and two runs side by side use two cores.
- ``paper``: the released code's recipe (the book's chapter "How to reproduce"): SGD momentum 0.9,
  weight decay 5e-4, poly LR (power 0.9) per iteration, 10x LR for ASPP + decoder, crop 513,
  ImageNet-pretrained backbones, full widths, ResNet-101 teacher, eval at shorter side 513 with
  batch 1. VOC: the released lr 0.007 is for batch 6; we train with batch 8 and scale it linearly
  to 0.007 * 8 / 6 = 0.00933, 120 epochs, on ``train_aug`` (VOC train + SBD). Cityscapes: lr 0.01
  at batch 8, 200 epochs. CamVid is not in the paper: it gets the Cityscapes recipe with 360-pixel
  crops; other datasets lr 0.01 and 120 epochs. Threads: torch's default (all cores).

Every profile reports a held-out test split where one with public labels is on disk: the
generated dataset's ``test`` always, CamVid's ``test`` when ``test.txt`` lies under the data root,
never for VOC and Cityscapes (their test labels are not public); ``test_split`` is then ``None``
and tables report the final ``val`` metrics, as the paper does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aicsd.data import DATASETS, labelled_test_split
from aicsd.engine.config import RunConfig
from aicsd.engine.identity import run_id
from aicsd.losses import MethodConfig, override_names, resolve
from aicsd.paths import DATA_ROOT

__all__ = [
    "CPU_CAMVID_SWEEP_FACTORS",
    "CPU_CAMVID_TEACHER_EPOCHS",
    "CPU_STUDENT_EPOCHS",
    "CPU_STUDENT_WARMUP_STEPS",
    "CPU_SWEEP_FACTORS",
    "PROFILES",
    "Profile",
    "load_profile",
    "seeds_of",
    "teacher_config",
]

Fields = Mapping[str, Any]


@dataclass(frozen=True)
class Profile:
    """A named recipe: seeds, ALW form, weight sweep, and field values for every run, per dataset and per kind.

    ``sweep_factors`` are the multiples of each method's default distillation weight tried, on each
    student, on the ``val`` split with the ``tuning_seeds`` before the tables are run (empty: the
    defaults are used as they are, as in the ``paper`` profile). Tuning seeds are never reporting
    seeds: a weight chosen on the runs that a table then reports would favour the tuned methods by
    the luck of those seeds. The ``cpu`` profile's
    reach x16 because ResNet-18 chose the largest weight of narrower ranges, and x1/16 because
    MobileNetV2, whose first steps take far larger gradients, collapsed under SP from x1/4 up (the
    main results chapter measures both). The main table and the components and ICSD-variant
    ablations use every seed; the other ablations (ALW form, temperature, ICSD weight) the first
    ``detail_seeds``.
    """

    name: str
    seeds: tuple[int, ...]
    alw_form: str
    sweep_factors: tuple[float, ...] = ()
    tuning_seeds: tuple[int, ...] = ()
    detail_seeds: int = 3
    every_run: Fields = field(default_factory=dict)
    per_dataset: Mapping[str, Fields] = field(default_factory=dict)
    teacher: Fields = field(default_factory=dict)
    student: Fields = field(default_factory=dict)
    teacher_per_dataset: Mapping[str, Fields] = field(default_factory=dict)
    sweep_factors_per_dataset: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    detail_seeds_per_dataset: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shared = sorted(set(self.tuning_seeds) & set(self.seeds))
        if shared:
            raise ValueError(f"profile {self.name!r}: tuning seeds {shared} are also reporting seeds; tune on other seeds")
        if self.sweep_factors and not self.tuning_seeds:
            raise ValueError(f"profile {self.name!r}: a weight sweep needs tuning_seeds")

    def fields(self, kind: str, dataset: str) -> dict[str, Any]:
        """The field values of a ``kind`` run on ``dataset`` (over the :class:`RunConfig` defaults):
        every run's, then the dataset's, then the kind's, then the teacher's on that dataset."""
        kind_fields = {**self.teacher, **self.teacher_per_dataset.get(dataset, {})} if kind == "teacher" else self.student
        return {**self.every_run, **self.per_dataset.get(dataset, {}), **kind_fields}

    def sweep_factors_on(self, dataset: str) -> tuple[float, ...]:
        """The weight sweep's factors on ``dataset`` (its own where the profile names some)."""
        return self.sweep_factors_per_dataset.get(dataset, self.sweep_factors)

    def detail_seeds_on(self, dataset: str) -> int:
        """How many of the seeds the detail ablations use on ``dataset``."""
        return self.detail_seeds_per_dataset.get(dataset, self.detail_seeds)


CPU_STUDENT_EPOCHS = 3
"""The ``cpu`` profile's students train 3 epochs (375 steps) on the generated set. Chosen on
``val`` (``benchmarks/variance_levers.py --set epochs=3``, the sizing chapter's recipe-lever table,
five seeds per cell, the cells at the weights the previous sweep chose): against 2 epochs it cut
the seed std of ResNet-18 + DIST, MobileNetV2 + DIST and MobileNetV2 + CWD to x0.31-0.47 and raised
every cell's mean by 2.5-12.6 points; MobileNetV2 + AD and + ICKD stayed wide (6.41 and 4.74).
Halving the lr instead (``--set lr=0.005``) narrowed 2 of the 6 cells, widened 4 and lowered 5 means. The third epoch is paid for
by a coarser sweep (:data:`CPU_SWEEP_FACTORS`)."""

CPU_SWEEP_FACTORS = (0.0625, 1.0, 16.0)
"""The ``cpu`` profile's weight sweep on the generated set: x1/16, x1 and x16 of each method's
default, on each student. The range is the one earlier sweeps needed (ResNet-18 chose the largest
weight of narrower ranges; MobileNetV2 collapsed under SP from x1/4 up); the x1/4 and x4 steps
between are dropped, which pays for the students' third epoch (:data:`CPU_STUDENT_EPOCHS`) within
the hour: one tuning seed gives a single run per weight, whose noise (a few points) is as large
as the differences between neighbouring factors."""

_CPU_PER_DATASET: Mapping[str, Fields] = MappingProxyType(
    {
        "synthetic": {"scale_range": (0.75, 1.25), "train_limit": None, "epochs": CPU_STUDENT_EPOCHS},
        "voc": {"crop_size": 128, "eval_size": 128},
        "cityscapes": {"crop_size": 192, "eval_size": 256, "scale_range": (0.75, 1.5)},
        "camvid": {"crop_size": 160, "eval_size": 192, "scale_range": (0.75, 1.5)},
    }
)
"""The ``cpu`` profile's per-dataset recipe: the generated set's scale range and student schedule,
the real datasets' image sizes (the teacher's own fields override ``epochs`` and ``train_limit``).
Evaluation keeps one image per batch everywhere: images differ in size, and padding a batch would
change predictions (ASPP's image pooling averages over the padding)."""

CPU_STUDENT_WARMUP_STEPS = 100
"""The ``cpu`` profile's students warm their lr up linearly over their first 100 steps.
Chosen on ``val`` (``benchmarks/variance_levers.py``, the sizing chapter's levers table, five
seeds per cell), when the students trained 250 steps: against no warm-up it cut the seed std of
the four cells measured to x0.29-0.58 (MobileNetV2 + KD 5.82 -> 1.69, ResNet-18 alone 3.15 -> 1.51
points) and raised their means; 50 steps cut it to x0.46-0.88 only. The teacher trains without:
one run, 1,500 steps."""

CPU_CAMVID_TEACHER_EPOCHS = 36
"""The ``cpu`` profile's teacher trains 36 epochs on CamVid (4,140 steps). Chosen on ``val``
(``benchmarks/teacher_edge.py``, ``benchmarks/results/teacher_edge-cpu-camvid.json``): against the
plain ResNet-18 student's 20.60 ± 1.76 % mIoU (three seeds), ResNet-101 at width 0.25 reached
23.82 % after 12 epochs (+3.22 points, too little to teach) and 34.08 % after 36 (+13.48); width
0.5 at 12 epochs reached 23.82 % as well. Training longer, not wider, gives the teacher its edge,
as on the generated set (1,500 teacher steps against the students' 250). Measured after the
choice: 24 epochs reach 32.85 % (+12.25), which clears the 5-point target too, for two thirds of
the 36-epoch teacher's training (one run of the reproduction's 160-odd)."""

CPU_CAMVID_SWEEP_FACTORS = (0.25, 1.0, 4.0)
"""On CamVid the ``cpu`` profile's weight sweep tries x1/4, x1 and x4 of each default, not the
generated set's five factors, and its detail ablations (ALW form, temperature, ICSD weight) run
on one seed, to fit the CamVid reproduction in about 150 min on 2 cores (its time is recorded in
``benchmarks/results/reproduce-cpu-camvid.json``): the previous one, with a 12-epoch
teacher, a three-factor sweep and three detail seeds, took 127 min (170-odd runs); five factors
and three detail seeds would add 48 student runs, the 36-epoch teacher about 10 min. Seeds are not
cut: the main table, the components and the ICSD variants keep all five."""

PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "smoke": Profile(
            "smoke",
            seeds=(0,),
            alw_form="epoch",
            sweep_factors=(0.25, 1.0, 4.0),
            tuning_seeds=(100,),
            detail_seeds=1,
            every_run={
                "epochs": 1,
                "batch_size": 4,
                "crop_size": 32,
                "eval_size": 32,
                "eval_batch_size": 4,
                "eval_every": 1,
                "train_limit": 8,
                "val_limit": 4,
                "width_multiplier": 0.125,
                "teacher_width_multiplier": 0.125,
                "teacher_backbone": "resnet18",
            },
        ),
        "cpu": Profile(
            "cpu",
            seeds=(0, 1, 2, 3, 4),
            alw_form="step",
            sweep_factors=CPU_SWEEP_FACTORS,
            tuning_seeds=(100,),
            per_dataset=_CPU_PER_DATASET,
            teacher={"backbone": "resnet101", "train_limit": None, "epochs": 12},
            student={"warmup_steps": CPU_STUDENT_WARMUP_STEPS},
            teacher_per_dataset={"camvid": {"epochs": CPU_CAMVID_TEACHER_EPOCHS}},
            sweep_factors_per_dataset={"camvid": CPU_CAMVID_SWEEP_FACTORS},
            detail_seeds_per_dataset={"camvid": 1},
        ),
        "paper": Profile(
            "paper",
            seeds=(0, 1, 2),
            alw_form="epoch",
            every_run={
                "width_multiplier": 1.0,
                "teacher_width_multiplier": 1.0,
                "teacher_backbone": "resnet101",
                "pretrained_backbone": True,
                "crop_size": 513,
                "eval_size": 513,
                "eval_batch_size": 1,
                "eval_every": 1,
                "batch_size": 8,
                "train_limit": None,
                "threads": None,
                "num_workers": 4,
                "lr": 0.01,
                "epochs": 120,
            },
            per_dataset={
                "voc": {"lr": 0.007 * 8 / 6, "epochs": 120, "train_split": "train_aug"},
                "cityscapes": {"lr": 0.01, "epochs": 200},
                "camvid": {"lr": 0.01, "epochs": 200, "crop_size": 360, "eval_size": 360},
            },
            teacher={"backbone": "resnet101"},
        ),
    }
)


def _profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    return PROFILES[name]


def load_profile(name: str = "cpu", **overrides: Any) -> RunConfig:
    """The :class:`RunConfig` of profile ``name`` with ``overrides`` applied.

    ``overrides`` are config fields (``epochs=3``), ``method=`` and the method's settings
    (``kd_weight=``, ``temperature=``, ``icsd_variant=``, ``alw=``...; see
    :func:`aicsd.losses.resolve`), which are resolved here into the config's ``distillation``.
    ``kind`` and ``dataset`` select the profile's teacher or student values and its per-dataset
    recipe; ``data_root`` defaults to ``<repo>/data/<dataset>``, ``test_split`` to the dataset's
    labelled test split when it is on disk under ``data_root`` (:func:`aicsd.data.labelled_test_split`),
    and a student's ``teacher_run`` (without ``teacher_checkpoint``) to the id of
    :func:`teacher_config`'s run, so that the config records the teacher it uses (when the data is
    not on disk yet, ``teacher_run`` stays None, which derives the same teacher later). Raises
    ValueError naming the valid choices for an unknown profile, field or setting.
    """
    profile = _profile(name)
    method_settings = set(override_names())
    config_fields = {f for f in RunConfig.__dataclass_fields__ if f != "profile"}
    unknown = sorted(set(overrides) - config_fields - method_settings - {"method"})
    if unknown:
        valid = sorted(config_fields | method_settings | {"method"})
        raise ValueError(f"unknown config field(s) {unknown}; valid: {', '.join(valid)}")
    if "profile" in overrides:
        raise ValueError("pass the profile as load_profile(name), not as an override")
    kind = overrides.get("kind", RunConfig.kind)
    dataset = overrides.get("dataset", RunConfig.dataset)
    values = {**profile.fields(kind, dataset), **{k: v for k, v in overrides.items() if k in config_fields}}
    values.setdefault("data_root", str(DATA_ROOT / dataset))
    if dataset in DATASETS:  # an unknown name is reported by RunConfig with the valid ones
        values.setdefault("test_split", labelled_test_split(dataset, values["data_root"]))
    settings = {k: v for k, v in overrides.items() if k in method_settings}
    method = overrides.get("method", "none")
    if "distillation" in overrides:
        if settings or "method" in overrides:
            raise ValueError("give either a resolved distillation or method= and its settings, not both")
    else:
        if kind == "teacher" and (method != "none" or settings):
            given = ", ".join(sorted({*settings, *(["method"] if method != "none" else [])}))
            raise ValueError(f"a teacher run trains with cross entropy only: {given} cannot be set for a teacher")
        values["distillation"] = resolve(method, alw_form=profile.alw_form, **settings)
    cfg = RunConfig(profile=name, **values)
    if cfg.uses_teacher and cfg.teacher_checkpoint is None and cfg.teacher_run is None:
        try:
            cfg = dataclasses.replace(cfg, teacher_run=run_id(teacher_config(cfg)))
        except FileNotFoundError:
            pass  # no data to fingerprint: neither run can start; training reports the missing data
    return cfg


def teacher_config(cfg: RunConfig) -> RunConfig:
    """The profile's teacher of a student ``cfg``: the run :func:`load_profile` records as the
    student's ``teacher_run`` unless the caller names a teacher run or a ``teacher_checkpoint``.

    It is the profile's teacher on the same dataset, data root, splits and image sizes, with the
    student config's teacher backbone and width and its execution settings; its seed is the
    profile's (one teacher serves every student seed).
    """
    shared = (
        "dataset",
        "data_root",
        "train_split",
        "val_split",
        "test_split",
        "crop_size",
        "scale_range",
        "eval_mode",
        "eval_size",
        "output_stride",
        "amp",
        "channels_last",
        "compile",
        "sync_bn",
        "deterministic",
        "device",
        "threads",
        "num_workers",
        "output_dir",
        "quiet",
    )
    return load_profile(
        cfg.profile,
        kind="teacher",
        backbone=cfg.teacher_backbone,
        width_multiplier=cfg.teacher_width_multiplier,
        **{name: getattr(cfg, name) for name in shared},
    )


def seeds_of(profile: str) -> tuple[int, ...]:
    """The seeds every cell of a table is averaged over in ``profile``."""
    return _profile(profile).seeds

