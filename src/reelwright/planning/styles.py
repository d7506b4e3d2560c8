"""Prompt styles per generator: which style a backend's model wants, the style's written instructions
(package data, also given to LLM prompt writers), and a deterministic dense-prompt writer for each."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from ..errors import ConfigError

STYLES: tuple[str, ...] = ("wan", "ltx", "veo", "runway", "grok", "generic")
_ALIASES = {"animatic": "generic", "xai": "grok", "grok-imagine": "grok", "gen4": "runway", "luma": "generic"}
NEGATIVE_STYLES = frozenset({"wan", "ltx", "veo"})  # styles whose generators take a negative prompt

WAN_NEGATIVE = ("blurry, out of focus, static frame, frozen motion, over-saturated, overexposed, low quality, "
                "worst quality, JPEG artefacts, watermark, subtitles, on-screen text, logo, extra fingers, extra limbs, "
                "deformed hands, poorly drawn face, disfigured, fused fingers, messy background, walking backwards, "
                "flicker, morphing")
LTX_NEGATIVE = "worst quality, inconsistent motion, blurry, jittery, distorted, morphing, watermark, on-screen text"
VEO_NEGATIVE = ("blurry footage, distorted faces, extra limbs, deformed hands, on-screen text, subtitles, watermark, "
                "logos, pixelated low-quality footage, flicker")
DEFAULT_STYLE_WORDS = ("cinematic", "photorealistic")
RUNWAY_MAX_CHARS = 1000


def style_for_generator(generator_name: str, model: str = "") -> str:
    """The prompt style for a backend and model: xai -> grok, veo -> veo, runway -> runway (veo3.1 on Runway
    -> veo), diffusers/replicate/fal by model id (wan, ltx, …), animatic/luma/unknown -> generic."""
    name = generator_name.strip().lower().partition(":")[0]
    model_id = (model or generator_name.partition(":")[2]).strip().lower()
    by_model = _style_from_model(model_id)
    if name in ("xai", "grok"):
        return "grok"
    if name == "veo":
        return "veo"
    if name == "runway":
        return "veo" if by_model == "veo" else "runway"
    if name in ("diffusers", "replicate", "fal", "huggingface", "hf"):
        return by_model or "generic"
    return by_model or _ALIASES.get(name, "generic")


def _style_from_model(model_id: str) -> str | None:
    for pattern, style in ((r"wan", "wan"), (r"ltx", "ltx"), (r"veo", "veo"), (r"grok", "grok"),
                           (r"gen-?4|runway", "runway")):
        if re.search(pattern, model_id):
            return style
    return None


def _check_style(style: str) -> str:
    s = _ALIASES.get(style.strip().lower(), style.strip().lower())
    if s not in STYLES:
        raise ConfigError(f"unknown prompt style {style!r}: use one of {', '.join(STYLES)}")
    return s


@lru_cache(maxsize=None)
def load_style_instructions(style: str) -> str:
    """The written rules of a style (Markdown), shipped as package data `planning/styles/<style>.md`."""
    s = _check_style(style)
    return resources.files("reelwright.planning").joinpath("styles", f"{s}.md").read_text(encoding="utf-8")


def uses_negative(style: str) -> bool:
    return _check_style(style) in NEGATIVE_STYLES


# ---------------------------------------------------------------- vocabulary

_STYLE_PHRASES = {
    "cinematic": "cinematic live-action film style", "photorealistic": "photorealistic",
    "anime": "anime style, cel-shaded 2D animation", "documentary": "observational documentary style",
    "claymation": "claymation, handmade clay figures with visible fingerprints and texture",
    "stop-motion": "stop-motion animation", "watercolour": "soft watercolour painting style",
    "3D animated": "polished 3D animation", "cartoon": "bright cartoon style", "hand-drawn": "hand-drawn 2D animation",
    "film noir": "black-and-white film noir", "black and white": "black-and-white film",
    "handheld": "handheld camera feel", "ugc": "authentic smartphone footage", "vlog": "vlog-style smartphone footage",
    "motion graphics": "clean motion graphics", "minimalist": "minimalist design",
}
_MOVES = (
    (r"push-?in|dolly-?in|dolly\s+in|push\s+in", "the camera slowly pushes in"),
    (r"pull-?back|pull\s+back|dolly-?out", "the camera slowly pulls back"),
    (r"track", "the camera tracks alongside the subject"),
    (r"\bpan", "the camera pans smoothly across the scene"),
    (r"tilt", "the camera tilts slowly upward"),
    (r"\barc|orbit", "the camera arcs slowly around the subject"),
    (r"crane", "the camera cranes slowly down toward the subject"),
    (r"handheld|selfie", "the handheld camera moves with a gentle, natural sway"),
    (r"drift", "the camera drifts gently, holding close"),
    (r"glide|slide|truck|lateral", "the camera glides smoothly sideways"),
    (r"zoom", "the lens zooms slowly in"),
    (r"locked|static|still|tripod|hold", "the camera holds steady on a tripod"),
)
_TONES = (
    (r"golden|sunset|warm|candle|amber", "warm amber tones"), (r"night|moon|blue", "cool blue tones"),
    (r"neon", "saturated magenta and cyan tones"), (r"overcast|rain|fog|mist|haz", "muted, desaturated tones"),
    (r"studio", "clean neutral tones"), (r"dawn|pink", "soft pastel tones"),
)
_TIMES = (
    (r"golden", "golden hour"), (r"sunset|dusk", "sunset"), (r"dawn|sunrise", "dawn"), (r"twilight|blue\s+hour", "twilight"),
    (r"night|moon", "night"), (r"morning", "morning"), (r"studio", "studio"), (r"candle", "evening"),
)
_SCENE_MOTION = (
    (r"coffee|café|cafe|bakery|restaurant|diner", "steam curls from cups and patrons move softly in the background"),
    (r"beach|sea|ocean|shore|coast", "waves roll onto the shore and sea spray glitters in the light"),
    (r"forest|trail|woods|jungle", "leaves flutter and dappled light shifts across the ground"),
    (r"park|garden|meadow|field|lawn", "grass and leaves sway gently in the breeze"),
    (r"street|sidewalk|neighbou?rhood|city|town|alley|road", "leaves sway and passers-by drift through the background"),
    (r"kitchen", "steam rises from the stove and utensils glint"),
    (r"office", "screens glow softly and colleagues move in the background"),
    (r"space|orbit|planet", "stars drift slowly and distant nebulae glow"),
    (r"snow|mountain|ski", "snowflakes drift through the air"),
    (r"desert|dune|canyon", "sand ripples and heat haze shimmers"),
    (r"studio|stage", "soft particles drift through beams of light"),
    (r"bedroom|room|home|house|apartment|flat", "curtains stir softly and dust motes float in the light"),
)
_AMBIENCE = (
    (r"coffee|café|cafe", "the hiss of an espresso machine, cups clinking and soft chatter"),
    (r"beach|sea|ocean|shore|coast", "rolling waves and distant gulls"),
    (r"forest|trail|woods|jungle", "rustling leaves and birdsong"),
    (r"park|garden|meadow|field", "birdsong and distant voices"),
    (r"street|sidewalk|neighbou?rhood|city|town|road", "distant traffic and birdsong"),
    (r"kitchen", "sizzling pans and clinking utensils"), (r"office", "keyboard clicks and a soft air-conditioning hum"),
    (r"space", "a deep, quiet hum"), (r"snow|mountain", "wind and crunching snow"),
    (r"studio|stage", "a soft whoosh and a warm musical swell"),
    (r"bedroom|room|home|house|apartment", "a quiet room tone and a ticking clock"),
)
_SFX = (
    (r"walk|stroll|trot|hike|march|run|jog|wander", "footsteps on the ground"), (r"sniff", "soft sniffing"),
    (r"\blick|\blap(?:s|ping)?\b|chew|gnaw|pup\s*cups?|puppuccino", "happy lapping and chewing"),
    (r"\bdrink|\bsip|\bgulp|\bswig", "a few sips and a satisfied exhale"),
    (r"\beat|\bbite|\btast|\bmunch|\bcrunch|\bsnack", "soft crunching bites"),
    (r"meet|greet|friend|hug", "a friendly greeting"), (r"\bdog|pupp|bark", "an occasional happy bark"),
    (r"laugh|play", "laughter"), (r"cook|fry|sizzl", "sizzling"), (r"pour|espresso|brew|grind", "grinding and pouring"),
    (r"door|open", "a door creaking open"), (r"car\b|drive", "an engine humming"), (r"type|laptop|keyboard", "keyboard clicks"),
    (r"logo|reveal|brand|tagline", "a crisp whoosh and a soft chime"), (r"wave|splash|swim", "splashing water"),
)


def _first(table: Sequence[tuple[str, str]], text: str, default: str) -> str:
    return next((value for pattern, value in table if re.search(pattern, text, re.I)), default)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _sentence(text: str) -> str:
    t = _cap(text.strip())
    return t if not t or t[-1] in ".!?\"”" else t + "."


def _definite(subject: str) -> str:
    """A later mention: 'a dog' -> 'the dog'."""
    return re.sub(r"(?i)^(?:a|an)\s+", "the ", subject.strip())


def _words(text: str) -> int:
    return len(text.split())


def _plural(subject: str) -> bool:
    words = re.findall(r"[\w'’]+", subject.lower())
    if not words:
        return False
    if words[0] in ("two", "three", "four", "five", "several", "many", "some", "these", "those") or \
            (words[0].isdecimal() and int(words[0]) > 1):
        return True
    head = words[-1]
    return " and " in f" {subject.lower()} " or (head.endswith("s") and not head.endswith(("ss", "us", "is", "'s", "’s")))


def _clause(subject: str, action: str, setting: str) -> str:
    """'a dog' + 'going on a walk' + 'in a park' -> 'A dog is going on a walk in a park'. The beat is kept whole."""
    from .lexicon import is_verbish

    subject, action = subject.strip(), action.strip().rstrip(".")
    words = action.split()
    where = f" {setting}" if setting and setting.lower() not in action.lower() else ""
    if not action:
        return _cap(f"{subject or 'the scene'}{where}")
    if not subject:
        return _cap(f"{action}{where}")
    nxt = words[1] if len(words) > 1 else ""
    if words[0].lower().endswith("ing") and (is_verbish(words[0], leading=True) or is_verbish(words[0], nxt)):
        return _cap(f"{subject} {'are' if _plural(subject) else 'is'} {action}{where}")
    if is_verbish(words[0], words[1] if len(words) > 1 else "") and not words[0][:1].isupper():
        return _cap(f"{subject} {action}{where}")
    head = re.findall(r"[\w'’]+", subject.lower())
    if head and re.search(rf"(?<!\w){re.escape(head[-1])}(?!\w)", action.lower()):
        return _cap(f"{action}{where}")  # the beat names the subject itself ("the dog eats")
    first = words[0].lower()
    lead = first if first in ("she", "he", "they", "it", "we", "i") else words[0]
    return _cap(f"{subject}{where}: {' '.join([lead, *words[1:]])}")


class _Shot:
    """The pieces every style composes, derived once."""

    def __init__(self, subject: str, action: str, setting: str, camera: str, lighting: str, mood: str,
                 style_words: Sequence[str] | str, references: Sequence[str], audio: bool, cue_words: str | None = None):
        self.subject = subject.strip()
        self.action = action.strip()
        self.setting = setting.strip()
        self.clause = _clause(self.subject, self.action, self.setting)
        size, _, move = camera.partition(",")
        self.size = size.strip() or "medium shot"
        self.move = _first(_MOVES, move or camera, "the camera moves smoothly with the action")
        self.angle = ("low angle" if re.search(r"\blow[\s-]angle", camera, re.I)
                      else "high angle" if re.search(r"\bhigh[\s-]angle|overhead|top-down", camera, re.I) else "eye level")
        self.composition = ("centered symmetrical composition" if re.search(r"cent(er|re)|symmetr", camera, re.I)
                            else "rule-of-thirds composition")
        self.lens = ("85mm lens, shallow depth of field" if re.search(r"close|macro", camera, re.I)
                     else "24mm wide-angle lens, deep focus" if re.search(r"wide|establishing", camera, re.I)
                     else "35mm lens, shallow depth of field")
        self.lighting = lighting.strip() or "soft natural daylight"
        self.tone = _first(_TONES, self.lighting, "natural, balanced colour")
        self.time = _first(_TIMES, self.lighting, "daytime")
        self.mood = mood.strip() or "natural"
        words = [style_words] if isinstance(style_words, str) else list(style_words)
        words = [w for w in words if w.strip()] or list(DEFAULT_STYLE_WORDS)
        self.style = ", ".join(dict.fromkeys(_STYLE_PHRASES.get(w.strip(), w.strip()) for w in words))
        self.references = [r for r in references if r and r.strip()]
        self.audio = audio
        place = f"{self.setting} {self.action}"
        self.scene_motion = _first(_SCENE_MOTION, place, "subtle ambient movement fills the background")
        self.ambience = _first(_AMBIENCE, place, "the natural ambient sound of the place")
        cues = f"{self.action} {self.subject}" if cue_words is None else cue_words
        self.sfx = _first(_SFX, cues, "natural sounds that match the action")
        self.dialogue = re.findall(r"[\"“]([^\"”]+)[\"”]", self.action)


_PADDING = (
    "Depth of field separates the subject from the background.",
    "Soft highlights roll off naturally and shadows keep their detail.",
    "The subject stays consistent in shape, colour and proportion throughout.",
    "Subtle secondary motion, such as hair, fur or fabric reacting to movement, adds realism.",
    "Background elements stay coherent and stable from the first frame to the last.",
)


def _fit(required: list[str], optional: list[str], *, low: int = 0, high: int | None = None, keep_first: int = 0) -> str:
    """Join sentences, padding up to `low` words and dropping optional ones (from the end) above `high`."""
    opt = list(optional)
    pad = list(_PADDING)
    while _words(" ".join(required + opt)) < low and pad:
        opt.append(pad.pop(0))
    while high is not None and _words(" ".join(required + opt)) > high and opt:
        opt.pop()
    return " ".join(s for s in required[:keep_first] + opt + required[keep_first:] if s)


def write_prompt(style: str, *, subject: str, action: str, setting: str, camera: str, lighting: str, mood: str,
                 style_words: Sequence[str] | str, references: Sequence[str] = (), audio: bool,
                 cue_words: str | None = None) -> tuple[str, str]:
    """A dense prompt and its negative ('' where the style takes none), deterministically, following the style's
    rules. `action` is the beat; its words appear whole in the prompt. `references` are the names of the
    entities whose reference images go with this clip, in the order they are sent. `cue_words`: the words
    that may choose a sound effect (default: the action and subject), so a template's own wording ('as the
    scene opens') cannot call up a cue ('a door creaking open') the person never asked for."""
    s = _check_style(style)
    shot = _Shot(subject, action, setting, camera, lighting, mood, style_words, references, audio, cue_words)
    prompt = {"wan": _wan, "ltx": _ltx, "veo": _veo, "runway": _runway, "grok": _grok, "generic": _generic}[s](shot)
    negative = {"wan": WAN_NEGATIVE, "ltx": LTX_NEGATIVE, "veo": VEO_NEGATIVE}.get(s, "")
    return re.sub(r"\s+", " ", prompt).strip(), negative


def _ref_text(shot: _Shot) -> list[str]:
    return [f"{_cap(name)} matches the reference image of {name}." for name in shot.references]


def _wan(shot: _Shot) -> str:
    head = [_sentence(shot.style),
            _sentence(f"{shot.time}, {shot.lighting}, {shot.tone}, {shot.size}, {shot.angle}, {shot.composition}"),
            _sentence(shot.clause)]
    optional = _ref_text(shot) + [
        "Every movement is concrete and fluid, with realistic weight and timing.",
        _sentence(shot.move), _sentence(shot.scene_motion),
        _sentence(f"{shot.mood} atmosphere, fine detail in textures and surfaces")]
    return _fit(head, optional, low=80, high=200, keep_first=len(head))


def _ltx(shot: _Shot) -> str:
    head = [_sentence(shot.clause)]
    optional = _ref_text(shot) + [
        "The movement is natural and continuous, each gesture following from the last.",
        _sentence(f"{_definite(shot.subject) or 'the scene'} is shown in {shot.style}"),
        _sentence(shot.scene_motion),
        _sentence(f"in a {shot.size} at {shot.angle}, {shot.move}"),
        _sentence(f"the scene is lit by {shot.lighting}, with {shot.tone}"),
        _sentence(f"as the shot continues, the action unfolds smoothly and the {shot.mood} mood holds")]
    return _fit(head, optional, high=200, keep_first=1)


def _veo(shot: _Shot) -> str:
    parts = [_sentence(shot.clause)]
    parts += [f"{_cap(name)} looks exactly as in the reference image." for name in shot.references]
    parts += [_sentence(f"Style: {shot.style}"),
              _sentence(f"Camera: {shot.size} at {shot.angle}; {shot.move}; {shot.composition}; {shot.lens}"),
              _sentence(f"Ambiance: {shot.lighting}, {shot.tone}, {shot.mood} mood")]
    if shot.audio:
        said = " ".join(f'{_cap(shot.subject or "someone")} says, "{line}"' for line in shot.dialogue)
        parts.append(_sentence(f"Audio: {said + ' ' if said else ''}SFX: {shot.sfx}. Ambient: {shot.ambience}"))
    return " ".join(parts)


def _runway(shot: _Shot) -> str:
    clause = _clause(f"the subject, {shot.subject}," if shot.subject else "the subject", shot.action, shot.setting)
    parts = [_sentence(clause), _sentence(shot.move), _sentence(shot.scene_motion),
             _sentence(f"{shot.style}, {shot.lighting}")]
    if shot.references:
        parts.insert(1, "The subject matches the reference image.")
    text = " ".join(parts)
    while len(text) > RUNWAY_MAX_CHARS and len(parts) > 1:
        parts.pop(-2 if len(parts) > 2 else -1)
        text = " ".join(parts)
    return text[:RUNWAY_MAX_CHARS]


def _grok(shot: _Shot) -> str:
    body = [_sentence(f"{shot.style}, {shot.size} at {shot.angle} with a {shot.composition}"), _sentence(shot.clause)]
    optional = [
        _sentence(f"every movement is natural and fluid, with realistic weight and timing, while {shot.scene_motion}"),
        _sentence(f"{shot.lighting}, {shot.tone}"), _sentence(shot.move), _sentence(f"{shot.mood} mood")]
    sound = [_sentence(f"Sound: {shot.sfx}, {shot.ambience}" + "".join(f', and a voice saying "{d}"' for d in shot.dialogue))] \
        if shot.audio else []
    text = _fit(body + sound, optional, low=80, high=200, keep_first=len(body))
    for i, name in enumerate(shot.references, 1):
        token = f"<IMAGE_{i}>"
        m = re.search(rf"\b{re.escape(name)}\b", text, re.I)
        if m:
            text = f"{text[: m.end()]} ({token}){text[m.end():]}"
        else:
            text = f"{text} {_cap(name)} appears as shown in {token}."
    return text


def _generic(shot: _Shot) -> str:
    parts = [_sentence(shot.clause), _sentence(f"{shot.size}; {shot.move}"), _sentence(f"{shot.lighting} with {shot.tone}"),
             _sentence(f"{shot.style}, {shot.mood} mood")]
    parts += [f"Matching the reference image of {name}." for name in shot.references]
    return " ".join(parts)
