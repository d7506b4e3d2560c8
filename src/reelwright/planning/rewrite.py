"""Prompt rewriting by a chat model: each shot's dense prompt in the target generator's own style
(instructions from package data), with the harness checking that the beat's words survive."""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import LLMError
from ..events import EventBus
from ..llm.base import ChatModel, Message
from ..plan import Plan, Shot
from .parse import parse_request
from .styles import load_style_instructions, style_for_generator, uses_negative

# Words that carry no intent of their own: a beat survives when all its other words do.
LIGHT_WORDS = frozenset("""a an the of on in at to for with and or but around about some any his her its their
their my our your this that these those go goes going went gone get gets getting got have has having had do does
doing did make makes making made take takes taking took be is are was were being been up down out into onto over
from by then while very really just also there here it he she they them we you i me us""".split())


def _stem(word: str) -> str:
    w = word.lower().strip("'")
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]  # running -> runn -> run
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]  # chase / chasing -> chas
    return w


def key_words(text: str) -> list[str]:
    """The words of a beat that carry its intent, as stems ("getting a pup cup" -> ["pup", "cup"])."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    return list(dict.fromkeys(_stem(w) for w in words if w not in LIGHT_WORDS and len(w) > 1))


def missing_words(beat: str, texts: str | Iterable[str]) -> list[str]:
    """The beat's key words (as the beat spells them) that none of `texts` contains."""
    text = texts if isinstance(texts, str) else " ".join(texts)
    have = set(key_words(text))
    out = []
    for word in re.findall(r"[a-z0-9']+", beat.lower()):
        if word not in LIGHT_WORDS and len(word) > 1 and _stem(word) not in have and word not in out:
            out.append(word)
    return out


def beat_survives(beat: str, texts: str | Iterable[str]) -> bool:
    return not missing_words(beat, texts)


_NUM = r"\d+(?:\.\d+)?"
_ASPECT = r"(?:16:9|9:16|1:1|4:3|3:4|3:2|2:3|21:9|4:5|5:4)"
_PARAMETER_PROSE: list[tuple[re.Pattern[str], str]] = [
    # "an 8-second shot" -> "a shot"; "8 seconds long" -> ""
    (re.compile(rf"(?i)\b(an?\s+)?{_NUM}[\s-]*(?:seconds?|secs?|s)[\s-]+(clip|video|shot|sequence)\b"),
     lambda m: (("A " if m.group(1)[0] == "A" else "a ") if m.group(1) else "") + m.group(2)),
    (re.compile(rf"(?i)\b(?:(?:lasting|for|over|exactly|just|of)\s+)*"
                rf"(?:(?:about|around|approximately|roughly)\s+)?(?:(?:a|an|one)\s+)?\s*{_NUM}[\s-]*(?:seconds?|secs?)(?:[\s-]+long)?\b"), " "),
    (re.compile(r"(?i)\b(?:(?:in|at)\s+)?(?:\d{3,4}p|[48]k|uhd|full\s+hd)\b(?:\s+resolution)?"), " "),
    (re.compile(r"(?i)\b(?:(?:in|at)\s+)?\d{3,4}\s*[x×]\s*\d{3,4}\b(?:\s*(?:pixels|px|resolution))?"), " "),
    (re.compile(rf"(?i)\b(?:at\s+)?{_NUM}\s*(?:fps|frames\s+per\s+second)\b"), " "),
    (re.compile(rf"(?i)\b(?:(?:in|with)\s+)?(?:an?\s+)?{_ASPECT}(?!\d|:\d)(?:\s+(?:aspect(?:\s+ratio)?|format|frame))?"), " "),
    (re.compile(r"(?i)\baspect\s+ratio\b"), " "),
    (re.compile(r"(?i)\b\d+\s+frames\b"), " "),
]


def strip_parameter_prose(text: str, *, sentence: bool = True) -> str:
    """Remove durations, sizes, frame rates and aspect ratios from prompt prose: they are API parameters."""
    out = text
    for rx, repl in _PARAMETER_PROSE:
        out = rx.sub(repl, out)
    out = re.sub(r"\(\s*[,;]?\s*\)", " ", out)
    out = re.sub(r"\s+([,.;:!?])", r"\1", out)
    out = re.sub(r"([,;])\s*(?=[,.;])", "", out)
    out = re.sub(r"^[\s,;.]+", "", out)
    out = re.sub(r"\.\s*\.", ".", out)
    out = re.sub(r"\s{2,}", " ", out).strip()
    return out[:1].upper() + out[1:] if sentence else out


class RewrittenPrompt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str
    negative_prompt: str


def rewrite_prompts(plan: Plan, llm: ChatModel, *, generator: str, model: str = "", bus: EventBus | None = None,
                    audio: bool = True, concurrency: int = 4) -> Plan:
    """A copy of `plan` whose shot prompts the model rewrote in the generator's style.

    A rewrite that loses a word of the beat is asked for once more, then the built-in prompt is kept;
    durations, sizes and frame rates are stripped from the prose (they are API parameters)."""
    style = style_for_generator(generator, model)
    system = _system(style, audio)
    out = plan.model_copy(deep=True)
    shots = out.shots
    named = parse_request(plan.brief.request).beats

    def one(i: int) -> tuple[str, str, str] | None:
        if shots[i].kind == "card":
            return None  # drawn by the card tool: there is no generator prompt to write
        return _rewrite_shot(llm, system, out, shots[i], shots[i - 1] if i else None, style, _words_to_keep(shots[i], named))

    made = [s for s in shots if s.kind != "card"]
    workers = max(1, min(concurrency, len(shots)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, range(len(shots))))
    kept = 0
    for shot, result in zip(shots, results):
        if result is None:
            kept += shot.kind != "card"
            continue
        shot.prompt, negative, _ = result
        if uses_negative(style):
            shot.negative_prompt = negative or shot.negative_prompt
        else:
            shot.negative_prompt = ""
    out.notes.append(f"prompts rewritten by {llm.name} in the {style} style"
                     + (f"; {kept} shot(s) kept the built-in prompt" if kept else ""))
    if bus is not None:
        bus.emit("prompt", "done" if not kept else "warning",
                 f"{len(made) - kept}/{len(made)} prompts rewritten in the {style} style",
                 data={"style": style, "kept_builtin": kept})
    return out


def _words_to_keep(shot: Shot, named: list[str]) -> str:
    """The beat when it is the person's (or a plain story beat); structural shots ("opening: establishing
    the scene") have no words of the person's to keep."""
    if any(beat_survives(b, shot.beat) for b in named) or shot.purpose in ("", "beat"):
        return shot.beat
    return ""


def _system(style: str, audio: bool) -> str:
    return ("You write the prompt for one shot of a video, for a video generation model. Follow this style guide "
            "exactly:\n\n" + load_style_instructions(style) +
            "\n\nAlways keep the beat's own words in the prompt. Never mention duration, resolution, aspect ratio, "
            "frame rate or the model. " + ("Describe the sound: the clip has audio. " if audio else "The clip is silent. ")
            + "Answer with JSON: {\"prompt\": ..., \"negative_prompt\": ...} (negative_prompt empty when the style "
            "takes none).")


def _shot_facts(plan: Plan, shot: Shot, previous: Shot | None) -> str:
    lines = [f"Beat (keep these words): {shot.beat}"]
    if plan.subject:
        lines.append(f"Subject of the video: {plan.subject}")
    lines.append(f"Setting: {shot.setting or plan.setting or 'unspecified'}")
    if plan.style:
        lines.append(f"Visual style: {plan.style}")
    lines.append(f"Camera: {shot.camera}")
    for eid in shot.entities:
        e = plan.cast.get(eid)
        if e is not None:
            ref = " (a reference image of it is sent with the clip)" if e.references else ""
            lines.append(f"In the shot: {e.name}: {e.description or e.kind}{ref}")
    if previous is not None:
        lines.append(f"Previous shot: {previous.beat}")
    if shot.prompt:
        lines.append(f"Draft prompt to improve: {shot.prompt}")
    return "\n".join(lines)


def _rewrite_shot(llm: ChatModel, system: str, plan: Plan, shot: Shot, previous: Shot | None,
                  style: str, keep: str) -> tuple[str, str, str] | None:
    messages = [Message(role="user", content=_shot_facts(plan, shot, previous))]
    for attempt in range(2):
        try:
            reply = llm.complete(messages, system=system, response_format=RewrittenPrompt, purpose="rewrite",
                                 max_tokens=1200)
        except LLMError:
            return None  # the built-in prompt is a fine prompt; one failed call does not stop the job
        try:
            draft = RewrittenPrompt.model_validate_json(reply.json_text())
        except ValidationError:
            messages += [Message(role="assistant", content=reply.text[:2000]),
                         Message(role="user", content="Answer with only the JSON object {\"prompt\", \"negative_prompt\"}.")]
            continue
        prompt = strip_parameter_prose(draft.prompt)
        lost = missing_words(keep, prompt)
        if not lost and prompt:
            return prompt, strip_parameter_prose(draft.negative_prompt, sentence=False), style
        messages += [Message(role="assistant", content=reply.text[:2000]),
                     Message(role="user", content=f"The prompt lost words of the beat: {', '.join(lost) or 'all'}. "
                                                  f"Write it again keeping \"{keep}\".")]
    return None


# ---------------------------------------------------------------- revisions without a model

# Words in a failed check, mapped to what the next prompt should ask for instead.
_FIX_HINTS = {
    "black": "the scene is clearly lit and the subject stays visible in every moment",
    "frozen": "continuous natural motion throughout, nothing stays still for long",
    "audio": "with a clear ambient soundscape",
}


def revise_prompt(prompt: str, reasons: list[str]) -> str:
    """Fold a critic's reasons into the next prompt, without the model: fix hints plus the reasons."""
    hints = []
    for reason in reasons:
        low = reason.lower()
        hint = next((h for key, h in _FIX_HINTS.items() if key in low), None)
        if hint and hint not in hints:
            hints.append(hint)
        elif not hint and ":" in reason and "duration" not in low:
            hints.append(reason.split(":", 1)[1].strip())
    base = prompt.split(" Make sure ", 1)[0]
    return f"{base} Make sure {'; '.join(hints)}." if hints else base


_SOFTEN = {"blood": "red paint", "gun": "prop", "kill": "defeat", "fight": "playful tussle", "weapon": "prop",
           "violent": "dramatic", "naked": "casually dressed", "attack": "approach"}


def soften_prompt(prompt: str) -> str:
    """A moderation rewrite without a model: swap words providers commonly flag, state the safe intent."""
    out = prompt
    for word, repl in _SOFTEN.items():
        out = re.sub(rf"\b{word}\b", repl, out, flags=re.IGNORECASE)
    prefix = "A family-friendly, safe scene: "
    return out if out.startswith(prefix) else prefix + out
