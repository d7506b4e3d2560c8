"""Smart-render edits of a plain H.264 MP4: only the GOPs an edit touches are decoded and re-encoded; every
other packet is copied, so untouched frames come back bit-identical and the work grows with the edited
span, not with the video.

How the pieces join: an MP4 track has one SPS/PPS (avcC), and our re-encoded GOPs come from another
encoder configuration. So the middle is encoded with its parameter sets in-band (x264 repeat-headers), the
original's are put in-band again in front of the first copied keyframe after it, and the middle keeps
the original's reorder depth (a decoder whose reorder depth grows mid-stream garbles frames near the
join). Decode timestamps are re-laid as one even sequence and checked against every presentation time.

A source this cannot join safely (not H.264 in avcC, open GOPs, variable frame rate, non-4-byte NAL
lengths) raises `SmartRenderUnsupported`; callers fall back to a whole-file re-encode."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import MediaError, ToolArgumentError
from .encode import h264_args, mp4_args
from .ffmpeg import run_ffmpeg
from .overlay import drawtext_filters
from .spec import VideoSpec
from .util import atomic_output, check_distinct, frac_arg

Progress = Callable[[float], None]


class SmartRenderUnsupported(MediaError):
    """This file cannot be edited GOP by GOP; re-encode it whole instead (the reason says why)."""


@dataclass(frozen=True)
class GopMap:
    """Where a video's GOPs start, in display frame numbers, and what a join must respect."""

    frames: int
    keyframes: tuple[int, ...]  # display index of each GOP's first frame, ascending, starting at 0
    fps: Fraction
    time_base: Fraction
    frame_ticks: int  # one frame's duration in the stream's time base
    first_pts: int
    first_dts: int
    reorder_depth: int
    parameter_sets: bytes  # the avcC's SPS and PPS as 4-byte length-prefixed NAL units
    width: int
    height: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The GOP-aligned frames [ka, kb) that cover the edited frames [start, end)."""
        ka = max(k for k in self.keyframes if k <= start)
        kb = min((k for k in self.keyframes if k >= end), default=self.frames)
        return ka, kb

    def seconds(self, frame: int) -> Fraction:
        return Fraction(frame) / self.fps


def gop_map(src: str | Path) -> GopMap:
    """Scan packets (no decoding) and check the file can be joined GOP by GOP."""
    with av.open(str(src)) as c:
        if not c.streams.video:
            raise SmartRenderUnsupported(f"{src} has no video")
        vs = c.streams.video[0]
        cc = vs.codec_context
        if cc.name != "h264":
            raise SmartRenderUnsupported(f"{src} is {cc.name}, not H.264")
        extradata = bytes(cc.extradata or b"")
        if len(extradata) < 7 or extradata[0] != 1 or (extradata[4] & 3) != 3:
            raise SmartRenderUnsupported(f"{src} does not carry avcC parameter sets with 4-byte NAL lengths")
        if (cc.pix_fmt or "") != "yuv420p":
            raise SmartRenderUnsupported(f"{src} is {cc.pix_fmt}, not yuv420p")
        tb = Fraction(vs.time_base)
        packets = [(p.pts, p.dts, p.is_keyframe) for p in c.demux(vs) if p.size and p.pts is not None]
        depth = int(getattr(cc, "has_b_frames", 0) or 0)
        width, height = cc.width, cc.height
    if not packets or packets[0][1] is None:
        raise SmartRenderUnsupported(f"{src} has no timed video packets")
    order = sorted(p[0] for p in packets)
    steps = {b - a for a, b in zip(order, order[1:])}
    if len(steps) > 1:
        raise SmartRenderUnsupported(f"{src} has a variable frame rate")
    ticks = steps.pop() if steps else 1
    display = {pts: i for i, pts in enumerate(order)}
    keyframes: list[int] = []
    gop: list[int] = []
    for pts, _, key in packets + [(None, None, True)]:
        if key and gop:  # a GOP in decode order must show a contiguous run of frames starting at its keyframe
            if sorted(gop) != list(range(gop[0], gop[0] + len(gop))) or min(gop) != gop[0]:
                raise SmartRenderUnsupported(f"{src} has open GOPs (frames that reach across keyframes)")
            keyframes.append(gop[0])
            gop = []
        if pts is not None:
            gop.append(display[pts])
    if not keyframes or keyframes[0] != 0:
        raise SmartRenderUnsupported(f"{src} does not start on a keyframe")
    return GopMap(frames=len(order), keyframes=tuple(keyframes), fps=1 / (tb * ticks), time_base=tb,
                  frame_ticks=ticks, first_pts=order[0], first_dts=packets[0][1], reorder_depth=depth,
                  parameter_sets=_avcc_parameter_sets(extradata), width=width, height=height)


def smart_render(src: str | Path, dst: str | Path, *, start_frame: int, end_frame: int,
                 filters: Callable[[int, int, Path], Sequence[str]], preset: str = "veryfast", crf: int = 16,
                 progress: Progress | None = None, gops: GopMap | None = None) -> tuple[int, int]:
    """Re-encode frames [start_frame, end_frame), widened to whole GOPs, through `filters(first, count,
    workdir)` (video filters for the `count` frames from display frame `first`); copy every other packet,
    sound included. Returns the GOP-aligned span (ka, kb) that was re-encoded."""
    check_distinct(src, dst)
    g = gops or gop_map(src)
    if not 0 <= start_frame < end_frame <= g.frames:
        raise ToolArgumentError(f"frames {start_frame}..{end_frame} are outside the video's {g.frames} frames")
    ka, kb = g.span(start_frame, end_frame)
    with tempfile.TemporaryDirectory(prefix="rw-smart-") as tmp:
        middle = Path(tmp) / "middle.mp4"
        _encode_middle(src, middle, g, ka, kb, list(filters(ka, kb - ka, Path(tmp))), preset, crf)
        if progress:
            progress(0.5)
        with atomic_output(dst) as out:
            _splice(src, middle, out, g, ka, kb)
    if progress:
        progress(1.0)
    return ka, kb


def smart_overlay(src: str | Path, dst: str | Path, overlays: Sequence, *, preset: str = "veryfast", crf: int = 16,
                  progress: Progress | None = None) -> tuple[int, int]:
    """Draw text overlays (`reelwright.plan.Overlay`, times in seconds of this video) re-encoding only the
    GOPs they show in. Returns the re-encoded frame span."""
    g = gop_map(src)
    shown = [(max(0, math.ceil(o.start * g.fps)), min(g.frames, math.ceil(o.end * g.fps))) for o in overlays
             if o.text.strip()]
    shown = [(a, b) for a, b in shown if b > a]
    if not shown:
        raise ToolArgumentError("no overlay falls inside the video")
    spec = VideoSpec(width=g.width, height=g.height, fps=g.fps)

    def filters(first: int, count: int, workdir: Path) -> list[str]:
        return drawtext_filters(overlays, spec, count, workdir, offset=g.seconds(first))

    return smart_render(src, dst, start_frame=min(a for a, _ in shown), end_frame=max(b for _, b in shown),
                        filters=filters, preset=preset, crf=crf, progress=progress, gops=g)


def smart_trim(src: str | Path, dst: str | Path, frames: int, *, preset: str = "veryfast", crf: int = 16,
               progress: Progress | None = None) -> tuple[int, int]:
    """Keep the first `frames` frames: whole GOPs before the cut are copied, only the frames of the last,
    partial GOP are re-encoded; the sound is cut to exactly the frames' length (re-encoded, it is small).
    Returns the re-encoded frame span (empty when the cut falls on a keyframe)."""
    from .encode import aac_args

    check_distinct(src, dst)
    g = gop_map(src)
    if not 0 < frames <= g.frames:
        raise ToolArgumentError(f"cannot keep {frames} frames of a {g.frames}-frame video")
    ka = max(k for k in g.keyframes if k <= frames - 1) if frames not in g.keyframes and frames < g.frames else frames
    with tempfile.TemporaryDirectory(prefix="rw-smart-") as tmp:
        middle = None
        if ka < frames:
            middle = Path(tmp) / "middle.mp4"
            _encode_middle(src, middle, g, ka, frames, [], preset, crf)
        audio = None
        with av.open(str(src)) as c:
            rate = c.streams.audio[0].rate if c.streams.audio else None
        if rate:
            audio = Path(tmp) / "audio.m4a"
            samples = int(Fraction(frames) / g.fps * rate)  # exact: the sound ends with the last frame
            run_ffmpeg(["-i", str(src), "-map", "0:a:0", "-af", f"apad,atrim=end_sample={samples}",
                        *aac_args(bitrate=None), str(audio)])
        if progress:
            progress(0.5)
        with atomic_output(dst) as out:
            _splice(src, middle, out, g, ka, frames, stop=frames, audio=audio)
    if progress:
        progress(1.0)
    return ka, frames


def _encode_middle(src: str | Path, dst: Path, g: GopMap, ka: int, kb: int, vfilters: list[str], preset: str,
                   crf: int) -> None:
    # Seek a hair before the keyframe: ffmpeg keeps frames at or after -ss, and a rounded-up time would drop it.
    ss = max(0.0, float(g.seconds(ka)) - 0.25 / float(g.fps))
    bframes = 0 if g.reorder_depth == 0 else 1 if g.reorder_depth == 1 else 3  # x264: pyramid => depth 2
    chain = ",".join([*vfilters, "format=yuv420p"])
    run_ffmpeg(["-ss", f"{ss:.6f}", "-i", str(src), "-map", "0:v:0", "-frames:v", str(kb - ka), "-vf", chain,
                "-fps_mode", "passthrough", *h264_args(preset=preset, crf=crf, bframes=bframes),
                "-x264-params", f"repeat-headers=1:keyint={max(kb - ka, 1)}:scenecut=0", "-r", frac_arg(g.fps),
                "-an", str(dst)])


def _splice(src: str | Path, middle: Path | None, out: Path, g: GopMap, ka: int, kb: int, *,
            stop: int | None = None, audio: Path | None = None) -> None:
    """Write `src` with its video packets of frames [ka, kb) replaced by `middle`'s; with `stop`, nothing
    from frame `stop` on; with `audio`, that file's sound instead of the source's."""
    mid: list[tuple[int, bytes, bool]] = []
    m_first, m_tb = 0, g.time_base
    if middle is not None:
        with av.open(str(middle)) as m:
            ms = m.streams.video[0]
            mid = [(p.pts, bytes(p), p.is_keyframe) for p in m.demux(ms) if p.size and p.pts is not None]
            m_first = min(p[0] for p in mid) if mid else 0
            m_tb = Fraction(ms.time_base)
    if len(mid) != kb - ka:
        raise MediaError(f"re-encoding frames {ka}..{kb} gave {len(mid)} frames")
    # Middle times, in the source's time base, placed where the replaced frames were.
    base = g.first_pts + ka * g.frame_ticks
    mid_pts = [base + round((pts - m_first) * m_tb / g.time_base) for pts, _, _ in mid]
    muxer = mp4_args()  # the same MP4 options as every other writer, as PyAV muxer options
    options = {k.lstrip("-"): v for k, v in zip(muxer[::2], muxer[1::2])}
    with av.open(str(src)) as c, av.open(str(out), "w", format="mp4", options=options) as o:
        vs = c.streams.video[0]
        streams = [vs, *([] if audio else c.streams.audio[:1])]
        omap = {s.index: o.add_stream_from_template(s) for s in streams}
        if audio is not None:
            _mux_all(o, audio)
        decode_n = 0
        gop = -1
        wrote_middle = False
        after_middle = False
        for p in c.demux(streams):
            if not p.size or p.dts is None:
                continue
            if p.stream.index != vs.index:
                p.stream = omap[p.stream.index]
                o.mux(p)
                continue
            if p.is_keyframe:
                gop += 1
            frame_first = g.keyframes[gop]
            if stop is not None and frame_first >= min(stop, ka if ka < kb else stop):
                if mid and not wrote_middle:
                    for (_, data, key), pts in zip(mid, mid_pts):
                        decode_n = _mux_video(o, omap[vs.index], data, pts, key, g, decode_n)
                    wrote_middle = True
                break
            if ka <= frame_first < kb:
                if not wrote_middle:
                    for (_, data, key), pts in zip(mid, mid_pts):
                        decode_n = _mux_video(o, omap[vs.index], data, pts, key, g, decode_n)
                    wrote_middle = True
                    after_middle = True
                continue
            data = bytes(p)
            if after_middle and p.is_keyframe:
                data = g.parameter_sets + data  # the decoder holds the middle's SPS/PPS: give it ours back
                after_middle = False
            decode_n = _mux_video(o, omap[vs.index], data, p.pts, p.is_keyframe, g, decode_n)


def _mux_all(o, path: Path) -> None:
    """Add a file's first audio stream to the output, packets as they are (muxing interleaves them)."""
    with av.open(str(path)) as a:
        st = a.streams.audio[0]
        ost = o.add_stream_from_template(st)
        for p in a.demux(st):
            if p.size and p.dts is not None:
                p.stream = ost
                o.mux(p)


def _mux_video(o, stream, data: bytes, pts: int, key: bool, g: GopMap, n: int) -> int:
    """Mux one video packet with the n-th decode timestamp of an even sequence."""
    dts = g.first_dts + n * g.frame_ticks
    if dts > pts:
        raise MediaError(f"re-encoded frames reorder deeper than the source (dts {dts} > pts {pts})")
    pkt = av.Packet(data)
    pkt.pts, pkt.dts, pkt.duration = pts, dts, g.frame_ticks
    pkt.time_base = g.time_base
    pkt.is_keyframe = key
    pkt.stream = stream
    o.mux(pkt)
    return n + 1


def _avcc_parameter_sets(extradata: bytes) -> bytes:
    """SPS and PPS NAL units out of an avcC record, each prefixed with its 4-byte length."""
    out = bytearray()
    i = 5
    count = extradata[i] & 0x1F
    i += 1
    for kind in range(2):
        if kind == 1:
            count = extradata[i]
            i += 1
        for _ in range(count):
            size = int.from_bytes(extradata[i:i + 2], "big")
            nal = extradata[i + 2:i + 2 + size]
            out += len(nal).to_bytes(4, "big") + nal
            i += 2 + size
    return bytes(out)
