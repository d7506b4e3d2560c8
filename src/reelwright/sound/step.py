"""The sound step, between the cut and delivery.

`prepare(plan, options)` runs at plan time, before any money is spent: it writes the narration cues,
turns the request's effect words into cues, and checks every file, effect name and TTS backend.
`finish(cut, plan, options, work, dst)` runs after the cut: narration, effects, music and the clips'
own sound are mixed, brought to the loudness target measured on the encoded file, muxed under the
(copied, or caption-burned) video, and captions are written. It returns the report's `audio` section."""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..errors import MediaError
from ..media.encode import aac_args, h264_args, mp4_args
from ..media.ffmpeg import run_ffmpeg
from ..media.probe import probe
from ..media.util import atomic_output
from ..plan import AudioCue, Plan
from ..planning.narration import narrate, voice_setting
from . import captions as cap
from .audiofile import SAMPLE_RATE, audio_duration, decode, onset_near
from .cues import cues_from_request
from .effects import EffectLibrary
from .loudness import SHORT_S, Loudness, gain_graph, measure, parse_summary, parse_target, within
from .mix import Bed, Placed, render
from .options import SoundOptions
from .speech import lay_out, save_timings
from .voices import get_voice

VOICE_LUFS = -16.0  # each line levelled here before the mix, whatever the backend's own level
MUSIC_LUFS = -24.0  # music under a voice: 8 LU below it before ducking
MUSIC_ALONE_LUFS = -16.0
MUSIC_DUCK_DB = -14.0
NATIVE_LUFS = -24.0  # the clips' own sound under a voice, before ducking
NATIVE_ALONE_LUFS = -20.0  # without a voice: room above it for effects (built-ins peak near −3 dBFS)
NATIVE_DUCK_DB = -10.0
MAX_PASSES = 4
Progress = Callable[[float], None]


class CueReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effect: str
    planned_s: float
    measured_s: float | None
    error_ms: float | None


class AudioReport(BaseModel):
    """The report's `audio` section: what was measured on the delivered file."""

    model_config = ConfigDict(extra="forbid")
    target: str
    target_lufs: float
    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float
    loudness_passes: int
    narration: dict = Field(default_factory=dict)
    cues: list[CueReport] = Field(default_factory=list)
    music: str | None = None
    native_audio: bool = False
    captions: int = 0
    caption_files: list[str] = Field(default_factory=list)
    subtitles: str = "file"
    elapsed_s: float = 0.0


def check_options(options: SoundOptions) -> None:
    """What can be checked before planning: the music file, the effects folder, and the voice backend (its
    package and key) when a voice is asked for by flag. One-line errors."""
    if options.music is not None:
        audio_duration(options.music, "music file")
    if options.sfx is not None:
        EffectLibrary(options.sfx)
    if options.voice is not None and options.voice.strip().lower() not in ("none", "off", "no"):
        get_voice(options.tts)


def prepare(plan: Plan, options: SoundOptions, request: str | None = None, *, capabilities=None,
            cache: Path | None = None, llm=None) -> Plan:
    """Narration, effect and music cues into `plan.audio`, everything checked (BriefError / InputFileError /
    MissingKeyError, one line) before any clip is made. With `--timing narration` (and the generator's
    `capabilities`), the lines are synthesized now, into `cache`, and the shots retimed to them."""
    request = plan.brief.request if request is None else request
    if options.voice is not None or not any(c.kind == "voiceover" for c in plan.audio):
        # a plan that already holds voice-over lines (an edited plan.json) keeps them unless --voice is given
        narrate(plan, voice_setting(options.voice, plan.mode, request), sentences_only=options.timing == "narration",
                llm=llm)
    library = EffectLibrary(options.sfx)
    kept = [c for c in plan.audio if not (c.kind == "sfx" and c.text and not c.path)]
    plan.audio = kept + [c for c in cues_from_request(request, plan)
                         if not any(k.kind == "sfx" and k.effect == c.effect and k.start == c.start for k in kept)]
    for cue in plan.audio:
        if cue.kind == "sfx":
            cue.effect = library.check(cue.effect or cue.text)
    plan.audio = [c for c in plan.audio if c.kind != "music"]
    if options.music is not None:
        audio_duration(options.music, "music file")
        plan.audio.append(AudioCue(kind="music", path=options.music, start=Fraction(0), duration=plan.duration,
                                   gain_db=MUSIC_DUCK_DB))
    if any(c.kind == "voiceover" for c in plan.audio):
        voice = get_voice(options.tts)  # unknown backend, missing package or key: said now, not after the clips
        if options.timing == "narration" and capabilities is not None:
            from .retime import retime

            retime(plan, voice, capabilities, cache or Path(tempfile.mkdtemp(prefix="rw-voice-")))
    elif options.timing == "narration":
        plan.notes.append("--timing narration: there is no narration, so the shots keep their planned lengths")
    return plan


def finish(cut: Path, plan: Plan, options: SoundOptions, work: Path, dst: Path, *,
           progress: Progress | None = None) -> AudioReport:
    """Mix the sound under `cut`'s picture into `dst` (see the module docstring)."""
    t0 = time.perf_counter()
    tick = progress or (lambda f: None)
    work.mkdir(parents=True, exist_ok=True)
    info = probe(cut)
    seconds = float(info.video_duration)
    target = parse_target(options.loudness)

    # 1. narration
    voiced = [c for c in plan.audio if c.kind == "voiceover" and c.text.strip()]
    lines = []
    voice_name = None
    if voiced:
        voice = get_voice(options.tts)
        voice_name = voice.name
        lines = lay_out(plan, voice, work / "voice", progress=lambda f: tick(0.3 * f))
        save_timings(lines, work / "narration.json")
    music = next((c for c in plan.audio if c.kind == "music" and c.path), None)
    groups = {}  # levelled together in one measuring run
    if lines:
        groups["voice"] = ([ln.speech.path for ln in lines], sum(ln.speech.duration for ln in lines), VOICE_LUFS)
    if music is not None:
        length = audio_duration(music.path, "music file")
        groups["music"] = ([Path(music.path)], length, MUSIC_LUFS if lines else MUSIC_ALONE_LUFS)
    if info.has_audio:  # the clips' own sound is kept, levelled under the voice and the effects' hits
        groups["native"] = ([cut], seconds, NATIVE_LUFS if lines else NATIVE_ALONE_LUFS)
    gain = dict(zip(groups, _levels(list(groups.values()))))
    voices = [Placed(ln.speech.path, ln.start, gain["voice"]) for ln in lines]
    speech = [(w[0].start, w[-1].end) for ln in lines if (w := ln.words())]

    # 2. effects, started early by their attack so the hit lands on the frame
    library = EffectLibrary(options.sfx)
    sfx = [c for c in plan.audio if c.kind == "sfx" and (c.effect or c.path) and float(c.start) < seconds]
    effects = []
    for cue in sfx:
        wav, hit = library.prepare(cue.effect, work) if not cue.path else (cue.path, 0.0)
        effects.append(Placed(Path(wav), float(cue.start) - hit, cue.gain_db))

    # 3. beds: music and the clips' own sound, ducked under the voice
    beds = []
    if music is not None:
        beds.append(Bed(Path(music.path), gain["music"], MUSIC_DUCK_DB, loop=True))
    if info.has_audio:
        beds.append(Bed(cut, gain["native"], NATIVE_DUCK_DB if voices else 0.0))
    _save_placements(work / "placements.json", seconds, voices, effects, beds,
                     [c.effect or "" for c in sfx])
    tick(0.35)
    mix_wav = work / "mix.wav"
    mixed = render(mix_wav, seconds, voices=voices, effects=effects, beds=beds, speech=speech)
    tick(0.5)

    # 4. captions (and the picture they are burned into)
    cues = cap.group([ln.words() for ln in lines], seconds) if lines else []
    files: list[Path] = []
    if cues and options.subtitles != "none":
        files = cap.write(cues, work / "captions")
    picture = cut
    if cues and options.subtitles == "burn":
        picture = _burn(cut, files[0], work / "burned.mp4", info.height)
    tick(0.6)

    # 5. loudness, measured on the encoded file and corrected
    measured, passes = _deliver(picture, mix_wav, mixed, seconds, target, dst, progress=lambda f: tick(0.6 + 0.35 * f))

    # 6. what landed where
    samples = decode(dst) if sfx else None
    cue_reports = []
    for cue in sfx:
        onset = onset_near(samples, float(cue.start)) if samples is not None else None
        cue_reports.append(CueReport(effect=cue.effect, planned_s=round(float(cue.start), 4),
                                     measured_s=None if onset is None else round(onset, 4),
                                     error_ms=None if onset is None else round((onset - float(cue.start)) * 1000, 1)))
    speech_s = sum(b - a for a, b in speech)
    narration = {"tts": voice_name, "timing_source": lines[0].speech.timing if lines else None,
                 "shots_with_voice": len({ln.cue.shot for ln in lines}), "shots": len(plan.shots),
                 "coverage": round(len({ln.cue.shot for ln in lines}) / len(plan.shots), 3),
                 "speech_s": round(speech_s, 3), "sped_up": [ln.cue.shot for ln in lines if ln.tempo > 1]}
    tick(1.0)
    return AudioReport(target=target.name, target_lufs=target.lufs, integrated_lufs=measured.integrated,
                       true_peak_dbtp=measured.true_peak, lra_lu=measured.lra, loudness_passes=passes,
                       narration=narration if lines else {}, cues=cue_reports,
                       music=str(music.path) if music else None, native_audio=info.has_audio, captions=len(cues),
                       caption_files=[str(f) for f in files], subtitles=options.subtitles,
                       elapsed_s=round(time.perf_counter() - t0, 3))


def _save_placements(path: Path, seconds: float, voices: list[Placed], effects: list[Placed], beds: list[Bed],
                     names: list[str]) -> None:
    """Where every sound sits in the mix (for `export --otio` and for people reading the run folder)."""
    rows = [{"track": "narration", "path": str(v.path), "start": round(v.start, 6), "gain_db": round(v.gain_db, 2)}
            for v in voices]
    rows += [{"track": "effects", "name": n, "path": str(e.path), "start": round(e.start, 6),
              "gain_db": round(e.gain_db, 2)} for e, n in zip(effects, names)]
    rows += [{"track": "music" if b.loop else "native", "path": str(b.path), "start": 0.0, "length": seconds,
              "gain_db": round(b.gain_db, 2), "duck_db": b.duck_db} for b in beds]
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")


def _levels(groups: list[tuple[list[Path], float, float]]) -> list[float]:
    """For each (sounds, their seconds, target LUFS): the one gain that brings the sounds, heard one after
    another, to the target (0 for silence). All groups are measured in one ffmpeg run. One gain for all
    narration lines: one voice keeps its own dynamics from line to line."""
    args: list[str] = []
    chains: list[str] = []
    outs: list[str] = []
    k = 0
    for g, (paths, seconds, _) in enumerate(groups):
        labels = []
        for p in paths:
            args += ["-i", str(p)]
            chains.append(f"[{k}:a:0]aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=mono[i{k}]")
            labels.append(f"[i{k}]")
            k += 1
        chain = "".join(labels) + (f"concat=n={len(labels)}:v=0:a=1," if len(labels) > 1 else "anull,")
        if 0 < seconds < SHORT_S:  # the integrated figure needs 3 s: measured looped, like `measure`
            chain += f"aloop=loop={math.ceil(SHORT_S / seconds)}:size={int(seconds * SAMPLE_RATE) + 1},"
        chains.append(f"{chain}ebur128@g{g}=peak=sample[o{g}]")
        outs += ["-map", f"[o{g}]", "-f", "null", "-"]
    if not groups:
        return []
    proc = run_ffmpeg([*args, "-filter_complex", ";".join(chains), *outs], loglevel="info")
    gains = []
    for g, (_, _, lufs) in enumerate(groups):
        block = proc.stderr[proc.stderr.find(f"[ebur128@g{g} @"):]
        m = parse_summary(block[: block.find("Peak:") + 40] if "Peak:" in block else block, f"level group {g}")
        gains.append(0.0 if m.integrated <= -69 else max(-30.0, min(30.0, lufs - m.integrated)))
    return gains


def _burn(cut: Path, srt: Path, dst: Path, height: int) -> Path:
    """Captions burned in with libass; the video is re-encoded once, the sound is left out (mixed later)."""
    with atomic_output(dst) as tmp:
        run_ffmpeg(["-i", str(cut), "-map", "0:v:0", "-vf", cap.burn_filter(srt), *h264_args(), str(tmp)])
    return dst


def _master(mix_wav: Path, gain: float, ceiling: float, dst: Path, seconds: float) -> Loudness:
    """Gain and the 4×-oversampled limiter into `dst` (float WAV), measured in the same run (sound under
    3 s is measured afterwards, looped, like `measure`)."""
    n = int(round(seconds * SAMPLE_RATE))
    chain = f"[0:a:0]{gain_graph(gain, ceiling)},apad=whole_len={n},atrim=end_sample={n}"
    with atomic_output(dst) as tmp:
        if seconds < SHORT_S:
            run_ffmpeg(["-i", str(mix_wav), "-filter_complex", f"{chain}[a]", "-map", "[a]", "-c:a", "pcm_f32le",
                        str(tmp)])
            return measure(tmp, duration=seconds)
        proc = run_ffmpeg(["-i", str(mix_wav), "-filter_complex", f"{chain},asplit[a][m];[m]ebur128=peak=true[mo]",
                           "-map", "[a]", "-c:a", "pcm_f32le", str(tmp), "-map", "[mo]", "-f", "null", "-"],
                          loglevel="info")
    return parse_summary(proc.stderr, "the mastered mix")


def _encode(picture: Path, audio: Path, seconds: float, dst: Path) -> None:
    """Copy the picture; encode the sound to AAC pinned to the picture's length."""
    n = int(round(seconds * SAMPLE_RATE))
    with atomic_output(dst) as tmp:
        run_ffmpeg(["-i", str(picture), "-i", str(audio), "-filter_complex",
                    f"[1:a:0]apad=whole_len={n},atrim=end_sample={n}[a]", "-map", "0:v:0", "-map", "[a]",
                    "-c:v", "copy", *aac_args(fast_coder=True), *mp4_args(), str(tmp)])


def _deliver(picture: Path, mix_wav: Path, mixed: Loudness, seconds: float, target, dst: Path,
             progress: Progress) -> tuple[Loudness, int]:
    """Gain + 4×-oversampled limiter, iterated on the WAV until on target (the limiter pass costs a tenth of
    an AAC encode); then one AAC encode, measured on the encoded file and corrected only if the encode
    moved it off. Returns the delivered file's loudness and the passes it took (at most MAX_PASSES)."""
    if mixed.integrated <= -69:  # silence stays silence
        _encode(picture, mix_wav, seconds, dst)
        return measure(dst, duration=seconds), 1
    gain = target.lufs - mixed.integrated
    ceiling = target.true_peak - 0.5  # AAC adds up to ~0.2 dB of true peak
    mastered = mix_wav.with_name("mastered.wav")
    tried: list[tuple[float, float]] = [(0.0, mixed.integrated)]  # the float mix at unity gain: no limiting
    passes = 0
    measured = mixed
    while passes < MAX_PASSES:
        passes += 1
        measured = _master(mix_wav, gain, ceiling, mastered, seconds)
        progress(passes / (MAX_PASSES + 1))
        if within(measured, target, 0.4) and measured.true_peak <= target.true_peak - 0.2:
            break
        tried.append((gain, measured.integrated))
        gain, ceiling = _correct(gain, ceiling, measured, target, tried)
    for _ in range(2):
        _encode(picture, mastered, seconds, dst)
        measured = measure(dst, duration=seconds)
        if within(measured, target, 0.5) or passes >= MAX_PASSES + 2:
            break
        tried.append((gain, measured.integrated))
        gain, ceiling = _correct(gain, ceiling, measured, target, tried)
        passes += 1
        _master(mix_wav, gain, ceiling, mastered, seconds)
    progress(1.0)
    if not within(measured, target, 1.0):
        raise MediaError(f"the mix could not reach {target.lufs:g} LUFS / {target.true_peak:g} dBTP "
                         f"(measured {measured.integrated:g} LUFS, {measured.true_peak:g} dBTP)")
    return measured, passes


def _correct(gain: float, ceiling: float, measured: Loudness, target, tried: list[tuple[float, float]]) -> tuple[float, float]:
    """The next gain and limiter ceiling. Once the limiter bites, a dB of gain buys less than a dB of
    loudness: the slope measured over the passes so far (kept between 0.3 and 1) says how much more."""
    slope = 1.0
    if len(tried) >= 2 and abs(tried[-1][0] - tried[-2][0]) > 0.05:
        slope = min(1.0, max(0.3, (tried[-1][1] - tried[-2][1]) / (tried[-1][0] - tried[-2][0])))
    gain += (target.lufs - measured.integrated) / slope
    if measured.true_peak > target.true_peak - 0.1:
        ceiling -= measured.true_peak - (target.true_peak - 0.1) + 0.1
    return gain, ceiling
