"""The qualitative grid's fixed choices: evenly spaced images, tiles shrunk to the stored size."""

import torch

from aicsd.study import experiments, qualitative


def test_grid_images_are_the_centres_of_equal_parts_of_the_split():
    assert qualitative.grid_indices(101) == [12, 37, 63, 88]
    assert qualitative.grid_indices(8, 2) == [2, 6]
    assert qualitative.grid_indices(3) == [0, 1, 2]


def test_tiles_shrink_to_the_stored_size_and_labels_stay_labels():
    image = torch.rand(3, 360, 480)
    mask = torch.randint(0, 11, (1, 360, 480))
    mask[0, :10] = 255
    assert qualitative._fit(image, labels=False).shape == (3, 120, qualitative.TILE_PX)
    shrunk = qualitative._fit(mask, labels=True)
    assert shrunk.shape == (1, 120, qualitative.TILE_PX) and shrunk.dtype == mask.dtype
    assert set(shrunk.unique().tolist()) <= set(mask.unique().tolist())
    small = torch.rand(3, 32, 40)
    assert qualitative._fit(small, labels=False) is small


def test_missing_data_is_a_sentence_naming_the_split_and_root(tmp_path):
    teacher = experiments.teacher_run("smoke", dataset="camvid", data_root=str(tmp_path / "camvid"))
    assert qualitative.data_missing(teacher) == f"the val split of camvid is not on disk under {tmp_path / 'camvid'}"
