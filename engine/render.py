"""Rendering of complex objects: the screen's colour maps and levels, PNG export (numpy + PIL).

The one place that decides how an object looks, on screen and in a file: amplitude through
``viridis`` scaled between the 0.5th and 99.5th percentile of the finite pixels, phase through
the cyclic ``CET-C1`` over [-pi, pi] (a 2 pi wrap shows no seam), never-illuminated pixels
(NaN) black. The GUI draws with pyqtgraph's maps of the same names; :func:`colour_table` holds
their 256-entry tables so the engine's PNGs match the screen without Qt. Exported pictures of
``NAME.h5`` (or ``NAME.png``) are ``NAME-amplitude.png`` and ``NAME-phase.png``
(:func:`png_paths`); a run folder keeps the fixed names ``amplitude.png`` and ``phase.png``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .atomic import atomic_path

LINEAR_MAP = "viridis"
CYCLIC_MAP = "CET-C1"
PHASE_LEVELS = (-float(np.pi), float(np.pi))
LEVEL_PERCENTILES = (0.5, 99.5)

# 256 RGB colours per map, hex. viridis: matplotlib's map (CC0, van der Walt & Smith);
# CET-C1: Peter Kovesi's perceptually uniform cyclic map (CC BY 4.0), as pyqtgraph ships them.
_TABLES = {
    LINEAR_MAP: (
        "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668"
        "48176948186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979"
        "472a7a472c7a472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84"
        "433d84433e85423f854240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a"
        "3d4e8a3c4f8a3c508b3b518b3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d"
        "355e8d355f8d34608d34618d33628d33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e"
        "2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e"
        "297b8e287c8e287d8e277e8e277f8e27808e26818e26828e26828e25838e25848e25858e24868e24878e23888e"
        "23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d21918c20928c20928c20938c1f948c1f958b1f968b"
        "1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f881fa0881fa1881fa1871fa28720a38620a486"
        "21a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad8128ae8029af7f2ab07f2cb17e2db27d"
        "2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc743fbc7340bd7242be7144bf70"
        "46c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc8635ec96260ca6063cb5f"
        "65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d84d44b86d549"
        "89d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32addc30"
        "b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a"
        "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723"
        "fde725"
    ),
    CYCLIC_MAP: (
        "f985f8fa84f6fb83f3fc82f1fc81eefd7febfd7de8fd7ce5fd7ae2fd78defd76dbfc74d7fc72d4fb70d0fb6dcc"
        "fa6bc8fa69c5f967c1f864bdf862b9f760b5f65db1f55baef458aaf356a6f354a2f1519ff04f9bef4d97ee4a93"
        "ed4890ec468cea4388e94184e83f81e63d7de53b79e33975e13771e0356dde336adc3166db2f62d92d5ed72c5a"
        "d52a56d32853d1264fcf244bcd2347cb2144c91f40c71e3cc61c39c41b35c21931c0182ebe172bbd1727bb1624"
        "ba1721b9171eb8181bb71a18b61b16b51d14b51f11b5210fb5230db5260bb5290ab62b08b62e07b73106b83306"
        "b83605b93905ba3b05bb3e04bc4104bd4304be4604bf4804c04b04c14d04c25004c35204c45404c55705c65905"
        "c75c05c85e05c96005ca6305ca6505cb6805cc6a05cd6c05ce6e05ce7105cf7305d07605d07805d17a05d17d05"
        "d27f04d28204d38404d38604d48804d48b04d58d04d59004d59204d69405d69605d69806d69b07d79d08d79f0a"
        "d6a00cd6a20fd6a412d5a515d5a718d4a81cd2a91fd1aa23d0aa27ceab2bccab2fcaab33c7aa37c5aa3bc2a93f"
        "bfa943bca846b9a74ab6a64eb3a552afa455aca359a9a15ca5a060a19f639e9e669a9d69969b6d929a708e9973"
        "89977685967981957c7c947f7793827291856e9088698f8b638e8e5e8c91598b945389974e889a48869d4384a0"
        "3e83a33981a5347fa92f7dac2c7baf2879b22576b52374b82271bb226fbe226cc22269c52366c82563cb2660ce"
        "285dd1295ad42b57d72d54da2e51dd304ee0314be33349e63546e83744ea3942ec3c40ee3e3ef0413df2443df3"
        "473cf4493df54d3df64f3ef7523ff75540f85842f85b43f95e45f96147f96349f9664bf9694df96b4ff96e51f9"
        "7053f97255f97557f97859f97a5bf97c5dfa7f5efa8260fa8462fa8764fa8a65fa8d67fa9069fa936afa966bfa"
        "996dfb9c6efba06ffba371fba772fcaa73fcae74fcb175fcb576fdb977fdbc78fdc079fec37afec77bfeca7cfe"
        "ce7dffd17effd580ffd880ffdb81ffdf82ffe283ffe584ffe884ffea85ffed85ffef86fef286fdf486fcf686fb"
        "f785f9"
    ),
}


def colour_table(name: str) -> np.ndarray:
    """``(256, 3)`` uint8 lookup table of colour map ``name``: :data:`LINEAR_MAP` and
    :data:`CYCLIC_MAP` (the defaults), or any map of the colorcet library by its name
    (``"fire"``, ``"CET_L17"``; pyqtgraph's spelling ``"CET-D1"`` too): a map the user chose
    for a panel is exported with the same colours as on screen."""
    text = _TABLES.get(name)
    if text is not None:
        return np.frombuffer(bytes.fromhex(text), dtype=np.uint8).reshape(256, 3).copy()
    import colorcet

    palette = colorcet.palette.get(name) or colorcet.palette.get(name.replace("-", "_"))
    if palette is None:
        raise ValueError(f"unknown colour map {name!r}; expected one of "
                         f"{', '.join(colour_map_names())}")
    table = np.array([list(bytes.fromhex(colour.lstrip("#"))) for colour in palette],
                     dtype=np.uint8)
    if len(table) != 256:  # resample to the 256 levels colorize indexes
        table = table[np.linspace(0, len(table) - 1, 256).round().astype(np.intp)]
    return table.copy()


def colour_map_names() -> list[str]:
    """The colour maps a user may choose: the defaults, then colorcet's named perceptual
    maps (its categorical Glasbey palettes left out: they are not ordered)."""
    import colorcet

    named = sorted(n for n in colorcet.palette_n if not n.startswith("glasbey"))
    return [LINEAR_MAP, CYCLIC_MAP] + [n for n in named if n not in _TABLES]


COLOUR_MAPS = (LINEAR_MAP, CYCLIC_MAP)


def robust_levels(image: np.ndarray, component: str, fit: bool = False) -> tuple[float, float]:
    """Display levels: the 0.5-99.5 percentiles of finite pixels.

    Phase gets the full cyclic range [-pi, pi] unless ``fit`` asks for contrast (a phase
    spanning 1.5 rad is hard to read on a colour wheel of 2 pi).
    """
    if component == "phase" and not fit:
        return PHASE_LEVELS
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return (0.0, 1.0)
    low, high = (float(v) for v in np.percentile(finite, LEVEL_PERCENTILES))
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return (low, high)


def colorize(image: np.ndarray, cmap: str, levels: tuple[float, float]) -> np.ndarray:
    """``(H, W)`` float -> ``(H, W, 3)`` uint8 through colour map ``cmap``; NaN -> black."""
    low, high = levels
    finite = np.isfinite(image)
    scaled = np.clip((np.where(finite, image, low) - low) / ((high - low) or 1.0), 0.0, 1.0)
    rgb = colour_table(cmap)[np.round(scaled * 255).astype(np.intp)]
    rgb[~finite] = 0
    return rgb


@dataclass(frozen=True)
class Display:
    """How one component is drawn: colour map and levels (what a screen panel shows)."""

    cmap: str
    levels: tuple[float, float]


def amplitude_display(obj: np.ndarray) -> Display:
    """The default display of ``|obj|``: linear map over its robust levels."""
    return Display(LINEAR_MAP, robust_levels(np.abs(obj).astype(np.float32), "amplitude"))


PHASE_DISPLAY = Display(CYCLIC_MAP, PHASE_LEVELS)
"""The default display of the phase: the cyclic map over [-pi, pi]."""


def amplitude_rgb(obj: np.ndarray, display: Display | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 picture of ``|obj|`` as on screen; NaN black."""
    shown = display or amplitude_display(obj)
    return colorize(np.abs(obj).astype(np.float32), shown.cmap, shown.levels)


def phase_rgb(obj: np.ndarray, display: Display | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 picture of ``angle(obj)`` (default: cyclic map over [-pi, pi])."""
    shown = display or PHASE_DISPLAY
    return colorize(np.angle(obj).astype(np.float32), shown.cmap, shown.levels)


def hsv_image(data: np.ndarray) -> np.ndarray:
    """Hue = phase, saturation = 1, value = amplitude / (99.5th percentile); NaN -> black."""
    values = np.asarray(data)
    finite = np.isfinite(values)
    amp = np.where(finite, np.abs(values), 0.0)
    top = float(np.percentile(amp[finite], LEVEL_PERCENTILES[1])) if finite.any() else 1.0
    value = np.clip(amp / (top if top > 0 else 1.0), 0.0, 1.0)
    hue = (np.where(finite, np.angle(values), 0.0) + np.pi) / (2 * np.pi)
    # HSV -> RGB with saturation 1 (vectorised version of colorsys.hsv_to_rgb).
    h6 = (hue % 1.0) * 6.0
    sector = np.floor(h6).astype(int) % 6
    frac = h6 - np.floor(h6)
    p = np.zeros_like(value)
    q = value * (1.0 - frac)
    t = value * frac
    choices_r = [value, q, p, p, t, value]
    choices_g = [t, value, value, q, p, p]
    choices_b = [p, p, t, value, value, q]
    rgb = np.stack([np.choose(sector, choices_r), np.choose(sector, choices_g),
                    np.choose(sector, choices_b)], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def png_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``NAME.ext`` -> ``NAME-amplitude.png``, ``NAME-phase.png`` next to it."""
    p = Path(path)
    return p.with_name(f"{p.stem}-amplitude.png"), p.with_name(f"{p.stem}-phase.png")


def write_png(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write an ``(H, W, 3)`` uint8 picture atomically."""
    p = Path(path)
    with atomic_path(p) as tmp:
        Image.fromarray(np.ascontiguousarray(rgb)).save(tmp, format="PNG")
    return p


def write_object_pngs(obj: np.ndarray, amplitude_path: str | os.PathLike[str],
                      phase_path: str | os.PathLike[str],
                      pixel_size_m: float | tuple[float, float] | None = None,
                      amplitude: Display | None = None, phase: Display | None = None
                      ) -> tuple[Path, Path]:
    """Write the amplitude and phase figures of ``obj`` (:func:`figure`: the screen's colours
    and levels, a labelled colour bar and a scale bar, in metres with ``pixel_size_m``);
    return both paths. ``amplitude`` and ``phase`` override the default displays (the levels
    a user set on screen)."""
    shown_amplitude = amplitude or amplitude_display(obj)
    shown_phase = phase or PHASE_DISPLAY
    return (write_png(amplitude_path, figure(
                amplitude_rgb(obj, shown_amplitude), cmap=shown_amplitude.cmap,
                levels=shown_amplitude.levels, label=AMPLITUDE_LABEL, pixel_size_m=pixel_size_m)),
            write_png(phase_path, figure(
                phase_rgb(obj, shown_phase), cmap=shown_phase.cmap, levels=shown_phase.levels,
                label=PHASE_LABEL, pixel_size_m=pixel_size_m)))


# -- figures: a picture with its colour bar and scale bar, as the screen shows it -------------

AMPLITUDE_LABEL = "amplitude"
PHASE_LABEL = "phase (rad)"
LENGTH_UNITS = ((1e-3, "mm"), (1e-6, "µm"), (1e-9, "nm"), (1e-12, "pm"))
FIGURE_MIN_SIDE = 480
"""Pictures are enlarged by a whole factor (no smoothing: pixels stay sharp) to at least this
many pixels on their long side, so that the labels stay readable next to small objects."""
FIGURE_MARGIN = 16
"""White border (pixels) around a figure's picture."""
SCALE_BAR_FRACTION = 0.2
"""A scale bar is about this fraction of the image width, rounded to 1, 2 or 5 x 10^k."""


def format_length(metres: float, digits: int = 3) -> str:
    """``metres`` in the unit that keeps the number >= 1: "500 nm", "1.5 µm", "2 mm"."""
    size = abs(metres)
    scale, unit = next(((s, u) for s, u in LENGTH_UNITS if size >= s), LENGTH_UNITS[-1])
    return f"{metres / scale:.{digits}g} {unit}"


def nice_length(limit: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above ``limit`` (> 0)."""
    if not (limit > 0 and math.isfinite(limit)):
        raise ValueError(f"nice_length: expected a finite length > 0, found {limit}")
    exponent = math.floor(math.log10(limit))
    best = 10.0**exponent
    for step in (2.0, 5.0):
        if step * 10.0**exponent <= limit * (1 + 1e-9):
            best = step * 10.0**exponent
    return best


def scale_bar(view_width_px: float, pixel_width_m: float | None,
              fraction: float = SCALE_BAR_FRACTION) -> tuple[float, str]:
    """A scale bar of a round length close to ``fraction`` of the view width.

    Returns ``(length in image pixels, label)``; without a pixel size the bar is in pixels.
    """
    target_px = max(view_width_px * fraction, 1e-12)
    if pixel_width_m is None:
        length = nice_length(target_px)
        return length, f"{length:g} px"
    length_m = nice_length(target_px * pixel_width_m)
    return length_m / pixel_width_m, format_length(length_m)


def colour_bar_ticks(levels: tuple[float, float], count: int = 5) -> list[float]:
    """Round tick values inside ``levels`` (about ``count`` of them)."""
    low, high = sorted(float(v) for v in levels)
    if not high > low:
        return [low]
    step = nice_length((high - low) / max(count - 1, 1))
    ticks, value = [], math.ceil(low / step - 1e-9) * step
    while value <= high + 1e-9 * step:
        ticks.append(0.0 if abs(value) < 1e-9 * step else value)
        value += step
    return ticks


FIGURE_FONTS = ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf")
"""Fonts tried for a figure's text (found by PIL on the system); else PIL's own font."""


def _font(size: int) -> Any:
    from PIL import ImageFont

    for name in FIGURE_FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _printable(font: Any, text: str) -> str:
    """``text`` with "µ" written "u" when ``font`` has no glyph for it (PIL's own font)."""
    if "µ" in text and _glyph(font, "µ") == _glyph(font, "\U0010fffd"):
        return text.replace("µ", "u")
    return text


def figure(rgb: np.ndarray, *, cmap: str | None = None,
           levels: tuple[float, float] | None = None, label: str = "",
           pixel_size_m: float | tuple[float, float] | None = None) -> np.ndarray:
    """A picture as the screen shows it, for a logbook: ``rgb`` enlarged to
    :data:`FIGURE_MIN_SIDE`, a scale bar in its lower right corner (in metres with
    ``pixel_size_m``, else in pixels) and, with ``cmap``, a colour bar over ``levels`` with
    round ticks and ``label`` (the quantity and its unit).

    Returns the ``(H, W, 3)`` uint8 figure on a white background.
    """
    from PIL import Image, ImageDraw

    height, width = rgb.shape[:2]
    zoom = figure_zoom((height, width))
    picture = Image.fromarray(np.ascontiguousarray(rgb)).resize(
        (width * zoom, height * zoom), Image.Resampling.NEAREST)
    font, small = _font(16), _font(14)
    margin, bar_width, gap = FIGURE_MARGIN, 22, 8
    with_bar = cmap is not None and levels is not None
    ticks = colour_bar_ticks(levels) if with_bar and levels is not None else []
    tick_texts = [f"{t:.4g}" for t in ticks]
    tick_width = max((int(small.getbbox(t)[2]) for t in tick_texts), default=0)
    label_height = int(font.getbbox(label or "Hg")[3]) + 4
    bar_total = bar_width + 6 + tick_width + gap + label_height if with_bar else 0
    canvas = Image.new("RGB", (2 * margin + picture.width + (2 * gap + bar_total
                                                              if with_bar else 0),
                               2 * margin + picture.height), "white")
    draw = ImageDraw.Draw(canvas)
    canvas.paste(picture, (margin, margin))
    _draw_scale_bar(draw, font, zoom, width, pixel_size_m, right=margin + picture.width,
                    bottom=margin + picture.height)
    if with_bar and cmap is not None and levels is not None:
        left = margin + picture.width + 2 * gap
        column = colour_table(cmap)[np.linspace(255, 0, picture.height).round().astype(np.intp)]
        strip = np.repeat(column[:, None, :], bar_width, axis=1)
        canvas.paste(Image.fromarray(np.ascontiguousarray(strip)), (left, margin))
        draw.rectangle((left, margin, left + bar_width - 1, margin + picture.height - 1),
                       outline="black")
        low, high = levels
        for value, text in zip(ticks, tick_texts, strict=True):
            y = margin + (picture.height - 1) * (1 - (value - low) / ((high - low) or 1.0))
            draw.line((left + bar_width, y, left + bar_width + 4, y), fill="black")
            draw.text((left + bar_width + 6, y - small.getbbox(text)[3] / 2 - 1), text,
                      fill="black", font=small)
        if label:
            label = _printable(font, label)
            text_image = Image.new("RGB", (int(font.getbbox(label)[2]) + 4, label_height),
                                   "white")
            ImageDraw.Draw(text_image).text((2, 0), label, fill="black", font=font)
            rotated = text_image.rotate(90, expand=True)
            canvas.paste(rotated, (left + bar_width + 6 + tick_width + gap,
                                   margin + max(0, (picture.height - rotated.height) // 2)))
    return np.asarray(canvas)


def figure_zoom(shape: tuple[int, ...]) -> int:
    """The whole factor a picture of ``shape`` ``(H, W, ...)`` is enlarged by in a figure; the
    picture's top left corner is at ``(FIGURE_MARGIN, FIGURE_MARGIN)``."""
    return max(1, math.ceil(FIGURE_MIN_SIDE / max(shape[0], shape[1])))


def _draw_scale_bar(draw: Any, font: Any, zoom: int, width_px: int,
                    pixel_size_m: float | tuple[float, float] | None, *, right: int,
                    bottom: int) -> None:
    """A white bar with a dark outline and its length above it, 14 px from the corner."""
    pixel = None
    if pixel_size_m is not None:
        pixel = float(np.ravel(pixel_size_m)[0])
    length_px, text = scale_bar(width_px, pixel if pixel and pixel > 0 else None)
    text = _printable(font, text)
    x1, y1 = right - 14, bottom - 14
    x0 = x1 - length_px * zoom
    draw.rectangle((x0, y1 - 6, x1, y1), fill="white", outline="black")
    box = font.getbbox(text)
    tx, ty = (x0 + x1) / 2 - box[2] / 2, y1 - 8 - box[3]
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        draw.text((tx + dx, ty + dy), text, fill="black", font=font)
    draw.text((tx, ty), text, fill="white", font=font)


def _glyph(font: Any, char: str) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).text((4, 4), char, fill=255, font=font)
    return image.tobytes()
