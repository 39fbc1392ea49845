"""The dataset content digest equals the shell's sha256sum pipeline and pins the generated images."""

import shutil
import subprocess

import pytest

from aicsd.data import make_synthetic
from aicsd.data.digest import content_digest

SMALL_SET_DIGEST = "f909cccf4d260ce3f555435f2020844692e7e2ad9384fe63d2e887cb01e524ff"
"""The digest of ``make_synthetic(num_train=4, num_val=2, num_test=2, image_size=(32, 40))``: a
numpy, Pillow or generator change that draws other images fails here instead of moving the book."""


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("digest"), num_train=4, num_val=2, num_test=2, image_size=(32, 40))


def test_the_digest_is_the_shell_pipelines(small_set):
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum (coreutils) is not installed")
    shell = subprocess.run(
        "find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum", shell=True, cwd=small_set, capture_output=True, text=True, check=True
    )
    assert content_digest(small_set) == shell.stdout.split()[0]


def test_the_generated_images_are_pinned(small_set):
    assert content_digest(small_set) == SMALL_SET_DIGEST


def test_a_changed_byte_changes_the_digest(small_set, tmp_path):
    copy = shutil.copytree(small_set, tmp_path / "copy")
    before = content_digest(copy)
    image = next(p for p in sorted(copy.rglob("*.png")))
    data = bytearray(image.read_bytes())
    data[-1] ^= 1
    image.write_bytes(bytes(data))
    assert content_digest(copy) != before
    with pytest.raises(FileNotFoundError, match="no dataset folder"):
        content_digest(tmp_path / "absent")
