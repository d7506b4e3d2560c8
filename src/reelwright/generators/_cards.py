"""Drawing for the animatic: a painted backdrop scene in the prompt's palette (`_palette.py`), and the
storyboard card (shot, beat, prompt, timecode, camera, reference thumbnails) laid over it."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from ..media.fonts import FontKind, font_file
from ._palette import RGB, Palette, hex_rgb, mix_rgb, shade_rgb


# The backdrop: a soft painted scene, drawn once per clip at the size the camera move needs.

def _vertical_gradient(w: int, h: int, top: RGB, bottom: RGB, horizon: float = 1.0) -> np.ndarray:
    # float32 throughout: a 720p backdrop is drawn oversize for the camera move, and float64
    # temporaries of that size doubled the peak memory of every concurrent render.
    t = np.clip(np.linspace(0.0, 1.0, h, dtype=np.float32) / np.float32(max(horizon, 1e-3)), 0, 1)
    t = t * t * (3 - 2 * t)  # smoothstep: no visible band at the ends
    col = np.array(top, np.float32)[None, :] * (1 - t[:, None]) + np.array(bottom, np.float32)[None, :] * t[:, None]
    return np.repeat(col[:, None, :], w, axis=1)


def _glow(arr: np.ndarray, cx: float, cy: float, radius: float, colour: RGB, strength: float) -> None:
    h, w, _ = arr.shape
    r = max(radius, 1.0)
    # exp(-d²) is below 1/255 beyond d = 2.4: only that box around the centre changes.
    x0, x1 = max(0, int(cx - 2.4 * r)), min(w, int(cx + 2.4 * r) + 1)
    y0, y1 = max(0, int(cy - 2.4 * r)), min(h, int(cy + 2.4 * r) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.ogrid[y0:y1, x0:x1]
    d2 = ((xs.astype(np.float32) - cx) ** 2 + (ys.astype(np.float32) - cy) ** 2) / np.float32(r * r)
    a = (np.exp(-d2) * np.float32(strength))[..., None]
    box = arr[y0:y1, x0:x1]
    box[:] = box * (1 - a) + np.array(colour, np.float32) * a


def _ridge(rng: random.Random, w: int, base: float, amp: float, waves: int = 3) -> list[float]:
    comps = [(rng.uniform(0.6, 1.0) / (i + 1), rng.uniform(1, 2.5) * (i + 1), rng.uniform(0, 6.283)) for i in range(waves)]
    xs = np.linspace(0, 1, w // 4 + 2)
    ys = np.full_like(xs, base)
    for a, f, ph in comps:
        ys += amp * a * np.sin(xs * f * 6.283 + ph)
    return list(ys)


def _fill_below(draw: ImageDraw.ImageDraw, w: int, h: int, ridge: list[float], colour: tuple[int, ...]) -> None:
    n = len(ridge)
    pts = [(i * w / (n - 1), ridge[i]) for i in range(n)] + [(w, h), (0, h)]
    draw.polygon(pts, fill=colour)


def draw_backdrop(size: tuple[int, int], pal: Palette, seed: int) -> Image.Image:
    """A painted scene in the palette: sky, sun or moon, and layered scenery with depth haze."""
    w, h = size
    rng = random.Random(seed)
    horizon = {"water": 0.55, "city": 0.62, "interior": 1.0, "studio": 1.0, "space": 1.0, "underwater": 1.0}.get(pal.scenery, 0.6)
    sky = _vertical_gradient(w, h, pal.sky_top, pal.sky_bottom, horizon)
    sx, sy = rng.uniform(0.2, 0.8) * w, (0.5 if pal.celestial == "sun_low" else rng.uniform(0.12, 0.3)) * h
    if pal.celestial in ("sun", "sun_low"):
        _glow(sky, sx, sy, 0.45 * h, mix_rgb(pal.sky_bottom, (255, 236, 190), 0.6), 0.55)
    elif pal.celestial == "moon":
        _glow(sky, sx, sy, 0.25 * h, (150, 170, 230), 0.3)
    elif pal.scenery in ("studio", "interior"):
        _glow(sky, 0.5 * w, 0.35 * h, 0.6 * h, mix_rgb(pal.sky_bottom, (255, 255, 255), 0.4), 0.45)
    img = Image.fromarray(sky.clip(0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img, "RGBA")
    u = min(w, h)
    if pal.celestial == "moon" or pal.scenery == "space":
        for _ in range(int(w * h / 9000)):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h * 0.7), rng.choice((0.6, 0.8, 1.0, 1.4)) * u / 700
            d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255, rng.randint(90, 230)))
    if pal.celestial in ("sun", "sun_low"):
        r = u * (0.09 if pal.celestial == "sun_low" else 0.06)
        d.ellipse([sx - r, sy - r, sx + r, sy + r], fill=mix_rgb(pal.sky_bottom, (255, 244, 200), 0.85) + (240,))
    elif pal.celestial == "moon":
        r = u * 0.055
        d.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(236, 240, 255, 240))
        d.ellipse([sx - r * 0.55, sy - r * 1.05, sx + r * 1.45, sy + r * 0.95], fill=pal.sky_top + (235,))
    _SCENERY.get(pal.scenery, _hills)(d, w, h, pal, rng, horizon)
    return img.filter(ImageFilter.GaussianBlur(max(1.0, u / 500)))


def _layers(pal: Palette, n: int) -> list[tuple[int, ...]]:
    """Ground colours from far (hazy, close to the sky) to near (full colour)."""
    return [mix_rgb(pal.ground, pal.sky_bottom, 0.65 * (1 - i / max(1, n - 1)) ** 1.2) + (255,) for i in range(n)]


def _hills(d, w, h, pal, rng, horizon, trees=False):
    for i, col in enumerate(_layers(pal, 3)):
        base = h * (horizon + 0.1 * i)
        ridge = _ridge(rng, w, base, h * (0.07 - 0.015 * i))
        _fill_below(d, w, h, ridge, col)
        if trees:
            tree_col = shade_rgb(col[:3], 0.78) + (255,)
            for _ in range(int(w / (90 - 20 * i))):
                x = rng.uniform(0, w)
                y = ridge[min(len(ridge) - 1, int(x / w * (len(ridge) - 1)))]
                th, tw = h * rng.uniform(0.05, 0.09) * (1 + 0.5 * i), h * 0.02 * (1 + 0.5 * i)
                d.polygon([(x, y - th), (x - tw, y + 2), (x + tw, y + 2)], fill=tree_col)


def _forest(d, w, h, pal, rng, horizon):
    _hills(d, w, h, pal, rng, horizon, trees=True)


def _water(d, w, h, pal, rng, horizon):
    hy = h * horizon
    sea = mix_rgb(hex_rgb("#1f9e9a"), pal.sky_bottom, 0.3)
    d.rectangle([0, hy, w, h], fill=sea + (255,))
    for _ in range(int(h / 14)):
        y = rng.uniform(hy + 4, h * 0.82)
        x, ln = rng.uniform(0, w), w * rng.uniform(0.03, 0.12) * (y - hy) / (h - hy)
        d.line([(x, y), (x + ln, y)], fill=mix_rgb(sea, (255, 255, 255), 0.5) + (110,), width=max(1, int(h / 400)))
    sand = _ridge(rng, w, h * 0.86, h * 0.025)
    _fill_below(d, w, h, sand, pal.ground + (255,))


def _city(d, w, h, pal, rng, horizon):
    lit = pal.celestial == "moon" or pal.light in ("sunset", "overcast")
    for i, col in enumerate(_layers(pal, 3)):
        x = -rng.uniform(0, w * 0.05)
        while x < w:
            bw = w * rng.uniform(0.04, 0.09)
            top = h * (horizon - rng.uniform(0.08, 0.38) + 0.12 * i)
            d.rectangle([x, top, x + bw, h], fill=col)
            if lit and i > 0:
                for wy in np.arange(top + h * 0.02, h * 0.95, h * 0.035):
                    for wx in np.arange(x + bw * 0.15, x + bw * 0.85, bw * 0.22):
                        if rng.random() < 0.35:
                            d.rectangle([wx, wy, wx + bw * 0.1, wy + h * 0.014], fill=(255, 214, 140, 200))
            x += bw + w * rng.uniform(0.0, 0.015)
    d.rectangle([0, h * 0.9, w, h], fill=shade_rgb(pal.ground, 0.7) + (255,))


def _mountain(d, w, h, pal, rng, horizon):
    rock = mix_rgb(hex_rgb("#56637a"), pal.ground, 0.2)
    snow = mix_rgb((246, 249, 255), pal.sky_bottom, 0.15) + (255,)
    for i in range(3):
        col = mix_rgb(rock, pal.sky_bottom, 0.55 * (1 - i / 2)) + (255,)
        base = h * (horizon + 0.1 * i)
        x, pts, caps = -w * 0.1, [(-w * 0.1, base)], []
        while x < w * 1.1:
            pw, ph = w * rng.uniform(0.16, 0.3) / (1 + 0.3 * i), h * rng.uniform(0.2, 0.4) / (1 + 0.5 * i)
            peak = (x + pw * rng.uniform(0.35, 0.65), base - ph)
            left = (x + (peak[0] - x) * 0.5, base - ph * rng.uniform(0.35, 0.55))
            right = (peak[0] + (x + pw - peak[0]) * 0.5, base - ph * rng.uniform(0.3, 0.5))
            pts += [left, peak, right]
            if i < 2:  # snow caps follow the slopes down a third of the way, with a ragged edge
                lp = (peak[0] + (left[0] - peak[0]) * 0.45, peak[1] + (left[1] - peak[1]) * 0.45)
                rp = (peak[0] + (right[0] - peak[0]) * 0.45, peak[1] + (right[1] - peak[1]) * 0.45)
                notch = ((lp[0] + rp[0]) / 2, max(lp[1], rp[1]) - ph * rng.uniform(0.0, 0.08))
                caps.append([peak, lp, ((lp[0] + notch[0]) / 2, notch[1] + ph * 0.05), notch, rp])
            x += pw
        pts += [(w * 1.1, base), (w * 1.1, h), (-w * 0.1, h)]
        d.polygon(pts, fill=col)
        for cap in caps:
            d.polygon(cap, fill=mix_rgb(snow[:3], pal.sky_bottom, 0.4 * (1 - i / 2)) + (255,))
    _fill_below(d, w, h, _ridge(rng, w, h * 0.86, h * 0.03), pal.ground + (255,))


def _dunes(d, w, h, pal, rng, horizon):
    for i, col in enumerate(_layers(pal, 3)):
        _fill_below(d, w, h, _ridge(rng, w, h * (horizon + 0.1 * i), h * 0.05, waves=2), col)


def _bokeh(d, w, h, pal, rng, count, colour):
    u = min(w, h)
    for _ in range(count):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h * 0.75), u * rng.uniform(0.02, 0.08)
        d.ellipse([x - r, y - r, x + r, y + r], fill=colour + (rng.randint(25, 70),))


def _interior(d, w, h, pal, rng, horizon):
    _bokeh(d, w, h, pal, rng, 26, (255, 214, 150))
    d.rectangle([0, h * 0.78, w, h], fill=shade_rgb(pal.ground, 0.75) + (255,))
    d.rectangle([0, h * 0.78, w, h * 0.79], fill=mix_rgb(pal.ground, (255, 255, 255), 0.2) + (255,))


def _studio(d, w, h, pal, rng, horizon):
    d.ellipse([w * 0.2, h * 0.7, w * 0.8, h * 0.9], fill=shade_rgb(pal.sky_bottom, 0.85) + (255,))


def _space(d, w, h, pal, rng, horizon):
    r, cx, cy = min(w, h) * 0.22, w * rng.uniform(0.6, 0.8), h * rng.uniform(0.55, 0.75)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=mix_rgb(pal.accent, (40, 30, 80), 0.45) + (255,))
    d.ellipse([cx - r * 1.6, cy - r * 0.18, cx + r * 1.6, cy + r * 0.18], outline=pal.accent + (160,), width=max(2, int(r / 30)))


def _underwater(d, w, h, pal, rng, horizon):
    for _ in range(6):
        x = rng.uniform(0, w)
        d.polygon([(x, 0), (x + w * 0.05, 0), (x + w * 0.2, h), (x + w * 0.08, h)], fill=(200, 255, 250, 22))
    _bokeh(d, w, h, pal, rng, 30, (210, 250, 255))
    _fill_below(d, w, h, _ridge(rng, w, h * 0.88, h * 0.03), shade_rgb(pal.accent, 0.5) + (255,))


_SCENERY = {"hills": _hills, "forest": _forest, "water": _water, "city": _city, "mountain": _mountain,
            "dunes": _dunes, "interior": _interior, "studio": _studio, "space": _space, "underwater": _underwater}


def cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop an image to fill `size` (what a camera framing the picture would see)."""
    return ImageOps.fit(img.convert("RGB"), size, Image.Resampling.LANCZOS)


# The card: everything that stays still on screen while the backdrop moves.

def font(kind: FontKind, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_file(kind)
    # One FreeType face per thread: clips render concurrently in worker threads.
    return _font(str(path) if path else "", size, threading.get_ident())


@lru_cache(maxsize=256)
def _font(path: str, size: int, thread: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)
    except OSError:
        return ImageFont.load_default(size=size)


def wrap(text: str, fnt, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to `width` pixels; the last kept line ends in an ellipsis when text was cut."""
    words, lines, cur = text.split(), [], ""
    for word in words:
        while fnt.getlength(word) > width and len(word) > 1:  # an unbreakable run: split it
            cut = max(1, int(len(word) * width / fnt.getlength(word)) - 1)
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(word[:cut])
            word = word[cut:]
        trial = f"{cur} {word}".strip()
        if fnt.getlength(trial) <= width:
            cur = trial
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and fnt.getlength(last + " …") > width:
            last = last.rsplit(" ", 1)[0] if " " in last else last[:-1]
        lines = lines[: max_lines - 1] + [last.rstrip(",.;: ") + " …"]
    return lines


@dataclass
class CardText:
    shot_label: str  # "SHOT 3 / 8"
    shot_id: str
    title: str
    beat: str
    prompt: str
    timing: str  # "IN 0:15.000 · 7.50 s · 24 fps"
    camera: str  # "PUSH IN"
    camera_icon: str


@dataclass
class CardLayout:
    image: Image.Image  # RGBA, the output size
    tc_x_right: int  # the running timecode is drawn by ffmpeg, right-aligned here
    tc_y: int
    tc_size: int
    bar_y: int  # progress bar row
    bar_h: int


def draw_card(size: tuple[int, int], text: CardText, pal: Palette,
              refs: list[tuple[Image.Image, str]]) -> CardLayout:
    w, h = size
    u = min(w, h)
    portrait = h > w * 1.05
    mx, my = round(0.05 * w), round(0.05 * h)
    if portrait:
        my = round(0.04 * h)
    card = Image.new("RGBA", size, (0, 0, 0, 0))
    shade = np.zeros((h, w), np.float32)
    # Text layer and its soft shadow are drawn apart, so all text shares one blurred shadow.
    txt = Image.new("RGBA", size, (0, 0, 0, 0))
    td = ImageDraw.Draw(txt)

    f_badge, f_meta = font("bold", max(9, round(0.03 * u))), font("mono", max(8, round(0.026 * u)))
    f_beat, f_prompt = font("bold", max(12, round((0.058 if portrait else 0.066) * u))), font("regular", max(9, round(0.031 * u)))
    f_small = font("bold", max(8, round(0.022 * u)))
    f_tc = max(10, round(0.04 * u))

    # Header: shot badge, id and title on the left; running timecode (ffmpeg) and timing on the right.
    pad = round(0.012 * u)
    bb = td.textbbox((0, 0), text.shot_label, font=f_badge)
    bw, bh = bb[2] - bb[0] + 2 * pad + pad, bb[3] - bb[1] + 2 * pad
    ImageDraw.Draw(card).rounded_rectangle([mx, my, mx + bw, my + bh], radius=bh // 4, fill=pal.accent + (235,))
    dark = (18, 18, 24, 255) if sum(pal.accent) > 380 else (255, 255, 255, 255)
    ImageDraw.Draw(card).text((mx + bw / 2, my + bh / 2), text.shot_label, font=f_badge, fill=dark, anchor="mm")
    header_bottom = my + bh
    head = " · ".join(t for t in (text.shot_id, text.title) if t)
    head_w = w - 2 * mx - bw - pad * 2 - (0 if portrait else round(0.32 * w))
    if head:
        line = wrap(head, f_badge, max(40, head_w), 1)[0]
        td.text((mx + bw + pad * 2, my + bh / 2), line, font=f_badge, fill=(255, 255, 255, 235), anchor="lm")
    tc_y = my if not portrait else header_bottom + pad * 2
    timing_y = tc_y + f_tc + pad
    td.text((w - mx, timing_y), text.timing, font=f_meta, fill=(235, 235, 240, 220), anchor="ra")
    header_bottom = max(header_bottom, timing_y + f_meta.size + pad)
    shade[: int(header_bottom + 0.08 * h)] = np.linspace(0.55, 0, int(header_bottom + 0.08 * h))[:, None]

    # Reference thumbnails: a row under the header, right-aligned (left in portrait), each labelled.
    if refs:
        th = round((0.17 if not portrait else 0.11) * h)
        gap = round(0.015 * u)
        thumbs = []
        for im, name in refs:
            ar = max(0.6, min(1.6, im.width / max(1, im.height)))
            thumbs.append((cover(im, (max(8, round(th * ar)), th)), name))
        total = sum(t.width for t, _ in thumbs) + gap * (len(thumbs) - 1)
        scale = min(1.0, (w - 2 * mx) / total)
        if scale < 1.0:
            thumbs = [(t.resize((max(8, round(t.width * scale)), max(8, round(t.height * scale)))), n) for t, n in thumbs]
            total = sum(t.width for t, _ in thumbs) + gap * (len(thumbs) - 1)
        x = mx if portrait else w - mx - total
        y = header_bottom + pad * 2
        cd = ImageDraw.Draw(card)
        for t, name in thumbs:
            bdr = max(1, round(u / 360))
            cd.rounded_rectangle([x - bdr, y - bdr, x + t.width + bdr - 1, y + t.height + bdr - 1], radius=bdr * 3,
                                 fill=(255, 255, 255, 230))
            card.paste(t, (x, y))
            if name:
                label = wrap(name.upper(), f_small, t.width - 2 * bdr, 1)[0]
                lb = td.textbbox((0, 0), label, font=f_small)
                lh = lb[3] - lb[1] + pad
                cd.rectangle([x, y + t.height - lh, x + t.width - 1, y + t.height - 1], fill=(0, 0, 0, 150))
                td.text((x + t.width / 2, y + t.height - lh / 2), label, font=f_small, fill=(255, 255, 255, 255), anchor="mm")
            x += t.width + gap

    # Bottom block, laid out upwards from the safe margin: prompt excerpt, beat, camera line.
    text_w = w - 2 * mx - round(0.02 * u)
    bar_h = max(2, round(u / 180))
    bar_y = h - bar_h
    y = h - my
    prompt_lines = wrap(text.prompt, f_prompt, text_w, 5 if portrait else 3) if text.prompt else []
    beat_lines = wrap(text.beat, f_beat, text_w, 4 if portrait else 2) if text.beat else []
    lh_p, lh_b = round(f_prompt.size * 1.3), round(f_beat.size * 1.12)
    y -= lh_p * len(prompt_lines)
    py = y
    y -= round(0.02 * u) + lh_b * len(beat_lines)
    by = y
    cam = f"{text.camera_icon}  {text.camera}".strip()
    cy = y - round(0.015 * u) - f_small.size - pad
    rule_x = mx
    tx = mx + round(0.02 * u)
    for i, line in enumerate(beat_lines):
        td.text((tx, by + i * lh_b), line, font=f_beat, fill=(255, 255, 255, 255))
    for i, line in enumerate(prompt_lines):
        td.text((tx, py + i * lh_p), line, font=f_prompt, fill=(222, 226, 234, 235))
    ImageDraw.Draw(card).rectangle([rule_x, by + round(0.008 * u), rule_x + max(2, round(u / 200)),
                                    py + lh_p * max(1, len(prompt_lines)) - round(0.01 * u)], fill=pal.accent + (255,))
    if cam:
        cb = td.textbbox((0, 0), cam, font=f_small)
        cw = cb[2] - cb[0] + 2 * pad
        ImageDraw.Draw(card).rounded_rectangle([tx, cy, tx + cw, cy + f_small.size + pad], radius=(f_small.size + pad) // 2,
                                               outline=(255, 255, 255, 200), width=max(1, round(u / 500)))
        td.text((tx + cw / 2, cy + (f_small.size + pad) / 2), cam, font=f_small, fill=(255, 255, 255, 240), anchor="mm")
    top_of_block = int(max(0, cy - 0.06 * h))
    ramp = np.linspace(0, 1, h - top_of_block) ** 1.3 * 0.78
    shade[top_of_block:] = np.maximum(shade[top_of_block:], ramp[:, None])

    # Vignette and safe-area corner marks: the look of a viewfinder, and it helps text contrast.
    ys, xs = np.ogrid[:h, :w]
    r = np.sqrt(((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2)
    shade = np.maximum(shade, np.clip((r - 0.75) * 0.45, 0, 0.35))
    base = Image.fromarray((shade * 255).astype(np.uint8), "L")
    shade_img = Image.new("RGBA", size, (6, 8, 14, 0))
    shade_img.putalpha(base)
    ink = max(1, round(u / 400))
    cl = round(0.04 * u)
    marks = ImageDraw.Draw(shade_img)
    cx0, cy0 = round(0.025 * w), round(0.025 * h)
    for x0, y0, sx, sy in ((cx0, cy0, 1, 1), (w - cx0, cy0, -1, 1), (cx0, h - cy0 - bar_h, 1, -1), (w - cx0, h - cy0 - bar_h, -1, -1)):
        marks.line([(x0, y0), (x0 + sx * cl, y0)], fill=(255, 255, 255, 110), width=ink)
        marks.line([(x0, y0), (x0, y0 + sy * cl)], fill=(255, 255, 255, 110), width=ink)
    out = Image.alpha_composite(shade_img, card)
    shadow = Image.new("RGBA", size, (0, 0, 0, 0))
    shadow.putalpha(txt.getchannel("A").point(lambda a: a * 0.7).filter(ImageFilter.GaussianBlur(max(1.0, u / 300))))
    out = Image.alpha_composite(Image.alpha_composite(out, shadow), txt)
    return CardLayout(out, w - mx, tc_y, f_tc, bar_y, bar_h)
