"""Long-horizon context: entity memory, reference selection per shot, history packing and
seam checks, so identities and motion hold across many shots."""

from .history import PackedFrame, PackedHistory, PackedImage, pack_frames, pack_history, to_conditions
from .memory import CONSISTENCY_THRESHOLD, MEMORY_FILE, CastMemory, consistency_check, consistency_score
from .references import MAX_REFERENCES, Selection, apply_to_prompt, reference_token, select_references
from .seams import DEFAULT_SEAM_THRESHOLD, check_seams, first_frame, frame_distance, last_frame, seam_check

__all__ = [
    "CONSISTENCY_THRESHOLD", "DEFAULT_SEAM_THRESHOLD", "MAX_REFERENCES", "MEMORY_FILE",
    "CastMemory", "PackedFrame", "PackedHistory", "PackedImage", "Selection",
    "apply_to_prompt", "check_seams", "consistency_check", "consistency_score", "first_frame",
    "frame_distance", "last_frame", "pack_frames", "pack_history", "reference_token",
    "seam_check", "select_references", "to_conditions",
]
