"""The reproduction summary record: cells with mean, std, n and seeds; the machine."""

import pandas as pd
import pytest

from aicsd.study import record


def test_cells_summarise_each_group_label_and_student():
    runs = pd.DataFrame(
        {
            "group": ["main", "main", "main"],
            "label": ["aicsd", "aicsd", "none"],
            "backbone": ["resnet18"] * 3,
            "split": ["test"] * 3,
            "seed": [1, 0, 0],
            "miou": [0.5, 0.4, 0.3],
            "val_miou": [0.52, 0.42, 0.31],
        }
    )
    cells = record.cells(runs)
    assert cells[0]["miou_mean"] == pytest.approx(45.0)
    assert cells[0]["miou_std"] == pytest.approx(100 * pd.Series([0.5, 0.4]).std())
    assert cells[0]["seeds"] == [0, 1] and cells[0]["n"] == 2
    assert cells[1]["miou_std"] is None and cells[1]["val_miou_mean"] == pytest.approx(31.0)


def test_cpu_model_names_the_processor():
    assert isinstance(record.cpu_model(), str) and record.cpu_model()
