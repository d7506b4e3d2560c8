"""The offline default backend: renders each shot as a storyboard-animatic clip (H.264/AAC) —
a card with the beat, prompt, timecode and camera over a moving painted backdrop, with a tone bed."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..brief import ASPECTS
from ..errors import BriefError, FFmpegError, InputFileError
from ..media.encode import aac_args, h264_args, mp4_args
from ..media.ffmpeg import run_ffmpeg
from ..media.fonts import font_file
from ..media.util import filter_escape
from ..timing import seconds_to_frames, timecode, to_fraction
from . import _cards, _palette
from .base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn

SAMPLE_RATE = 48000
MIN_DURATION, MAX_DURATION = Fraction(1, 2), Fraction(30)


@dataclass(frozen=True)
class Move:
    """A simulated camera move as ffmpeg expressions of P (0→1 linear), E (0→1 eased) and T (seconds).

    The backdrop is drawn `oversize` times the frame; `zoom` (start, end) scales it per frame
    (1 = the whole backdrop fills the frame); `u`/`v` place the crop window (0 = left/top)."""

    kind: str
    label: str
    icon: str
    oversize: float = 1.08
    zoom: tuple[float, float] | None = None
    u: str = "0.5"
    v: str = "0.5"


MOVES: dict[str, Move] = {
    "static": Move("static", "STATIC", "◦", 1.08, None, "0.35+0.3*P", "0.6-0.2*P"),
    "push_in": Move("push_in", "PUSH IN", "⊕", 1.22, (1.0, 1.22)),
    "pull_out": Move("pull_out", "PULL OUT", "⊖", 1.22, (1.22, 1.0)),
    "pan_left": Move("pan_left", "PAN LEFT", "←", 1.35, None, "1-E"),
    "pan_right": Move("pan_right", "PAN RIGHT", "→", 1.35, None, "E"),
    "tilt_up": Move("tilt_up", "TILT UP", "↑", 1.35, None, "0.5", "1-E"),
    "tilt_down": Move("tilt_down", "TILT DOWN", "↓", 1.35, None, "0.5", "E"),
    "track_left": Move("track_left", "TRACKING LEFT", "⇇", 1.4, None, "1-P", "0.5+0.05*sin(2*PI*1.6*T)"),
    "track_right": Move("track_right", "TRACKING RIGHT", "⇉", 1.4, None, "P", "0.5+0.05*sin(2*PI*1.6*T)"),
    "crane_up": Move("crane_up", "CRANE UP", "⇑", 1.4, None, "0.4+0.2*E", "1-E"),
    "crane_down": Move("crane_down", "CRANE DOWN", "⇓", 1.4, None, "0.6-0.2*E", "E"),
    "orbit": Move("orbit", "ORBIT", "↻", 1.18, (1.06, 1.18), "E", "0.5"),
    "aerial": Move("aerial", "AERIAL", "✈", 1.16, (1.0, 1.16), "0.5", "0.3+0.4*P"),
    "handheld": Move("handheld", "HANDHELD", "∿", 1.08, None,
                     "0.5+0.22*sin(2*PI*0.37*T)+0.12*sin(2*PI*0.91*T+1.3)",
                     "0.5+0.2*sin(2*PI*0.29*T+0.7)+0.1*sin(2*PI*1.13*T)"),
}

# Most specific first: "dolly in" must win over "dolly", "zoom out" over "zoom".
_CAMERA_WORDS: list[tuple[str, str]] = [
    (r"pull(?:s|ing)?[ -](?:back|out)|dolly[ -]out|zoom(?:s|ing)?[ -]out|push[ -]out|reveal", "pull_out"),
    (r"push(?:es|ing)?[ -]?in|dolly[ -]in|zoom(?:s|ing)?[ -]?in|move[ -]in|close[ -]in|creep|zoom|push", "push_in"),
    (r"orbit|arc(?:ing)? shot|circl|360", "orbit"),
    (r"track|follow|truck|dolly|steadicam|side[ -]scroll|lateral", "track"),
    (r"\bpan", "pan"),
    (r"\btilt", "tilt"),
    (r"crane|jib|pedestal|boom|rising shot", "crane"),
    (r"hand[ -]?held|shaky|\bpov\b|vlog|selfie|documentary", "handheld"),
    (r"aerial|drone|fly[ -]?over|bird'?s[ -]eye|overhead", "aerial"),
    (r"static|locked|tripod|still|fixed", "static"),
]


def camera_move(camera: str) -> Move:
    """Map a free-text camera hint ("slow push-in", "pan left", "tracking shot") to a Move."""
    text = camera.lower()
    for pattern, kind in _CAMERA_WORDS:
        if re.search(pattern, text):
            if kind in ("track", "pan"):
                kind += "_left" if "left" in text else "_right"
            elif kind == "tilt":
                kind += "_down" if "down" in text else "_up"
            elif kind == "crane":
                kind += "_down" if "down" in text or "lower" in text else "_up"
            return MOVES[kind]
    return MOVES["static"]


class AnimaticGenerator(Generator):
    """Storyboard animatic: exact-length H.264/AAC clips made locally, free, in about real time or better."""

    name = "animatic"

    def capabilities(self) -> Capabilities:
        return Capabilities(
            name="animatic", model="animatic", models=["animatic"],
            min_duration=MIN_DURATION, max_duration=MAX_DURATION, duration_step=Fraction(1, 4),
            aspects=list(ASPECTS), resolutions=["360p", "480p", "540p", "720p", "1080p"], fps=[],
            max_references=4, text_to_video=True, image_to_video=True, extend=True, reference_images=True,
            audio=True, price_per_second=0.0, concurrency=2, local=True,
            notes="renders any duration in range frame-exactly: frames = round(duration * fps)",
        )

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        report = progress or (lambda f, m: None)
        fps = Fraction(request.fps)
        frames = self._check(request, fps)
        seconds = Fraction(frames) / fps
        report(0.0, f"animatic {request.shot_id}: drawing the card")
        display = request.display or {}
        move = camera_move(str(display.get("camera") or "")) if display.get("camera") else _prompt_move(request.prompt)
        w, h = request.width, request.height
        pal = _palette.palette_for(request.prompt, request.seed)
        seed = _palette.stable_int(request.prompt, request.seed, request.shot_id)
        background = self._background(request)  # inputs are read first: a bad file fails before any work
        refs = [(_open_image(r.path, "reference image"), r.name) for r in request.references[:4]]
        if background is not None:
            move = _gentler(move)  # keep most of a given picture in frame
        zmax = max(move.zoom) if move.zoom else move.oversize
        bw, bh = _even(w * zmax), _even(h * zmax)
        if background is not None:
            backdrop = _cards.cover(background, (bw, bh))
        else:
            backdrop = _cards.draw_backdrop((bw, bh), pal, seed)
        start = _start_seconds(display)
        text = _card_text(request, display, move, fps, seconds, start)
        layout = _cards.draw_card((w, h), text, pal, refs)
        report(0.05, f"animatic {request.shot_id}: rendering {frames} frames")

        out = Path(request.out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.stem}.{uuid.uuid4().hex[:8]}.part.mp4")
        with tempfile.TemporaryDirectory(prefix="rw-animatic-") as td:
            bg_path, card_path = Path(td) / "backdrop.png", Path(td) / "card.png"
            backdrop.save(bg_path, compress_level=1)
            layout.image.save(card_path, compress_level=1)
            _release_heap()
            graph = _video_graph(move, w, h, fps, frames, layout, pal, start) + ";" + \
                _audio_graph(request, display, pal, seconds)
            args = ["-i", bg_path, "-i", card_path, "-filter_complex", graph,
                    "-map", "[vout]", "-map", "[aout]", "-fps_mode", "passthrough",
                    *h264_args(preset="veryfast", crf=20, threads=1, profile="high", bt709=True),
                    *aac_args(bitrate="128k", sample_rate=SAMPLE_RATE, channels=2), *mp4_args(strip_metadata=True),
                    "-f", "mp4", tmp]
            try:
                run_ffmpeg(args, progress=lambda f: report(0.05 + 0.93 * f, f"animatic {request.shot_id}: encoding"),
                           duration_s=float(seconds))
                os.replace(tmp, out)
            finally:
                tmp.unlink(missing_ok=True)
        report(1.0, f"animatic {request.shot_id}: done")
        return ClipResult(path=out, duration=seconds, cost_usd=0.0, model="animatic", seconds_generated=seconds,
                          metadata={"frames": frames, "camera": move.kind, "palette": list(pal.words)})

    def _check(self, request: ClipRequest, fps: Fraction) -> int:
        d = Fraction(request.duration)
        if d <= 0:
            raise BriefError(f"clip duration must be positive, got {float(d):g} s")
        if not MIN_DURATION <= d <= MAX_DURATION:
            raise BriefError(f"animatic clips are {float(MIN_DURATION):g}–{float(MAX_DURATION):g} s, got {float(d):g} s")
        if not Fraction(1) <= fps <= Fraction(120):
            raise BriefError(f"fps {float(fps):g} is out of range: use 1 to 120")
        if request.width < 16 or request.height < 16 or request.width % 2 or request.height % 2:
            raise BriefError(f"frame size {request.width}x{request.height} must be even and at least 16x16")
        if max(request.width, request.height) > 4096:
            raise BriefError(f"frame size {request.width}x{request.height} is larger than 4096 px")
        return max(1, seconds_to_frames(d, fps))

    def _background(self, request: ClipRequest) -> Image.Image | None:
        """The picture to move over: the first-frame image, else the last frame of the clip to extend."""
        if request.image is not None:
            return _open_image(request.image, "image")
        if request.extend_from is not None:
            return _last_frame(Path(request.extend_from))
        return None


def _open_image(path: Path, what: str) -> Image.Image:
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{what} not found: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            return ImageOps.exif_transpose(im).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputFileError(f"{what} is not a readable image: {p} ({exc.__class__.__name__})") from exc


def _last_frame(video: Path) -> Image.Image:
    if not video.is_file():
        raise InputFileError(f"video to extend not found: {video}")
    with tempfile.TemporaryDirectory(prefix="rw-animatic-") as td:
        png = Path(td) / "last.png"
        try:
            # Decoding the last second and keeping the final write is robust to any GOP layout.
            run_ffmpeg(["-sseof", "-1", "-i", video, "-map", "0:v:0", "-update", "1", png])
        except FFmpegError as exc:
            raise InputFileError(f"video to extend is not readable: {video}") from exc
        if not png.is_file():
            raise InputFileError(f"video to extend has no frames: {video}")
        return _open_image(png, "last frame")


def _gentler(move: Move) -> Move:
    """The same move over half the travel: for a first-frame image, which should stay mostly in view."""
    zoom = tuple(1 + (z - 1) / 2 for z in move.zoom) if move.zoom else None
    return replace(move, oversize=1 + (move.oversize - 1) / 2, zoom=zoom)


def _prompt_move(prompt: str) -> Move:
    """Without a camera hint, honour a camera phrase in the prompt itself; else a subtle drift."""
    m = re.search(r"[^.;,]*\b(camera|shot|push|dolly|pan|pans|panning|tilt|tracking|zoom|orbit|crane|handheld|aerial|drone)\b[^.;,]*",
                  prompt.lower())
    return camera_move(m.group(0)) if m else MOVES["static"]


def _start_seconds(display: dict) -> Fraction | None:
    """Where the shot starts in the cut, from `start` (seconds) or `start_tc` ("m:ss.mmm", "h:mm:ss.mmm")."""
    for key in ("start", "start_s", "start_seconds"):
        if key in display:
            try:
                return to_fraction(display[key])
            except ValueError:
                pass
    tc = display.get("start_tc")
    if isinstance(tc, (int, float, Fraction)):
        return to_fraction(tc)
    if isinstance(tc, str):
        m = re.fullmatch(r"\s*(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\s*", tc)
        if m:
            hours, minutes, secs = int(m.group(1) or 0), int(m.group(2)), Fraction(m.group(3))
            return hours * 3600 + minutes * 60 + secs
        try:
            return to_fraction(tc)
        except ValueError:
            return None
    return None


def _card_text(request: ClipRequest, display: dict, move: Move, fps: Fraction, seconds: Fraction,
               start: Fraction | None) -> _cards.CardText:
    index, count = display.get("index"), display.get("count")
    label = "SHOT"
    if index is not None:
        try:
            label = f"SHOT {int(index):02d}" + (f" / {int(count):02d}" if count is not None else "")
        except (TypeError, ValueError):
            label = f"SHOT {index}"
    prompt = " ".join(request.prompt.split())
    beat = " ".join(str(display.get("beat") or "").split())
    if not beat:  # the first clause of the prompt stands in for a missing beat
        words = re.split(r"(?<=[.;!?])\s|,\s", prompt, maxsplit=1)[0].rstrip(".;!?").split()
        beat = " ".join(words[:9]) + (" …" if len(words) > 9 else "")
    fps_text = f"{float(fps):.3f}".rstrip("0").rstrip(".")
    parts = [f"IN {timecode(start)}" if start is not None else (str(display["start_tc"]) if display.get("start_tc") else ""),
             f"{float(seconds):.2f} s", f"{fps_text} fps"]
    camera = str(display.get("camera") or "").strip()
    camera = camera.upper()[:32] if camera else move.label
    return _cards.CardText(label, request.shot_id, str(display.get("title") or ""), beat, prompt,
                           "  ·  ".join(p for p in parts if p), camera, move.icon)


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def _fps_arg(fps: Fraction) -> str:
    return f"{fps.numerator}/{fps.denominator}"


def _release_heap() -> None:
    """Hand freed painting buffers back to the OS: glibc keeps them in per-thread arenas otherwise, and
    with renders in several threads the process would hold every thread's high-water mark at once."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _video_graph(move: Move, w: int, h: int, fps: Fraction, frames: int, layout: _cards.CardLayout,
                 pal: _palette.Palette, start: Fraction | None) -> str:
    """Backdrop (looped still) → per-frame scale and crop (the camera) → card overlay → progress bar → timecode."""
    last = max(1, frames - 1)
    r = _fps_arg(fps)
    subst = {"P": f"(n/{last})", "E": f"(0.5-0.5*cos(PI*n/{last}))", "T": f"(n*{fps.denominator}/{fps.numerator})"}

    def expr(e: str) -> str:
        return re.sub(r"\b([PET])\b", lambda m: subst[m.group(1)], e)

    # Convert to YUV once, before the loop: scaling and cropping YUV per frame is ~5x cheaper than RGB.
    # Every branch ends itself (trim): `-frames:v` would make ffmpeg 5 cut the audio short too, and an
    # overlay whose looped input never ends never ends either.
    chain = [f"[0:v]scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,loop=loop=-1:size=1:start=0,"
             f"settb=1/({r}),setpts=N,fps={r},trim=end_frame={frames}"]
    if move.zoom:
        z0, z1 = move.zoom
        zmax = max(move.zoom)
        z = f"({z0 / zmax}+({(z1 - z0) / zmax})*{subst['E']})"  # fraction of the drawn backdrop's size
        chain.append(f"scale=w='max({w},2*trunc(iw*{z}/2))':h='max({h},2*trunc(ih*{z}/2))':eval=frame:flags=bilinear")
    # exact=1: whole-pixel steps (not 2 px); the half-pixel chroma shift is invisible on a soft backdrop.
    chain.append(f"crop={w}:{h}:x='(iw-{w})*clip({expr(move.u)},0,1)':y='(ih-{h})*clip({expr(move.v)},0,1)':exact=1[bg]")
    graph = [",".join(chain),
             f"[1:v]scale=out_color_matrix=bt709:out_range=tv,format=yuva420p,loop=loop=-1:size=1:start=0,settb=1/({r}),setpts=N,"
             f"trim=end_frame={frames}[card]",
             "[bg][card]overlay=0:0:format=yuv420[v1]",
             f"color=c=0x{bytes(pal.accent).hex()}:s={w}x{layout.bar_h}:r={r},trim=end_frame={frames}[bar]",
             f"[v1][bar]overlay=x='-w+w*(n+1)/{frames}':y={layout.bar_y}[v2]"]
    font = font_file("mono")
    if font:
        offset = f"{float(start):.6f}" if start is not None else "0"
        graph.append(f"[v2]drawtext=fontfile={filter_escape(str(font))}:text='%{{pts\\:hms\\:{offset}}}':fontsize={layout.tc_size}"
                     f":fontcolor=white:shadowcolor=black@0.6:shadowx=1:shadowy=1"
                     f":x={layout.tc_x_right}-tw:y={layout.tc_y},setsar=1[vout]")
    else:
        graph.append("[v2]setsar=1[vout]")
    return ";".join(graph)


# Chords for the tone bed, in semitones above the key's root; one per shot, cycling.
_MAJOR = [(0, 4, 7, 12), (-5, 2, 7, 11), (-3, 4, 9, 12), (-7, 0, 5, 9)]  # I  V  vi  IV
_MINOR = [(0, 3, 7, 12), (-4, 3, 8, 12), (-9, 3, 7, 10), (-2, 2, 5, 10)]  # i  VI  III  VII
_ROOTS = (110.0, 123.47, 130.81, 146.83, 98.0)  # A2 B2 C3 D3 G2


def _audio_graph(request: ClipRequest, display: dict, pal: _palette.Palette, seconds: Fraction) -> str:
    """A quiet chord pad with a little pink-noise air, exactly `seconds` long, faded at both ends."""
    samples = seconds_to_frames(seconds, Fraction(SAMPLE_RATE))
    fade = min(0.25, float(seconds) / 4)
    tail = (f"atrim=end_sample={samples},asetpts=N/SR/TB,afade=t=in:d={fade:.4f},"
            f"afade=t=out:st={float(seconds) - fade:.4f}:d={fade:.4f},aformat=sample_rates={SAMPLE_RATE}:channel_layouts=stereo[aout]")
    if not request.audio:
        return f"anullsrc=r={SAMPLE_RATE}:cl=stereo,{tail}"
    # The key belongs to the whole video (title), the chord to the shot's place in it.
    key = _ROOTS[_palette.stable_int(display.get("title") or "", display.get("count") or "") % len(_ROOTS)]
    try:
        step = int(display["index"]) - 1
    except (KeyError, TypeError, ValueError):
        step = _palette.stable_int(request.shot_id) % 4
    chord = (_MINOR if pal.minor else _MAJOR)[step % 4]
    freqs = [key * 2 ** (s / 12) for s in chord]
    parts, labels = [], []
    for i, f in enumerate(freqs):
        parts.append(f"sine=f={f:.3f}:r={SAMPLE_RATE},volume={0.5 if i == 0 else 0.32}[t{i}]")
        labels.append(f"[t{i}]")
    noise_seed = _palette.stable_int(request.seed, request.shot_id) % 2**31
    parts.append(f"anoisesrc=r={SAMPLE_RATE}:c=pink:a=0.05:seed={noise_seed},lowpass=f=700[nz]")
    labels.append("[nz]")
    parts.append("".join(labels) + f"amix=inputs={len(labels)}:normalize=0,lowpass=f=1800,"
                 f"tremolo=f=0.2:d=0.2,volume=0.6,{tail}")
    return ";".join(parts)
