"""The animatic's palette: colours, light and scenery read from a prompt's words (a "dusk forest" is drawn
at dusk, in a forest), and the stable seed every drawing choice derives from."""

from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import dataclass, field

RGB = tuple[int, int, int]


def hex_rgb(s: str) -> RGB:
    return int(s[1:3], 16), int(s[3:5], 16), int(s[5:7], 16)


def mix_rgb(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(a[i] + (b[i] - a[i]) * t)) for i in range(3))  # type: ignore[return-value]


def shade_rgb(c: RGB, k: float) -> RGB:
    return tuple(max(0, min(255, int(round(v * k)))) for v in c)  # type: ignore[return-value]


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, max(0.0, min(1.0, s)), max(0.0, min(1.0, v)))
    return int(r * 255), int(g * 255), int(b * 255)


def stable_int(*parts: object) -> int:
    """A hash that is the same in every process (Python's hash() is salted per run)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Palette:
    sky_top: RGB
    sky_bottom: RGB
    ground: RGB
    accent: RGB
    scenery: str = "hills"  # hills, forest, water, city, mountain, dunes, interior, studio, space
    celestial: str = "sun"  # sun, sun_low, moon, none
    light: str = "day"
    minor: bool = False  # for the tone bed: darker moods get a minor chord
    words: tuple[str, ...] = field(default=())  # the words that chose it, for tests and logs


# Time of day / light: (keywords, sky top, sky bottom, accent, celestial, minor)
LIGHTS: dict[str, tuple[tuple[str, ...], str, str, str, str, bool]] = {
    "sunset": (("sunset", "dusk", "golden hour", "sundown", "evening", "twilight", "warm light"),
               "#2e1f5e", "#ff8a4c", "#ffb45e", "sun_low", False),
    "sunrise": (("sunrise", "dawn", "daybreak", "early morning"), "#5d7fc9", "#ffc79a", "#ffcf8a", "sun_low", False),
    "night": (("night", "midnight", "moon", "moonlit", "nighttime", "stars", "starry", "nocturnal", "neon", "dark"),
              "#050a1e", "#1c2d63", "#7fa6ff", "moon", True),
    "overcast": (("rain", "rainy", "storm", "stormy", "fog", "foggy", "mist", "misty", "cloudy", "overcast", "grey", "gray"),
                 "#4f5866", "#a3abb5", "#c9d3df", "none", True),
    "space": (("space", "galaxy", "cosmic", "planet", "astronaut", "nebula", "orbit"),
              "#02030b", "#1a1240", "#b48cff", "none", True),
    "underwater": (("underwater", "reef", "deep sea", "coral", "submarine"), "#0d5d78", "#02202c", "#5ee6e0", "none", False),
    "studio": (("studio", "product shot", "packshot", "white background", "minimal", "minimalist", "clean background"),
               "#ecebf0", "#c9ccd6", "#ff6b4a", "none", False),
    "day": (("day", "daytime", "sunny", "noon", "morning", "afternoon", "summer", "blue sky", "bright", "sunshine"),
            "#3b7dd8", "#c4e6ff", "#ffd35c", "sun", False),
}

# Place: (keywords, ground colour, scenery)
PLACES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "forest": (("forest", "park", "garden", "woods", "woodland", "meadow", "grass", "grassy", "trees", "tree", "jungle",
                "field", "countryside", "trail", "hike", "hiking", "lawn", "leaves", "nature"), "#2f6e3b", "forest"),
    "water": (("beach", "ocean", "sea", "coast", "shore", "surf", "surfing", "island", "tropical", "lake", "river",
               "seaside", "harbor", "harbour", "boat", "waves"), "#e4cf9c", "water"),
    "city": (("city", "street", "streets", "urban", "downtown", "skyline", "building", "buildings", "alley", "subway",
              "traffic", "rooftop", "sidewalk", "town", "cyberpunk"), "#2b2f3d", "city"),
    "mountain": (("mountain", "mountains", "snow", "snowy", "winter", "ski", "alpine", "glacier", "ice", "peak", "cliff"),
                 "#dbe5f0", "mountain"),
    "dunes": (("desert", "dune", "dunes", "canyon", "sahara", "savanna"), "#d69a5f", "dunes"),
    "interior": (("cafe", "café", "coffee", "kitchen", "room", "office", "home", "bedroom", "living room", "interior",
                  "shop", "store", "restaurant", "bar", "indoors", "inside", "library", "classroom"), "#5a3c2e", "interior"),
}

COLOUR_WORDS: dict[str, str] = {
    "red": "#e5484d", "crimson": "#c2183a", "orange": "#ff8f3f", "amber": "#ffb020", "yellow": "#ffd23f",
    "gold": "#f2c14e", "golden": "#f2c14e", "green": "#46c16b", "emerald": "#1fa974", "teal": "#1fb5a8",
    "turquoise": "#2ec4c4", "cyan": "#35d0e8", "blue": "#3d7eff", "navy": "#27408b", "purple": "#9b5de5",
    "violet": "#8e5cf7", "magenta": "#e535ab", "pink": "#ff70a6", "pastel": "#f7b2d9", "silver": "#c0c7d1",
}
DARK_MOODS = ("moody", "noir", "horror", "eerie", "sad", "melancholy", "melancholic", "ominous", "gloomy", "tense", "somber")
BRIGHT_MOODS = ("happy", "joyful", "playful", "vibrant", "cheerful", "colorful", "colourful", "fun", "upbeat", "whimsical")


def _find(words: tuple[str, ...], text: str) -> int:
    """Position of the first of `words` in `text` (whole words), or -1."""
    best = -1
    for w in words:
        m = re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)
        if m and (best < 0 or m.start() < best):
            best = m.start()
    return best


def palette_for(prompt: str, seed: int = 0) -> Palette:
    """Derive the backdrop palette from the colour, light, place and mood words in the prompt.

    Light words pick the sky, place words the ground and scenery; with neither, the colours
    come from a hash of the prompt so that every shot still looks distinct but stable."""
    text = prompt.lower()
    light_hits = sorted((p, k) for k, v in LIGHTS.items() if (p := _find(v[0], text)) >= 0)
    place_hits = sorted((p, k) for k, v in PLACES.items() if (p := _find(v[0], text)) >= 0)
    chosen: list[str] = []
    h = stable_int(prompt, seed)
    if not light_hits and not place_hits:
        hue = (h % 1000) / 1000
        top, bottom = _hsv(hue, 0.55, 0.32), _hsv(hue + 0.07, 0.40, 0.86)
        ground, accent = _hsv(hue - 0.06, 0.45, 0.30), _hsv(hue + 0.5, 0.55, 1.0)
        scenery, celestial, light, minor = "hills", ("sun", "sun_low", "none")[h % 3], "hashed", bool(h >> 8 & 1)
    else:
        light = light_hits[0][1] if light_hits else "day"
        words, top_s, bottom_s, accent_s, celestial, minor = LIGHTS[light]
        top, bottom, accent = hex_rgb(top_s), hex_rgb(bottom_s), hex_rgb(accent_s)
        place = place_hits[0][1] if place_hits else None
        if place:
            ground, scenery = hex_rgb(PLACES[place][1]), PLACES[place][2]
            chosen.append(place)
        else:
            ground, scenery = mix_rgb(bottom, (40, 40, 48), 0.7), "hills"
        if light_hits:
            chosen.append(light)
        if light in ("studio", "space", "underwater"):
            scenery = light
        # Light colours the ground: warm at sunset, blue and dark at night.
        if light == "night":
            ground = shade_rgb(mix_rgb(ground, (20, 30, 70), 0.55), 0.55)
        elif light in ("sunset", "sunrise"):
            ground = shade_rgb(mix_rgb(ground, (120, 50, 60), 0.35), 0.8)
        elif light == "overcast":
            ground = mix_rgb(ground, (90, 96, 104), 0.4)
        if scenery == "interior" and light == "day":
            top, bottom, celestial = hex_rgb("#3a2a24"), hex_rgb("#c8925e"), "none"
    colour = sorted((p, k) for k in COLOUR_WORDS if (p := _find((k,), text)) >= 0)
    if colour:
        accent = hex_rgb(COLOUR_WORDS[colour[0][1]])
        top = mix_rgb(top, accent, 0.25)
        chosen.append(colour[0][1])
    if _find(DARK_MOODS, text) >= 0:
        top, bottom, ground = (shade_rgb(mix_rgb(c, (90, 90, 100), 0.3), 0.75) for c in (top, bottom, ground))
        minor = True
    elif _find(BRIGHT_MOODS, text) >= 0:
        top, bottom = _saturate(top, 1.2), _saturate(bottom, 1.2)
    return Palette(top, bottom, ground, accent, scenery, celestial, light, minor, tuple(chosen))


def _saturate(c: RGB, k: float) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(*(x / 255 for x in c))
    return _hsv(h, s * k, v)
