"""The 21 classes of the generated dataset: five shape families of four classes plus background.

Each family f has one shape, a base colour, a near colour and a signature texture:

1. base: shape f, base colour, solid;
2. texture twin: shape f, base colour, texture f (differs from 1 by texture only);
3. colour twin: shape f, near colour, solid (differs from 1 by a close colour only);
4. look-alike: shape f with the colour and texture of family f+1's texture twin (differs from
   that class by shape only).

So every class has a same-shape/other-texture, a same-shape/near-colour and a
same-look/other-shape neighbour: inter-class similarity has a designed structure. Ring and disc
also merge when small (the hole vanishes), and co-occurring pairs tie classes across families.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from aicsd.data.info import DatasetInfo, voc_palette

SHAPES = ("disc", "square", "triangle", "ring", "cross")
TEXTURES = ("solid", "stripes", "checker", "dots", "grid", "speckle")

COLOURS = MappingProxyType(
    {
        "red": (200, 40, 40),
        "orange": (230, 125, 35),
        "blue": (40, 75, 205),
        "violet": (125, 60, 200),
        "green": (45, 155, 60),
        "lime": (140, 195, 45),
        "yellow": (230, 210, 55),
        "gold": (200, 150, 40),
        "magenta": (200, 45, 165),
        "pink": (240, 140, 190),
    }
)


@dataclass(frozen=True)
class SyntheticClass:
    """One object class.

    Attributes:
        label: mask value, 1..20.
        name: ``<colour>_<shape>`` or ``<colour>_<texture>_<shape>``.
        family: 1..5; one shape per family.
        shape, colour, texture: appearance (keys of ``SHAPES``, ``COLOURS``, ``TEXTURES``).
        role: "base", "texture twin", "colour twin" or "look-alike" (see the module docstring).
    """

    label: int
    name: str
    family: int
    shape: str
    colour: str
    texture: str
    role: str


_FAMILIES = (
    # shape, base colour, near colour, signature texture
    ("disc", "red", "orange", "stripes"),
    ("square", "blue", "violet", "checker"),
    ("triangle", "green", "lime", "dots"),
    ("ring", "yellow", "gold", "grid"),
    ("cross", "magenta", "pink", "speckle"),
)


def _make_classes() -> tuple[SyntheticClass, ...]:
    classes = []
    for f, (shape, colour, near, texture) in enumerate(_FAMILIES):
        _, next_colour, _, next_texture = _FAMILIES[(f + 1) % len(_FAMILIES)]
        members = (
            (colour, "solid", "base"),
            (colour, texture, "texture twin"),
            (near, "solid", "colour twin"),
            (next_colour, next_texture, "look-alike"),
        )
        for k, (c, t, role) in enumerate(members):
            name = f"{c}_{shape}" if t == "solid" else f"{c}_{t}_{shape}"
            classes.append(SyntheticClass(1 + 4 * f + k, name, f + 1, shape, c, t, role))
    return tuple(classes)


SYNTHETIC_CLASSES = _make_classes()
"""The 20 object classes, label ids 1..20 (0 is background)."""

CO_OCCURRENCE: tuple[tuple[int, int, str], ...] = (
    (1, 13, "concentric"),  # red disc inside a yellow ring: a bullseye
    (6, 11, "adjacent"),  # blue checker square beside lime triangle
    (7, 18, "adjacent"),  # violet square beside magenta speckle cross
    (10, 19, "adjacent"),  # green dotted triangle beside pink cross
    (15, 3, "adjacent"),  # gold ring beside orange disc
)
"""Pairs (a, b, placement): when class a is drawn, class b joins it with probability P_PARTNER."""

P_PARTNER = 0.75

SYNTHETIC_INFO = DatasetInfo(
    "synthetic",
    1 + len(SYNTHETIC_CLASSES),
    ("background",) + tuple(c.name for c in SYNTHETIC_CLASSES),
    voc_palette(1 + len(SYNTHETIC_CLASSES)),
)
