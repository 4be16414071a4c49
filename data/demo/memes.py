"""Pillow-only drawings for the demo's meme images: cartoon faces, phones, flames, charts,
with meme-style captions (white text, black outline) in English or Chinese.

Everything is drawn from fixed shapes plus a per-image Random seeded from the image name, so
the same Pillow version and font give byte-identical PNGs on every run.
"""

from __future__ import annotations

import math
import os
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PACKAGE = "fonts-wqy-microhei"
FONT_ENV = "SUBTEXT_CJK_FONT"  # lets someone point at a CJK font in a non-Debian place
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)

INK = (25, 25, 30)
WHITE = (255, 255, 255)
EMOJI_YELLOW = (255, 204, 51)
SKIN = (246, 196, 150)
PALETTE_COLORS = 96  # enough for flat cartoons and anti-aliased text; keeps PNGs small


class FontMissingError(RuntimeError):
    pass


def find_cjk_font() -> Path | None:
    """The first CJK-capable font we know of, or None."""
    override = os.environ.get(FONT_ENV)
    for candidate in ((override,) if override else ()) + FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def require_cjk_font() -> Path:
    font = find_cjk_font()
    if font is None:
        raise FontMissingError(
            "No CJK font found for the demo captions. Install the Debian package "
            f"'{FONT_PACKAGE}' (apt-get install {FONT_PACKAGE}) or set {FONT_ENV} to a "
            "font file that covers Chinese.")
    return font


@lru_cache(maxsize=64)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=0)


@dataclass(frozen=True)
class MemeSpec:
    """One image: which scene to draw, its captions, and scene options."""

    name: str
    scene: str
    top: str = ""
    bottom: str = ""
    size: tuple[int, int] = (480, 480)
    options: dict = field(default_factory=dict)


# ---------------------------------------------------------------- small geometry helpers


def circle(cx: float, cy: float, r: float) -> tuple[float, float, float, float]:
    return (cx - r, cy - r, cx + r, cy + r)


def oval(cx: float, cy: float, rx: float, ry: float) -> tuple[float, float, float, float]:
    return (cx - rx, cy - ry, cx + rx, cy + ry)


def vertical_gradient(img: Image.Image, top: tuple, bottom: tuple) -> None:
    d = ImageDraw.Draw(img)
    w, h = img.size
    for y in range(h):
        t = y / max(1, h - 1)
        color = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        d.line([(0, y), (w, y)], fill=color)


def sunburst(d: ImageDraw.ImageDraw, w: int, h: int, light: tuple, dark: tuple,
             rays: int = 16) -> None:
    """Alternating rays from the centre: the classic 'reaction image' background."""
    d.rectangle((0, 0, w, h), fill=light)
    cx, cy, reach = w / 2, h / 2, max(w, h)
    for k in range(0, rays, 2):
        a0, a1 = 2 * math.pi * k / rays, 2 * math.pi * (k + 1) / rays
        d.polygon([(cx, cy), (cx + reach * math.cos(a0), cy + reach * math.sin(a0)),
                   (cx + reach * math.cos(a1), cy + reach * math.sin(a1))], fill=dark)


def star_points(cx: float, cy: float, r: float, inner: float = 0.28, tips: int = 4) -> list:
    pts = []
    for k in range(tips * 2):
        radius = r if k % 2 == 0 else r * inner
        a = math.pi * k / tips - math.pi / 2
        pts.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return pts


def heart_points(cx: float, cy: float, s: float) -> list:
    """A parametric heart, s = half-width."""
    pts = []
    for k in range(0, 360, 10):
        t = math.radians(k)
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((cx + x * s / 16, cy - y * s / 16))
    return pts


def flame_points(x: float, base: float, w: float, h: float, lean: float) -> list:
    """A teardrop flame: round bottom at `base`, pointed tip `h` above, leaning sideways."""
    r = w / 2
    cy = base - r
    pts = [(x + r * math.cos(math.radians(k)), cy + r * math.sin(math.radians(k)))
           for k in range(0, 181, 15)]  # bottom half-circle, right to left
    steps = 10
    for k in range(1, steps + 1):  # left edge up to the tip
        t = k / steps
        pts.append((x - r * (1 - t) ** 1.4 + lean * t * t, cy - (h - r) * t))
    for k in range(steps - 1, 0, -1):  # right edge back down
        t = k / steps
        pts.append((x + r * (1 - t) ** 1.1 + lean * t * t, cy - (h - r) * t))
    return pts


def draw_flame(d: ImageDraw.ImageDraw, x: float, base: float, w: float, h: float,
               lean: float = 0.0) -> None:
    for scale, color in ((1.0, (215, 40, 25)), (0.72, (250, 130, 20)), (0.42, (255, 225, 70))):
        d.polygon(flame_points(x, base, w * scale, h * (0.35 + 0.65 * scale), lean * scale),
                  fill=color)


# ---------------------------------------------------------------- reusable props


def draw_face(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, mood: str) -> None:
    """An emoji-like face. Moods: happy, heart, eyeroll, crying, panda, clown, sweat, smile."""
    lw = max(3, round(r / 28))
    if mood == "clown":  # rainbow hair puffs behind the head
        for side in (-1, 1):
            for i, color in enumerate(((230, 50, 50), (250, 160, 30), (60, 170, 80),
                                       (50, 120, 220))):
                d.ellipse(circle(cx + side * r * (0.92 - 0.05 * i), cy - r * 0.45 + i * r * 0.22,
                                 r * 0.27), fill=color)
    skin = {"clown": (252, 250, 244), "panda": (245, 222, 150), "smile": (255, 214, 120)}
    d.ellipse(circle(cx, cy, r), fill=skin.get(mood, EMOJI_YELLOW), outline=INK, width=lw)

    ex, ey, er = r * 0.36, cy - r * 0.18, r * 0.15
    left, right = cx - ex, cx + ex
    if mood in ("happy", "sweat"):
        for x in (left, right):
            d.arc(circle(x, ey + er * 0.4, er), 200, 340, fill=INK, width=lw + 2)
        _open_smile(d, cx, cy, r, lw)
        for x in (left - er * 0.3, right + er * 0.3):
            d.ellipse(oval(x, cy + r * 0.15, er * 0.9, er * 0.5), fill=(250, 150, 140))
        if mood == "sweat":  # the cold-sweat drop of 😅
            drop_x, drop_y = cx + r * 0.62, cy - r * 0.55
            d.polygon([(drop_x, drop_y - r * 0.32), (drop_x - r * 0.13, drop_y),
                       (drop_x + r * 0.13, drop_y)], fill=(90, 170, 240))
            d.ellipse(circle(drop_x, drop_y + r * 0.02, r * 0.135), fill=(90, 170, 240))
    elif mood == "heart":
        for x in (left, right):
            d.polygon(heart_points(x, ey, er * 1.6), fill=(230, 40, 60), outline=INK)
        _open_smile(d, cx, cy, r, lw)
    elif mood == "eyeroll":
        for x in (left, right):
            d.ellipse(oval(x, ey, er * 1.25, er * 1.35), fill=WHITE, outline=INK, width=lw)
            d.ellipse(circle(x + er * 0.2, ey - er * 0.7, er * 0.55), fill=INK)  # pupils up
            d.arc(oval(x, ey - er * 2.0, er * 1.3, er * 0.7), 200, 340, fill=INK, width=lw)
        d.line([(cx - r * 0.32, cy + r * 0.5), (cx + r * 0.3, cy + r * 0.42)], fill=INK,
               width=lw + 2)
    elif mood == "crying":
        for x, tilt in ((left, 1), (right, -1)):
            d.arc(circle(x, ey + er, er), 200, 340, fill=INK, width=lw + 2)  # squeezed shut
            d.line([(x - er * 1.1, ey - er * (1.6 + 0.6 * tilt)),
                    (x + er * 1.1, ey - er * (1.6 - 0.6 * tilt))], fill=INK, width=lw + 1)
        d.chord(oval(cx, cy + r * 0.55, r * 0.38, r * 0.3), 180, 360, fill=(120, 30, 40),
                outline=INK, width=lw)
        for x in (left, right):  # streams of tears running down the cheeks
            out = -1 if x < cx else 1
            d.polygon([(x - er * 0.6, ey + er * 1.3), (x + er * 0.6, ey + er * 1.3),
                       (x + out * er * 1.6 + er * 0.6, cy + r * 0.85),
                       (x + out * er * 1.6 - er * 0.6, cy + r * 0.85)], fill=(90, 170, 240))
    elif mood == "panda":
        for x in (left, right):  # the dark circles of someone who did not sleep
            d.ellipse(oval(x, ey + er * 0.5, er * 1.9, er * 1.7), fill=(70, 60, 80))
            d.ellipse(circle(x, ey + er * 0.2, er * 0.85), fill=WHITE)
            d.ellipse(circle(x, ey + er * 0.2, er * 0.3), fill=INK)
            for k in (-1, 1):  # bloodshot
                d.line([(x + k * er * 0.85, ey + er * 0.2), (x + k * er * 0.45, ey + er * 0.05)],
                       fill=(220, 60, 60), width=2)
        zig = [(cx - r * 0.35 + k * r * 0.1, cy + r * (0.5 if k % 2 else 0.42))
               for k in range(8)]
        d.line(zig, fill=INK, width=lw + 1)
    elif mood == "clown":
        for x in (left, right):
            d.polygon([(x, ey - er * 2.2), (x - er * 0.5, ey - er * 0.9), (x + er * 0.5,
                       ey - er * 0.9)], fill=(60, 110, 220))
            d.polygon([(x, ey + er * 2.2), (x - er * 0.5, ey + er * 0.9), (x + er * 0.5,
                       ey + er * 0.9)], fill=(60, 110, 220))
            d.ellipse(circle(x, ey, er * 0.55), fill=INK)
        d.chord(oval(cx, cy + r * 0.3, r * 0.62, r * 0.45), 0, 180, fill=(220, 40, 50),
                outline=INK, width=lw)
        d.ellipse(circle(cx, cy + r * 0.12, r * 0.2), fill=(230, 30, 40), outline=INK, width=lw)
    elif mood == "smile":  # the polite, slightly too calm 🙂 / [微笑]
        for x in (left, right):
            d.ellipse(oval(x, ey, er * 0.45, er * 0.75), fill=INK)
        d.arc(oval(cx, cy + r * 0.18, r * 0.45, r * 0.3), 25, 155, fill=INK, width=lw + 1)
    else:
        raise ValueError(f"unknown face mood {mood!r}")


def _open_smile(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, lw: int) -> None:
    d.chord(oval(cx, cy + r * 0.22, r * 0.5, r * 0.42), 0, 180, fill=(130, 35, 40),
            outline=INK, width=lw)
    d.chord(oval(cx, cy + r * 0.56, r * 0.25, r * 0.1), 180, 360, fill=(240, 110, 120))


def draw_phone(d: ImageDraw.ImageDraw, box: tuple, screen: tuple,
               body: tuple = (38, 38, 46)) -> tuple:
    """Front of a phone; returns the screen box so props can be drawn on it."""
    x0, y0, x1, y1 = box
    radius = round((x1 - x0) * 0.14)
    d.rounded_rectangle(box, radius=radius, fill=body, outline=INK, width=3)
    inset = (x1 - x0) * 0.06
    scr = (x0 + inset, y0 + inset * 1.6, x1 - inset, y1 - inset * 1.6)
    d.rounded_rectangle(scr, radius=round(radius * 0.6), fill=screen)
    d.ellipse(circle((x0 + x1) / 2, y0 + inset * 0.8, inset * 0.28), fill=(90, 90, 110))
    return scr


def draw_battery(d: ImageDraw.ImageDraw, cx: float, cy: float, w: float, level: float,
                 color: tuple) -> None:
    h = w * 0.48
    body = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    d.rounded_rectangle(body, radius=round(h * 0.15), outline=WHITE, width=max(3, round(w / 22)))
    d.rounded_rectangle((cx + w / 2, cy - h * 0.2, cx + w / 2 + w * 0.07, cy + h * 0.2),
                        radius=3, fill=WHITE)
    pad = w * 0.07
    inner_w = (w - 2 * pad) * max(0.04, level)
    d.rectangle((body[0] + pad, body[1] + pad, body[0] + pad + inner_w, body[3] - pad),
                fill=color)


def caption_font(font_path: Path, size: int) -> ImageFont.FreeTypeFont:
    return load_font(str(font_path), size)


# ---------------------------------------------------------------- scenes
# Each scene draws the picture under the captions: scene(img, draw, rng, font_path, **options).


def scene_face(img, d, rng, font_path, mood="happy", bg=((255, 236, 160), (255, 214, 100))):
    w, h = img.size
    sunburst(d, w, h, bg[0], bg[1])
    draw_face(d, w / 2, h * 0.52, min(w, h) * 0.3, mood)


def scene_battery(img, d, rng, font_path, level=0.02, text="1%"):
    w, h = img.size
    low = level < 0.2
    vertical_gradient(img, (60, 20, 30) if low else (20, 60, 50),
                      (150, 40, 50) if low else (40, 140, 100))
    scr = draw_phone(d, (w * 0.3, h * 0.16, w * 0.7, h * 0.88), (20, 20, 28))
    cx, cy = (scr[0] + scr[2]) / 2, (scr[1] + scr[3]) / 2
    color = (230, 40, 40) if low else (60, 210, 90)
    draw_battery(d, cx, cy - h * 0.04, (scr[2] - scr[0]) * 0.7, level, color)
    font = caption_font(font_path, round(h * 0.07))
    d.text((cx, cy + h * 0.1), text, font=font, fill=color, anchor="mm")
    if not low:  # a charging bolt
        bx, by, s = cx, cy - h * 0.04, h * 0.05
        d.polygon([(bx + s * 0.2, by - s), (bx - s * 0.5, by + s * 0.1), (bx, by + s * 0.1),
                   (bx - s * 0.2, by + s), (bx + s * 0.5, by - s * 0.1), (bx, by - s * 0.1)],
                  fill=(255, 230, 60), outline=INK)


def scene_phone_fire(img, d, rng, font_path):
    w, h = img.size
    vertical_gradient(img, (70, 20, 15), (200, 80, 20))
    for _ in range(6):  # smoke
        d.ellipse(circle(rng.uniform(0, w), rng.uniform(0, h * 0.25), rng.uniform(30, 70)),
                  fill=(90, 80, 80))
    for k in range(7):  # flames behind the phone
        x = w * (0.12 + 0.76 * k / 6)
        draw_flame(d, x, h * 0.95, w * rng.uniform(0.16, 0.22), h * rng.uniform(0.45, 0.7),
                   lean=rng.uniform(-20, 20))
    scr = draw_phone(d, (w * 0.33, h * 0.2, w * 0.67, h * 0.86), (255, 120, 40))
    cx, cy = (scr[0] + scr[2]) / 2, (scr[1] + scr[3]) / 2
    font = caption_font(font_path, round(h * 0.06))
    d.text((cx, cy - h * 0.05), "52°C", font=font, fill=WHITE, anchor="mm",
           stroke_width=2, stroke_fill=(150, 20, 10))
    for k in range(4):  # flames in front, licking the phone
        x = w * (0.25 + 0.5 * k / 3)
        draw_flame(d, x, h * 0.98, w * 0.14, h * rng.uniform(0.25, 0.4), lean=rng.uniform(-15, 15))


def scene_egg(img, d, rng, font_path):
    w, h = img.size
    tile = 48
    d.rectangle((0, 0, w, h), fill=(200, 225, 235))
    for x in range(0, w, tile):
        d.line([(x, 0), (x, h)], fill=(170, 200, 215), width=2)
    for y in range(0, h, tile):
        d.line([(0, y), (w, y)], fill=(170, 200, 215), width=2)
    scr = draw_phone(d, (w * 0.26, h * 0.18, w * 0.74, h * 0.9), (30, 30, 40))
    cx, cy = (scr[0] + scr[2]) / 2, (scr[1] + scr[3]) / 2 + h * 0.03
    for _ in range(7):  # egg white: a lumpy blob of overlapping ovals
        d.ellipse(oval(cx + rng.uniform(-30, 30), cy + rng.uniform(-35, 35),
                       rng.uniform(40, 60), rng.uniform(40, 60)), fill=(252, 252, 248))
    d.ellipse(circle(cx + 5, cy - 5, w * 0.065), fill=(250, 170, 20), outline=(230, 140, 10),
              width=3)
    d.ellipse(circle(cx - 4, cy - 14, w * 0.018), fill=(255, 230, 150))
    for k in range(3):  # steam
        x0 = cx - 50 + k * 50
        pts = [(x0 + 10 * math.sin(t / 3), scr[1] - 10 - t * 4) for t in range(0, 16)]
        d.line(pts, fill=(250, 250, 250), width=5)


def scene_thumbs(img, d, rng, font_path, fire=False, bg=((255, 225, 120), (255, 200, 60))):
    w, h = img.size
    sunburst(d, w, h, bg[0], bg[1])
    if fire:
        for k in range(6):
            draw_flame(d, w * (0.1 + 0.16 * k), h * 1.0, w * 0.2, h * rng.uniform(0.4, 0.6),
                       lean=rng.uniform(-20, 20))
    fist = (w * 0.3, h * 0.45, w * 0.64, h * 0.76)
    d.rectangle((w * 0.33, h * 0.74, w * 0.61, h * 0.98), fill=(60, 110, 200), outline=INK,
                width=4)  # sleeve
    d.rounded_rectangle(fist, radius=round(w * 0.06), fill=SKIN, outline=INK, width=4)
    finger_h = (fist[3] - fist[1]) / 4
    for k in range(4):  # curled fingers stacked on the right
        y = fist[1] + k * finger_h
        d.rounded_rectangle((fist[2] - w * 0.06, y + 2, fist[2] + w * 0.06, y + finger_h - 2),
                            radius=round(finger_h / 2.4), fill=SKIN, outline=INK, width=3)
    d.rounded_rectangle((w * 0.33, h * 0.2, w * 0.46, h * 0.52), radius=round(w * 0.06),
                        fill=SKIN, outline=INK, width=4)  # the thumb
    d.line([(w * 0.36, h * 0.5), (w * 0.5, h * 0.5)], fill=SKIN, width=8)
    d.arc((w * 0.35, h * 0.22, w * 0.44, h * 0.3), 200, 340, fill=(200, 150, 120), width=3)


def scene_product(img, d, rng, font_path, body=(156, 185, 160), label="nimbus",
                  bg=((40, 50, 90), (120, 80, 160))):
    w, h = img.size
    vertical_gradient(img, bg[0], bg[1])
    d.ellipse(oval(w / 2, h * 0.86, w * 0.3, h * 0.05), fill=(30, 30, 50))  # podium shadow
    box = (w * 0.33, h * 0.18, w * 0.67, h * 0.84)
    d.rounded_rectangle(box, radius=round(w * 0.05), fill=body, outline=INK, width=3)
    lighter = tuple(min(255, c + 40) for c in body)
    d.polygon([(box[0] + 8, box[1] + 60), (box[0] + 50, box[1] + 8), (box[0] + 90, box[1] + 8),
               (box[0] + 8, box[1] + 120)], fill=lighter)  # glossy reflection
    module = (box[0] + 16, box[1] + 16, box[0] + 86, box[1] + 110)
    d.rounded_rectangle(module, radius=16, fill=(40, 40, 48))
    for k in range(3):
        lx = module[0] + 22 + (k % 2) * 26
        ly = module[1] + 24 + k * 28
        d.ellipse(circle(lx, ly, 11), fill=(15, 15, 25), outline=(140, 140, 160), width=3)
    font = caption_font(font_path, round(h * 0.045))
    d.text(((box[0] + box[2]) / 2, box[3] - h * 0.1), label, font=font, fill=(245, 245, 245),
           anchor="mm")
    for _ in range(9):  # sparkles
        x = rng.choice((rng.uniform(w * 0.05, w * 0.3), rng.uniform(w * 0.7, w * 0.95)))
        y = rng.uniform(h * 0.15, h * 0.8)
        d.polygon(star_points(x, y, rng.uniform(10, 26)), fill=(255, 250, 200))


def scene_graph(img, d, rng, font_path, title="", color=(220, 40, 40), down=True):
    w, h = img.size
    d.rectangle((0, 0, w, h), fill=(250, 250, 250))
    left, right, top, bottom = w * 0.17, w * 0.92, h * 0.22, h * 0.78
    font = caption_font(font_path, round(h * 0.035))
    for k in range(5):  # grid + y labels
        y = top + (bottom - top) * k / 4
        d.line([(left, y), (right, y)], fill=(215, 215, 220), width=1)
        d.text((left - 8, y), f"{100 - 25 * k}%", font=font, fill=(90, 90, 90), anchor="rm")
    for k, label in enumerate(("8:00", "11:00", "14:00", "17:00")):
        x = left + (right - left) * k / 3
        d.text((x, bottom + 10), label, font=font, fill=(90, 90, 90), anchor="ma")
    d.line([(left, top), (left, bottom), (right, bottom)], fill=INK, width=3)
    pts = []
    for k in range(12):
        t = k / 11
        level = (1 - t ** 0.6) if down else t ** 0.8
        level = min(1.0, max(0.0, level + rng.uniform(-0.05, 0.05)))
        pts.append((left + (right - left) * t * 0.95, bottom - (bottom - top) * level))
    d.line(pts, fill=color, width=6, joint="curve")
    tx, ty = pts[-1]
    d.polygon([(tx + 14, ty + 4), (tx - 10, ty - 10), (tx - 2, ty + 16)], fill=color)
    if title:
        d.text((w * 0.6, top + 14), title, font=font, fill=color, anchor="ma")


def scene_this_is_fine(img, d, rng, font_path):
    """A cartoon dog in a hat, sipping coffee while the room burns."""
    w, h = img.size
    d.rectangle((0, 0, w, h), fill=(214, 150, 80))
    d.rectangle((0, h * 0.72, w, h), fill=(150, 95, 55))  # floor
    for _ in range(10):  # smoke under the ceiling
        d.ellipse(circle(rng.uniform(0, w), rng.uniform(-10, h * 0.12), rng.uniform(35, 60)),
                  fill=(110, 100, 100))
    for k in range(5):  # fires on both sides
        for side_x in (w * (0.02 + 0.05 * k), w * (0.98 - 0.05 * k)):
            draw_flame(d, side_x, h * 0.8, w * 0.12, h * rng.uniform(0.35, 0.6),
                       lean=rng.uniform(-15, 15))
    cx, cy = w * 0.48, h * 0.5
    d.rounded_rectangle((cx - 45, cy + 30, cx + 45, h * 0.82), radius=20, fill=(230, 190, 90),
                        outline=INK, width=3)  # body
    for side in (-1, 1):  # floppy ears
        d.ellipse(oval(cx + side * 52, cy + 5, 18, 38), fill=(130, 80, 40), outline=INK, width=3)
    d.ellipse(circle(cx, cy, 55), fill=(240, 200, 100), outline=INK, width=3)
    d.ellipse(oval(cx, cy - 52, 62, 10), fill=(40, 40, 40))  # bowler hat brim
    d.chord(oval(cx, cy - 52, 40, 38), 180, 360, fill=(40, 40, 40))
    for x in (cx - 20, cx + 20):
        d.ellipse(circle(x, cy - 5, 6), fill=INK)
    d.ellipse(oval(cx, cy + 18, 10, 7), fill=INK)  # nose
    d.arc(oval(cx, cy + 22, 22, 14), 20, 160, fill=INK, width=3)  # calm smile
    d.rectangle((w * 0.6, h * 0.68, w * 0.95, h * 0.72), fill=(110, 70, 40), outline=INK)
    d.rectangle((w * 0.62, h * 0.72, w * 0.64, h * 0.88), fill=(110, 70, 40))  # table
    d.rounded_rectangle((w * 0.66, h * 0.6, w * 0.74, h * 0.68), radius=4, fill=WHITE,
                        outline=INK, width=2)  # mug
    d.arc((w * 0.72, h * 0.615, w * 0.77, h * 0.66), 270, 90, fill=INK, width=3)


def scene_bluetooth(img, d, rng, font_path):
    w, h = img.size
    vertical_gradient(img, (200, 215, 235), (150, 170, 205))
    cx, cy, r = w / 2, h * 0.47, h * 0.22
    d.ellipse(circle(cx, cy, r), fill=(30, 100, 220), outline=INK, width=4)
    s = r * 0.62
    rune = [(cx - 0.5 * s, cy - 0.5 * s), (cx + 0.5 * s, cy + 0.5 * s), (cx, cy + s),
            (cx, cy - s), (cx + 0.5 * s, cy - 0.5 * s), (cx - 0.5 * s, cy + 0.5 * s)]
    d.line(rune, fill=WHITE, width=10, joint="curve")
    d.line([(cx - r * 0.95, cy - r * 0.95), (cx + r * 0.95, cy + r * 0.95)],
           fill=(225, 30, 30), width=18)  # crossed out
    font = caption_font(font_path, round(h * 0.08))
    for x, q in ((w * 0.22, w * 0.12), (w * 0.78, w * 0.88)):  # lonely earbuds
        d.ellipse(circle(x, h * 0.68, 22), fill=WHITE, outline=INK, width=3)
        d.rounded_rectangle((x - 7, h * 0.68, x + 7, h * 0.76), radius=6, fill=WHITE,
                            outline=INK, width=3)
        d.text((q, h * 0.6), "?", font=font, fill=(225, 30, 30), anchor="mm")


def scene_update(img, d, rng, font_path, version="5.1"):
    w, h = img.size
    vertical_gradient(img, (25, 30, 45), (60, 70, 100))
    scr = draw_phone(d, (w * 0.3, h * 0.16, w * 0.7, h * 0.88), (235, 240, 250))
    cx, cy = (scr[0] + scr[2]) / 2, (scr[1] + scr[3]) / 2 - h * 0.05
    for k in range(12):  # a spinner, darker towards the "head"
        a = 2 * math.pi * k / 12
        shade = 60 + 14 * k
        d.line([(cx + 18 * math.cos(a), cy + 18 * math.sin(a)),
                (cx + 36 * math.cos(a), cy + 36 * math.sin(a))],
               fill=(shade, shade, min(255, shade + 30)), width=6)
    bar = (scr[0] + 18, cy + 70, scr[2] - 18, cy + 84)
    d.rounded_rectangle(bar, radius=7, fill=(200, 205, 215))
    d.rounded_rectangle((bar[0], bar[1], bar[0] + (bar[2] - bar[0]) * 0.99, bar[3]), radius=7,
                        fill=(40, 120, 230))
    font = caption_font(font_path, round(h * 0.04))
    d.text((cx, cy + 56), f"OS {version} 99%", font=font, fill=(60, 60, 80), anchor="mm")


def scene_box(img, d, rng, font_path, label="NIMBUS 7"):
    w, h = img.size
    d.rectangle((0, 0, w, h), fill=(255, 240, 200))
    for _ in range(40):  # confetti
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        color = rng.choice(((240, 90, 90), (80, 160, 240), (250, 200, 50), (110, 200, 120)))
        d.rectangle((x, y, x + 10, y + 5), fill=color)
    front = (w * 0.22, h * 0.42, w * 0.66, h * 0.84)
    d.polygon([(front[0], front[1]), (front[2], front[1]), (w * 0.82, h * 0.32),
               (w * 0.38, h * 0.32)], fill=(222, 180, 130), outline=INK)  # top
    d.polygon([(front[2], front[1]), (w * 0.82, h * 0.32), (w * 0.82, h * 0.74),
               (front[2], front[3])], fill=(170, 125, 80), outline=INK)  # side
    d.rectangle(front, fill=(200, 150, 100), outline=INK, width=3)
    d.rectangle((w * 0.41, front[1], w * 0.47, front[3]), fill=(225, 200, 150))  # tape
    d.rectangle((w * 0.27, h * 0.6, w * 0.6, h * 0.74), fill=WHITE, outline=INK, width=2)
    font = caption_font(font_path, round(h * 0.045))
    d.text((w * 0.435, h * 0.67), label, font=font, fill=INK, anchor="mm")


def scene_landscape(img, d, rng, font_path):
    """A dusk photo: the kind of camera sample people post to brag."""
    w, h = img.size
    vertical_gradient(img, (40, 30, 90), (250, 150, 90))
    for _ in range(40):
        x, y = rng.uniform(0, w), rng.uniform(0, h * 0.35)
        d.ellipse(circle(x, y, rng.choice((1, 1, 2))), fill=(255, 255, 230))
    d.ellipse(circle(w * 0.62, h * 0.58, h * 0.11), fill=(255, 200, 90))
    d.polygon([(0, h * 0.66), (w * 0.2, h * 0.42), (w * 0.38, h * 0.6), (w * 0.55, h * 0.45),
               (w * 0.8, h * 0.66)], fill=(90, 60, 110))
    d.polygon([(w * 0.3, h * 0.66), (w * 0.7, h * 0.5), (w, h * 0.6), (w, h * 0.66)],
              fill=(60, 40, 85))
    d.rectangle((0, h * 0.66, w, h), fill=(50, 50, 100))  # lake
    for k in range(8):  # the sun's reflection
        y = h * (0.69 + 0.035 * k)
        half = w * (0.12 - 0.012 * k)
        d.line([(w * 0.62 - half, y), (w * 0.62 + half, y)], fill=(250, 180, 90), width=3)


SCENES: dict[str, Callable] = {
    "face": scene_face,
    "battery": scene_battery,
    "phone_fire": scene_phone_fire,
    "egg": scene_egg,
    "thumbs": scene_thumbs,
    "product": scene_product,
    "graph": scene_graph,
    "this_is_fine": scene_this_is_fine,
    "bluetooth": scene_bluetooth,
    "update": scene_update,
    "box": scene_box,
    "landscape": scene_landscape,
}


# ---------------------------------------------------------------- captions


def _wraps(text: str) -> list[list[str]]:
    """The text on one line, then its most balanced split into two lines."""
    options = [[text]]
    if " " in text:
        words = text.split()
        splits = [(" ".join(words[:k]), " ".join(words[k:])) for k in range(1, len(words))]
    else:  # Chinese: any character boundary, preferring after punctuation
        splits = [(text[:k], text[k:]) for k in range(1, len(text))]
        punct = [s for s in splits if s[0][-1] in "，。！？、：；）"]
        splits = punct or splits
    if splits:
        options.append(list(min(splits, key=lambda s: abs(len(s[0]) - len(s[1])))))
    return options


def draw_caption(img: Image.Image, text: str, where: str, font_path: Path) -> None:
    """Meme caption at the top or bottom: as big as fits, white with a black outline.

    One line is preferred while it stays readable; only then is the text split in two.
    """
    if not text:
        return
    d = ImageDraw.Draw(img)
    w, h = img.size
    max_w, max_h = w * 0.92, h * 0.25
    wraps = _wraps(text)
    smallest = {1: round(h * 0.085), 2: 14}
    for lines in wraps:
        for size in range(round(h * 0.12), smallest[len(lines)] - 1, -2):
            font = caption_font(font_path, size)
            stroke = max(2, size // 11)
            line_h = round(size * 1.15)
            widths = [d.textlength(line, font=font) + 2 * stroke for line in lines]
            if max(widths) <= max_w and line_h * len(lines) <= max_h:
                y = h * 0.03 if where == "top" else h * 0.97 - line_h * len(lines)
                for line in lines:
                    _outlined(d, (w / 2, y), line, font, stroke)
                    y += line_h
                return
    raise ValueError(f"caption does not fit: {text!r}")


def _outlined(d: ImageDraw.ImageDraw, xy: tuple, line: str, font, stroke: int) -> None:
    # The CJK font has no bold face: a thin white stroke fattens the letters (meme "Impact" look).
    d.text(xy, line, font=font, fill=(0, 0, 0), anchor="ma", stroke_width=stroke + 1,
           stroke_fill=(0, 0, 0))
    d.text(xy, line, font=font, fill=WHITE, anchor="ma", stroke_width=1, stroke_fill=WHITE)


def seed_for(name: str) -> int:
    # crc32, not hash(): str hashes change between Python runs.
    return zlib.crc32(name.encode("utf-8"))


def render(spec: MemeSpec, font_path: Path) -> Image.Image:
    img = Image.new("RGB", spec.size, WHITE)
    d = ImageDraw.Draw(img)
    SCENES[spec.scene](img, d, random.Random(seed_for(spec.name)), font_path, **spec.options)
    draw_caption(img, spec.top, "top", font_path)
    draw_caption(img, spec.bottom, "bottom", font_path)
    return img


def render_meme(spec: MemeSpec, out_path: Path, font_path: Path | None = None) -> Path:
    """Draw `spec` and save it as a small palette PNG at out_path."""
    font_path = font_path or require_cjk_font()
    img = render(spec, font_path)
    small = img.quantize(colors=PALETTE_COLORS, method=Image.Quantize.MEDIANCUT,
                         dither=Image.Dither.NONE)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    small.save(out_path, format="PNG", optimize=True)
    return out_path
