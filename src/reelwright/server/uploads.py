"""Uploaded references: checked by what they contain (not their name or declared type), size-limited, stored under
generated names in REELWRIGHT_HOME/uploads. No part of a client's file name ever reaches the filesystem."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import BinaryIO

from ..errors import BriefError, InputFileError
from .db import Database, Upload

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
_IMAGE_FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp"),
                  "GIF": ("gif", "image/gif")}
_VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": ("mp4", "video/mp4"), "matroska,webm": ("webm", "video/webm")}
_AUDIO_CONTAINERS = {"wav": ("wav", "audio/wav"), "mp3": ("mp3", "audio/mpeg"), "ogg": ("ogg", "audio/ogg"),
                     "flac": ("flac", "audio/flac"), "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", "audio/mp4")}


class UploadTooLarge(BriefError):
    pass


def store_upload(db: Database, uploads_dir: Path, stream: BinaryIO, *, name: str,
                 max_bytes: int = MAX_UPLOAD_BYTES) -> Upload:
    """Copy `stream` to a temp file under a generated name, identify it, and keep it only if it is an image,
    an audio file or a video."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    upload_id = "upload_" + secrets.token_hex(12)
    tmp = uploads_dir / f".{upload_id}.part"
    size = 0
    try:
        with tmp.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(f"upload is larger than {max_bytes // (1024 * 1024)} MB")
                out.write(chunk)
        if size == 0:
            raise InputFileError("the upload is empty")
        kind, ext, mime = identify(tmp)
        final = uploads_dir / f"{upload_id}.{ext}"
        tmp.replace(final)
    finally:
        tmp.unlink(missing_ok=True)
    label = " ".join((name or "").split())[:80] or upload_id
    up = Upload(id=upload_id, name=label, kind=kind, mime=mime, path=str(final), bytes=size, created_at=time.time())
    db.insert_upload(up)
    return up


def identify(path: Path) -> tuple[str, str, str]:
    """(kind, extension, mime) from the file's content; InputFileError when it is none of ours."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            fmt = im.format
            im.verify()
        if fmt in _IMAGE_FORMATS:
            ext, mime = _IMAGE_FORMATS[fmt]
            return "image", ext, mime
        raise InputFileError(f"images must be PNG, JPEG, WebP or GIF, not {fmt}")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        pass
    media = _probe_media(path)
    if media is None:
        raise InputFileError("the upload is not an image, an audio file or a video this server accepts")
    return media


def _probe_media(path: Path) -> tuple[str, str, str] | None:
    import av

    try:
        with av.open(str(path)) as container:
            fmt = container.format.name
            has_video = any(s.type == "video" for s in container.streams)
            has_audio = any(s.type == "audio" for s in container.streams)
            if not (has_video or has_audio):
                return None
            stream = container.streams.video[0] if has_video else container.streams.audio[0]
            for _frame in container.decode(stream):  # one decoded frame proves it is media, not a lookalike
                break
            else:
                return None
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return None
    if has_video and fmt in _VIDEO_CONTAINERS:
        ext, mime = _VIDEO_CONTAINERS[fmt]
        return "video", ext, mime
    if not has_video and fmt in _AUDIO_CONTAINERS:
        ext, mime = _AUDIO_CONTAINERS[fmt]
        return "audio", ext, mime
    return None
