"""Video model backends. One module per backend; all register through entry points."""

from .base import Capabilities, ClipRequest, ClipResult, Generator, ReferenceImage
from .registry import available, get_generator, register

__all__ = ["Capabilities", "ClipRequest", "ClipResult", "Generator", "ReferenceImage", "available", "get_generator", "register"]
