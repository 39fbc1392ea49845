"""Atomic file writes, checkpoints loadable with ``weights_only=True``, and RNG state capture.

A write goes to a temporary file in the target's directory, is flushed and fsync'ed, then moved
over the target with ``os.replace``: a crash at any point leaves either the old file or the new
one, never a torn file. The new file gets the permissions of any file the process creates
(``0o666`` less the umask), like ``metrics.jsonl``, which is appended to.

JSON is written strictly (:func:`strict_json`): a NaN (the IoU of a class absent from a split) is
``null``, so that every JSON parser reads the files; readers map it back to NaN where a number is
expected (:func:`aicsd.engine.runstore.read_result`), and still read older files with a bare ``NaN``.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import random
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from aicsd.errors import CorruptFileError

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "capture_rng_state",
    "creation_mode",
    "load_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
    "strict_json",
]


def creation_mode() -> int:
    """Permission bits of a file the process creates: ``0o666`` less the umask."""
    try:  # Linux: read it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | Path, writer: Callable[[IO[bytes]], None]) -> None:
    """Call ``writer(file)`` on a temporary file beside ``path``, then atomically replace ``path``.

    If ``writer`` raises, the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, creation_mode())  # mkstemp creates 0o600
        with os.fdopen(fd, "wb") as handle:
            writer(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(data))


def strict_json(obj: Any) -> Any:
    """``obj`` with every float that JSON cannot hold (NaN, +-inf) replaced by ``None`` (``null``),
    in nested dicts, lists and tuples; ``json.dumps(strict_json(obj), allow_nan=False)`` then succeeds."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: strict_json(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(value) for value in obj]
    return obj


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented strict JSON (keys sorted, NaN as ``null``: :func:`strict_json`) to ``path`` atomically."""
    text = json.dumps(strict_json(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode())


def capture_rng_state() -> dict[str, Any]:
    """RNG states of python, numpy, torch and CUDA as tensors and plain types (``weights_only``-safe)."""
    version, internal, gauss_next = random.getstate()
    bit_generator, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss_next": gauss_next},
        "numpy": {
            "bit_generator": bit_generator,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states are restored when CUDA is available)."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss_next"]))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["bit_generator"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, **state: Any) -> None:
    """Atomically ``torch.save`` the keyword ``state`` (plus the current RNG states) to ``path``.

    Typical keys: ``model``, ``optimizer``, ``scheduler``, ``scaler``, ``distiller`` (state dicts),
    ``epoch``, ``best_metric``. Values must be tensors, containers and plain types so the file
    loads under ``weights_only=True``; an ``rng`` key is added when absent.
    """
    state.setdefault("rng", capture_rng_state())
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def load_checkpoint(path: str | Path, map_location: torch.device | str | None = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Raises FileNotFoundError when ``path`` does not exist and CorruptFileError naming it when it is
    not a readable checkpoint (truncated, another format). A file holding objects ``weights_only``
    refuses (a pickle that could run code) gets a message of ours, never torch's advice on loading
    it anyway.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train the run first or check the path")
    with open(path, "rb") as handle:  # an error opening it (permissions) is not about its content
        try:
            state = torch.load(handle, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as error:
            text = str(error).lower()
            if "weights only" not in text:
                raise CorruptFileError(path, f"{path} is not a readable checkpoint ({_first_line(error)})") from None
            if "global" not in text:  # not a pickle torch can read at all; torch's text would advise an unsafe load
                raise CorruptFileError(path, f"{path} is not a readable checkpoint (not a file written by torch.save)") from None
            raise CorruptFileError(
                path,
                f"{path} is not a checkpoint saved by aicsd training: it holds objects other than tensors and plain "
                "values, which are never loaded (they could run code)",
            ) from None
        except Exception as error:  # a bad file: RuntimeError, OSError, EOFError, KeyError...
            raise CorruptFileError(path, f"{path} is not a readable checkpoint ({_first_line(error)})") from None
    if not isinstance(state, dict):
        raise CorruptFileError(path, f"{path} is not a readable checkpoint (it holds a {type(state).__name__}, not a dict)")
    return state


def _first_line(error: BaseException) -> str:
    """The first line of an error's message (at most 200 characters, terminal escapes removed)."""
    text = _ESCAPES.sub("", str(error)).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def evaluated_weights(state: dict[str, Any]) -> dict[str, Any]:
    """The network weights a run is evaluated with, from a checkpoint of :func:`save_checkpoint`:
    the exponential moving average of the weights when the run kept one (``ema``, see
    :class:`aicsd.engine.ema.WeightAverage`), else the trained weights (``model``)."""
    return state["ema"] if state.get("ema") is not None else state["model"]
