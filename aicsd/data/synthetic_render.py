"""Draw one sample of the generated dataset: an RGB image and its label mask (numpy only).

A sample is a cluttered background (smooth colour field, faint texture, at most one
background-labelled distractor blob in object colours), two to four objects with their co-occurring
partners, drawn in a random order so they occlude each other, at radii from 6 px to ~40 % of the
short side, then uneven illumination and sensor noise. Contours get a 1-px ignore band (255), as
VOC's boundaries.

Generator version 3 made the task learnable within the mini scale's budget: texture periods of
8-11 px (4.5-6.5 before, which the 0.5x training scale aliased away), objects of radius 6 px or
more (4), noise of standard deviation 2-6 (4-12) and at most one distractor blob (three). The
book's chapter "Sizing the mini scale" shows the probes that chose it on the ``val`` split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aicsd.data.info import IGNORE_INDEX
from aicsd.data.synthetic_classes import (
    CO_OCCURRENCE,
    COLOURS,
    P_PARTNER,
    SYNTHETIC_CLASSES,
    TEXTURES,
)

MIN_RADIUS = 6.0
MAX_RADIUS_FRACTION = 0.42
TEXTURE_PERIOD_PX = (8.0, 11.0)
"""Range of a texture's period in pixels, drawn per object; it does not scale with the object."""
NOISE_SIGMA = (2.0, 6.0)
"""Range of the sensor noise's standard deviation (0..255 scale), drawn per image."""
MAX_DISTRACTORS = 1
"""Background-labelled blobs in object colours per image: 0..MAX_DISTRACTORS."""
TEXTURE_CONTRAST = (0.45, 0.6)
"""Range of the fraction by which a texture darkens its object's colour, drawn per object."""
COLOUR_GAIN = (0.85, 1.15)
"""Range of the factor on an object's class colour, drawn per object (before a shift of +-12 per channel)."""


@dataclass(frozen=True)
class _Object:
    label: int
    cx: float
    cy: float
    radius: float
    aspect: float
    angle: float


def _smooth_field(rng: np.random.Generator, height: int, width: int, cells: int, channels: int) -> np.ndarray:
    """Bilinear upsampling of a random (cells, cells, channels) grid in [0, 1] -> (H, W, channels)."""
    grid = rng.random((cells, cells, channels))
    wy = np.clip(1 - np.abs(np.linspace(0, cells - 1, height)[:, None] - np.arange(cells)), 0, None)
    wx = np.clip(1 - np.abs(np.linspace(0, cells - 1, width)[:, None] - np.arange(cells)), 0, None)
    return np.einsum("hi,ijc,wj->hwc", wy, grid, wx)


def _local_coords(obj: _Object, yy: np.ndarray, xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets from the object centre, rotated into the object's frame: (u, v), each (H, W)."""
    dx, dy = xx - obj.cx, yy - obj.cy
    cos, sin = np.cos(obj.angle), np.sin(obj.angle)
    return cos * dx + sin * dy, -sin * dx + cos * dy


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray, radius: float, aspect: float) -> np.ndarray:
    """(H, W) bool: pixels inside ``shape`` of circumradius ``radius`` stretched by ``aspect``."""
    su, sv = u / (radius * np.sqrt(aspect)), v * np.sqrt(aspect) / radius
    if shape == "disc":
        return su**2 + sv**2 <= 1.0
    if shape == "square":
        return np.maximum(np.abs(su), np.abs(sv)) <= 0.8
    if shape == "triangle":
        su, sv = su / 1.15, sv / 1.15
        return (sv <= 0.5) & (np.sqrt(3) * su - sv <= 1.0) & (-np.sqrt(3) * su - sv <= 1.0)
    if shape == "ring":
        rho = su**2 + sv**2
        return (rho <= 1.0) & (rho >= 0.55**2)
    if shape == "cross":
        au, av = np.abs(su), np.abs(sv)
        return ((au <= 0.32) & (av <= 1.0)) | ((av <= 0.32) & (au <= 1.0))
    raise ValueError(f"unknown shape {shape!r}")


def _texture(rng: np.random.Generator, texture: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(H, W) pattern in {0, 1} in the frame (u, v); its period (``TEXTURE_PERIOD_PX``) does not scale."""
    period = rng.uniform(*TEXTURE_PERIOD_PX)
    fu, fv = (u / period + rng.random()) % 1.0, (v / period + rng.random()) % 1.0
    if texture == "solid":
        return np.zeros_like(u)
    if texture == "stripes":
        return (fu < 0.5).astype(float)
    if texture == "checker":
        return ((np.floor(u / (0.6 * period)) + np.floor(v / (0.6 * period))) % 2).astype(float)
    if texture == "dots":
        return ((fu - 0.5) ** 2 + (fv - 0.5) ** 2 < 0.3**2).astype(float)
    if texture == "grid":
        return ((fu < 0.28) | (fv < 0.28)).astype(float)
    if texture == "speckle":
        return (rng.random(u.shape) < 0.45).astype(float)
    raise ValueError(f"unknown texture {texture!r}")


def _paint(
    rng: np.random.Generator,
    image: np.ndarray,
    region: np.ndarray,
    colour: tuple[int, int, int],
    pattern: np.ndarray,
    contrast: float,
) -> None:
    """Paint ``region`` (H, W) of ``image`` (H, W, 3) with a jittered ``colour`` darkened by ``pattern``."""
    rgb = np.asarray(colour, dtype=float) * rng.uniform(*COLOUR_GAIN) + rng.uniform(-12, 12, 3)
    shade = (1.0 - contrast * pattern[region])[:, None]
    image[region] = rgb[None, :] * shade


def _background(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Cluttered background (H, W, 3) float in 0..255: muted colour field, faint texture, blobs."""
    height, width = yy.shape
    field = 60 + 130 * _smooth_field(rng, height, width, int(rng.integers(2, 5)), 3)
    image = 0.55 * field.mean(axis=2, keepdims=True) + 0.45 * field
    image += 50 * (_smooth_field(rng, height, width, max(height, width) // 8, 1) - 0.5)
    if rng.random() < 0.5:
        frame = _Object(0, width / 2, height / 2, 1.0, 1.0, rng.uniform(0, np.pi))
        u, v = _local_coords(frame, yy, xx)
        pattern = _texture(rng, str(rng.choice(TEXTURES[1:])), u, v)
        image *= 1.0 - rng.uniform(0.1, 0.25) * pattern[..., None]
    colours = list(COLOURS.values())
    for _ in range(int(rng.integers(0, MAX_DISTRACTORS + 1))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        blob = np.zeros((height, width), dtype=bool)
        for _ in range(3):
            ex, ey = cx + rng.normal(0, 4), cy + rng.normal(0, 4)
            rx, ry = rng.uniform(3, 0.2 * min(height, width), 2)
            blob |= ((xx - ex) / rx) ** 2 + ((yy - ey) / ry) ** 2 <= 1.0
        texture = str(rng.choice(TEXTURES)) if rng.random() < 0.5 else "solid"
        u, v = _local_coords(_Object(0, cx, cy, 1.0, 1.0, rng.uniform(0, np.pi)), yy, xx)
        colour = colours[int(rng.integers(len(colours)))]
        _paint(rng, image, blob, colour, _texture(rng, texture, u, v), rng.uniform(*TEXTURE_CONTRAST))
    return image


def _sample_objects(rng: np.random.Generator, height: int, width: int, anchor: int) -> list[_Object]:
    """Objects in drawing order: 1-3 random ones (with partners), then the anchor on top."""
    partners = {a: (b, placement) for a, b, placement in CO_OCCURRENCE}
    max_radius = MAX_RADIUS_FRACTION * min(height, width)
    labels = [int(label) for label in rng.integers(1, len(SYNTHETIC_CLASSES) + 1, int(rng.integers(1, 4)))]
    groups = []
    for label in labels + [anchor]:
        radius = float(np.exp(rng.uniform(np.log(MIN_RADIUS), np.log(max_radius))))
        obj = _Object(
            label, rng.uniform(0, width), rng.uniform(0, height), radius,
            float(np.exp(rng.uniform(-0.3, 0.3))), rng.uniform(0, 2 * np.pi),
        )  # fmt: skip
        group = [obj]
        if label in partners and rng.random() < P_PARTNER:
            partner, placement = partners[label]
            if placement == "concentric":
                group.insert(0, _Object(partner, obj.cx, obj.cy, radius * rng.uniform(1.8, 2.2), 1.0, 0.0))
            else:
                r = max(MIN_RADIUS, radius * rng.uniform(0.6, 1.4))
                theta, dist = rng.uniform(0, 2 * np.pi), (radius + r) * rng.uniform(0.55, 0.9)
                group.append(
                    _Object(
                        partner, obj.cx + dist * np.cos(theta), obj.cy + dist * np.sin(theta), r,
                        float(np.exp(rng.uniform(-0.3, 0.3))), rng.uniform(0, 2 * np.pi),
                    )  # fmt: skip
                )
                if rng.random() < 0.5:
                    group.reverse()
        groups.append(group)
    order = rng.permutation(len(groups) - 1).tolist() + [len(groups) - 1]
    return [obj for g in order for obj in groups[g]]


def _mark_boundaries(mask: np.ndarray) -> np.ndarray:
    """Set a 1-px band along every label change to the ignore value; (H, W) uint8 -> (H, W) uint8."""
    edge = np.zeros(mask.shape, dtype=bool)
    edge[:, :-1] |= mask[:, 1:] != mask[:, :-1]
    edge[:-1, :] |= mask[1:, :] != mask[:-1, :]
    return np.where(edge, np.uint8(IGNORE_INDEX), mask)


def render_sample(
    rng: np.random.Generator, height: int, width: int, anchor: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one sample whose topmost object has class ``anchor`` (1..20).

    Returns:
        image: (H, W, 3) uint8 RGB.
        mask: (H, W) uint8, 0 = background, 1..20 = classes, 255 = contour band (ignore).
    """
    if not 1 <= anchor <= len(SYNTHETIC_CLASSES):
        raise ValueError(f"anchor must be a class id in 1..{len(SYNTHETIC_CLASSES)}, got {anchor}")
    yy, xx = np.mgrid[0:height, 0:width].astype(float)
    image = _background(rng, yy, xx)
    mask = np.zeros((height, width), dtype=np.uint8)
    for obj in _sample_objects(rng, height, width, anchor):
        cls = SYNTHETIC_CLASSES[obj.label - 1]
        u, v = _local_coords(obj, yy, xx)
        region = _shape_mask(cls.shape, u, v, obj.radius, obj.aspect)
        pattern = _texture(rng, cls.texture, u, v)
        _paint(rng, image, region, COLOURS[cls.colour], pattern, rng.uniform(*TEXTURE_CONTRAST))
        mask[region] = obj.label
    image *= 0.8 + 0.4 * _smooth_field(rng, height, width, 2, 1)
    image += rng.normal(0.0, rng.uniform(*NOISE_SIGMA), image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), _mark_boundaries(mask)
