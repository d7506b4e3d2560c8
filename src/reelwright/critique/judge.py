"""The vision judge: a chat model that sees frames sampled from a clip (and the previous shot's last
frame) and scores prompt adherence, logical sense, visual artefacts and continuity, with reasons."""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import LLMError
from ..llm.base import ChatModel, Message
from .base import Check, Verdict

CRITERIA = ("prompt_adherence", "logical_sense", "visual_artifacts", "continuity")
FRAME_LONG_SIDE = 512  # frames are shrunk to this before sending: enough to judge, few image tokens

SYSTEM_PROMPT = """You judge one generated video clip from frames sampled in time order. Score each \
criterion from 0 (unusable) to 1 (perfect), with one concrete reason (what is wrong or right in the \
picture) and a fix: what the next take must show instead, written as a phrase for its prompt ("the dog \
holds the cup in its mouth"); leave fix empty when the score is high.
- prompt_adherence: does the clip show what the prompt and beat ask for (subject, action, setting, style)?
- logical_sense: is the action physically and narratively plausible across the frames?
- visual_artifacts: 1 means clean; lower for melted or extra limbs, warped faces, flicker, garbled text, smears.
- continuity: does the first sampled frame follow from the previous shot's last frame (same characters, \
outfits, place, light)? When no previous frame is shown, score 1 and say so.
Answer only with the JSON object."""


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The bounds are in the schema (OpenAI strict mode enforces them; Anthropic's transform moves them
    # into the description) but not in validation: `_verdict` clamps, so an unenforced 1.2 is not a failure.
    score: float = Field(description="0 (unusable) to 1 (perfect)", json_schema_extra={"minimum": 0, "maximum": 1})
    reason: str = Field(description="what is wrong (or right) in the frames")
    fix: str = Field(description="what the next take must show instead, as a phrase for its prompt; empty if fine")


class JudgeScores(BaseModel):
    """The judge's structured answer."""

    model_config = ConfigDict(extra="forbid")
    prompt_adherence: Score
    logical_sense: Score
    visual_artifacts: Score
    continuity: Score


class VisionJudge:
    """A critic that asks a vision chat model for scores; a clip fails when any score is under the threshold."""

    name = "judge"

    def __init__(self, llm: ChatModel, threshold: float = 0.6, frames: int = 3, *, max_repairs: int = 1):
        if not 0 <= threshold <= 1:
            raise ValueError(f"judge threshold must be within 0..1, got {threshold!r}")
        if frames < 1:
            raise ValueError(f"the judge needs at least one frame, got {frames!r}")
        self.llm = llm
        self.threshold = threshold
        self.frames = frames
        self.max_repairs = max_repairs

    def judge_clip(self, path: Path | str, expectation: Any = None, context: dict[str, Any] | None = None) -> Verdict:
        """Score the clip at `path`. `context` may hold `prompt`, `beat` and `previous` (the previous
        shot's clip, for continuity) or `previous_frame` (an image of its last frame)."""
        context = dict(context or {})
        prompt = context.get("prompt") or getattr(expectation, "prompt", None) or (
            expectation if isinstance(expectation, str) else "")
        beat = context.get("beat") or getattr(expectation, "beat", "") or ""
        with tempfile.TemporaryDirectory(prefix="rw-judge-") as tmp:
            images, times = self._sample(Path(path), Path(tmp))
            previous = self._previous_frame(context, Path(tmp))
            if previous is not None:
                images.insert(0, previous)
            text = self._question(prompt, beat, times, previous is not None)
            try:
                scores = self._ask(text, images)
            except LLMError as exc:
                # A judge outage must not sink a paid-for clip: record it and let the technical checks stand.
                return Verdict(passed=True, critic=self.name,
                               checks=[Check(name="judge", passed=True, detail=f"no verdict: {exc}")])
        if scores is None:
            return Verdict(passed=True, critic=self.name,
                           checks=[Check(name="judge", passed=True, detail="no verdict: the judge's replies were not valid")])
        return self._verdict(scores, has_previous=previous is not None)

    def _sample(self, path: Path, tmp: Path) -> tuple[list[Path], list[Fraction]]:
        from ..media.frames import frames_at
        from ..media.probe import probe

        info = probe(path)
        n = self.frames
        # Centres of n equal slices: avoids the fade-in first frame and the often-frozen last one.
        times = [info.video_duration * Fraction(2 * i + 1, 2 * n) for i in range(n)]
        out = []
        for i, image in enumerate(frames_at(path, times)):
            out.append(_save_small(image, tmp / f"frame{i + 1}.jpg"))
        return out, times

    def _previous_frame(self, context: dict[str, Any], tmp: Path) -> Path | None:
        if context.get("previous_frame"):
            return Path(context["previous_frame"])
        previous = context.get("previous")
        if not previous or not Path(previous).is_file():
            return None
        from PIL import Image

        from ..media.frames import extract_last_frame

        png = extract_last_frame(previous, tmp / "previous_last.png")
        with Image.open(png) as im:
            return _save_small(im.convert("RGB"), tmp / "previous_last.jpg")

    def _question(self, prompt: str, beat: str, times: list[Fraction], has_previous: bool) -> str:
        lines = []
        if beat:
            lines.append(f"Beat (what the person asked for): {beat}")
        lines.append(f"Prompt the clip was generated from: {prompt or '(none given)'}")
        first = 1
        if has_previous:
            lines.append("Image 1 is the LAST frame of the previous shot (for continuity only).")
            first = 2
        stamps = ", ".join(f"image {first + i} at {float(t):.2f} s" for i, t in enumerate(times))
        lines.append(f"Frames of this clip: {stamps}.")
        lines.append("Score prompt_adherence, logical_sense, visual_artifacts and continuity.")
        return "\n".join(lines)

    def _ask(self, text: str, images: list[Path]) -> JudgeScores | None:
        messages: list[Message] = [Message(role="user", content=text, images=images)]
        for _ in range(1 + self.max_repairs):
            reply = self.llm.complete(messages, system=SYSTEM_PROMPT, response_format=JudgeScores, purpose="judge",
                                      max_tokens=800)
            try:
                return JudgeScores.model_validate_json(reply.json_text())
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:5])
                messages += [Message(role="assistant", content=reply.text[:2000]),
                             Message(role="user", content=f"That was not valid: {problems}. Answer again with only "
                                                          "the JSON object.")]
        return None

    def _verdict(self, scores: JudgeScores, *, has_previous: bool) -> Verdict:
        checks, values, reasons = [], {}, []
        for name in CRITERIA:
            item: Score = getattr(scores, name)
            value = min(1.0, max(0.0, float(item.score)))
            if name == "continuity" and not has_previous:
                value = 1.0  # nothing to be continuous with; the model's guess is not a fact
            values[name] = round(value, 3)
            ok = value >= self.threshold
            checks.append(Check(name=f"judge.{name}", passed=ok, detail=item.reason, value=round(value, 3)))
            if not ok:
                # "criterion score: what to show": the Director folds the part after the colon into the prompt
                reasons.append(f"{name.replace('_', ' ')} {value:.2f}: {(item.fix or item.reason).strip()}")
        return Verdict(passed=not reasons, checks=checks, scores=values, reasons=reasons, critic=self.name)


def _save_small(image: Any, dst: Path) -> Path:
    image = image.convert("RGB")
    scale = FRAME_LONG_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    image.save(dst, format="JPEG", quality=85)
    return dst
