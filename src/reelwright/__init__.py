"""reelwright: a video agent. Plans shots, writes model-specific prompts, generates, checks,
repairs and delivers video of exactly the asked length."""

from .brief import Brief, Reference
from .plan import AudioCue, Cast, Entity, Overlay, Plan, Shot

__version__ = "0.1.0"
__all__ = ["AudioCue", "Brief", "Cast", "Entity", "Overlay", "Plan", "Reference", "Shot", "__version__"]
