"""Media tools: ffmpeg/ffprobe/PyAV wrappers for probing, conforming, cutting, overlays, audio and frames.

Nothing here knows about plans or models; every function takes paths and a `VideoSpec`."""

from .audio import mix_audio, mux_audio, silence, tone_bed
from .conform import conform, trim
from .cut import ConcatPlan, concat, plan_concat, transition_total_frames
from .edit import change_speed, crop_to_aspect, fade
from .ffmpeg import ffmpeg_exe, ffprobe_exe, run_ffmpeg
from .frames import extract_frame, extract_last_frame, frames_at, frames_by_index
from .fonts import find_font
from .overlay import overlay_text
from .probe import MediaInfo, is_faststart, probe
from .spec import VideoSpec

__all__ = [
    "ConcatPlan", "MediaInfo", "VideoSpec", "change_speed", "concat", "conform", "crop_to_aspect", "extract_frame",
    "extract_last_frame", "fade", "ffmpeg_exe", "ffprobe_exe", "find_font", "frames_at", "frames_by_index",
    "is_faststart", "mix_audio", "mux_audio", "overlay_text", "plan_concat", "probe", "run_ffmpeg", "silence",
    "tone_bed", "transition_total_frames", "trim",
]
