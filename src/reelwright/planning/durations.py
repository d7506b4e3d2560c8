"""Shot duration allocation: split an exact target length (frames) into shots whose generated durations
are ones the generator can make, each trimmed frame-exactly in the cut, as evenly and cheaply as possible."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..errors import BriefError
from ..generators.base import Capabilities

DEFAULT_TOLERANCE = Fraction(1, 3)  # how far a shot may move from its even share to save generated seconds


@dataclass(frozen=True)
class Allocation:
    """One shot: the duration asked of the generator, the frames of it used in the cut, and its beat."""

    gen_duration: Fraction  # seconds, an allowed duration
    frames: int  # 1 ≤ frames ≤ floor(gen_duration * fps)
    beat: int = 0  # index of the beat (weight) this shot belongs to


@dataclass(frozen=True)
class DurationRange:
    """Allowed durations minimum, minimum+step, … ≤ maximum, without listing them."""

    minimum: Fraction
    maximum: Fraction
    step: Fraction

    def __post_init__(self) -> None:
        if self.minimum <= 0 or self.step <= 0 or self.maximum < self.minimum:
            raise BriefError(f"bad duration range {float(self.minimum):g}–{float(self.maximum):g} s "
                             f"step {float(self.step):g} s")

    @property
    def count(self) -> int:
        return int((self.maximum - self.minimum) // self.step) + 1

    def value(self, k: int) -> Fraction:
        return self.minimum + k * self.step


Allowed = Sequence[Fraction] | DurationRange


def allowed_durations(capabilities: Capabilities) -> list[Fraction] | DurationRange:
    """A generator's allowed durations: the discrete list, or its range unlisted (fine steps stay cheap)."""
    if capabilities.durations:
        return sorted({Fraction(d) for d in capabilities.durations})
    if capabilities.min_duration is not None and capabilities.max_duration is not None:
        return DurationRange(Fraction(capabilities.min_duration), Fraction(capabilities.max_duration),
                             Fraction(capabilities.duration_step))
    raise BriefError(f"generator {capabilities.name} declares no durations")


def longest_duration(allowed: Allowed) -> Fraction:
    if isinstance(allowed, DurationRange):
        return allowed.value(allowed.count - 1)
    return max(Fraction(d) for d in allowed)


class _Menu:
    """Allowed durations seen as frame capacities at one fps: capacity(d) = floor(d * fps)."""

    def __init__(self, allowed: Allowed, fps: Fraction):
        self.fps = Fraction(fps)
        self.range: DurationRange | None = allowed if isinstance(allowed, DurationRange) else None
        if self.range is None:
            best: dict[int, Fraction] = {}
            for d in allowed:
                d = Fraction(d)
                if d <= 0:
                    raise BriefError(f"allowed durations must be positive, got {float(d):g} s")
                cap = math.floor(d * self.fps)
                if cap >= 1 and (cap not in best or d < best[cap]):
                    best[cap] = d
            self.caps = sorted(best)
            self.durs = [best[c] for c in self.caps]
            if not self.caps:
                shown = ", ".join(f"{float(d):g}" for d in list(allowed)[:8]) or "none"
                raise BriefError(f"no allowed duration ({shown} s) holds one frame at {float(self.fps):g} fps")
            self.cap_max = self.caps[-1]
        else:
            r = self.range
            self.cap_max = math.floor(r.value(r.count - 1) * self.fps)
            if self.cap_max < 1:
                raise BriefError(f"durations up to {float(r.maximum):g} s hold no frame at {float(self.fps):g} fps")

    def _cap(self, d: Fraction) -> int:
        return math.floor(d * self.fps)

    def fit(self, frames: int) -> tuple[Fraction, int]:
        """The shortest allowed duration holding `frames`, and its capacity."""
        if self.range is None:
            i = bisect.bisect_left(self.caps, frames)
            return self.durs[i], self.caps[i]
        r = self.range
        k = max(0, math.ceil((Fraction(frames) / self.fps - r.minimum) / r.step))
        d = r.value(k)
        return d, self._cap(d)

    def below(self, cap: int) -> tuple[Fraction, int] | None:
        """The longest allowed duration holding fewer than `cap` frames (but at least one)."""
        if self.range is None:
            i = bisect.bisect_left(self.caps, cap) - 1
            return (self.durs[i], self.caps[i]) if i >= 0 else None
        r = self.range
        k = math.ceil((Fraction(cap) / self.fps - r.minimum) / r.step) - 1
        if k < 0:
            return None
        d = r.value(min(k, r.count - 1))
        c = self._cap(d)
        return (d, c) if 1 <= c < cap else None


def _validate_counts(target: int, n_beats: int, min_shots: int | None) -> None:
    if n_beats > target:
        raise BriefError(f"{n_beats} beats cannot fit in {target} frames: ask for a longer video or fewer beats")
    if min_shots is not None and min_shots > target:
        raise BriefError(f"{min_shots} shots cannot fit in {target} frames")


def _check_target(target_frames: int, fps: Fraction) -> None:
    if isinstance(target_frames, bool) or not isinstance(target_frames, int) or target_frames < 1:
        raise BriefError(f"target must be a positive whole number of frames, got {target_frames!r}")
    if Fraction(fps) <= 0:
        raise BriefError(f"fps must be positive, got {fps}")


def allocate_durations(target_frames: int, fps: Fraction, allowed: Allowed, n_beats: int, *,
                       weights: Sequence[float | Fraction] | None = None, min_shots: int | None = None,
                       tolerance: Fraction = DEFAULT_TOLERANCE) -> list[Allocation]:
    """Split `target_frames` into shots whose frames add up to it exactly.

    Each beat gets at least one shot (more when the longest allowed clip is too short for its share);
    beats share the time by `weights` (default equal), shots within a beat equally. Each shot asks the
    generator for the shortest allowed duration that holds its frames; then shots move by up to
    `tolerance` of their share toward allowed lengths so fewer generated seconds are thrown away
    (e.g. 60 s in 8 beats from {4, 6, 8} s clips: six 8 s and two 6 s shots, not eight trimmed 8 s ones).
    Raises BriefError when the target cannot be made."""
    _check_target(target_frames, fps)
    n_beats = max(int(n_beats), 1)
    if weights is None:
        beat_weights = [Fraction(1)] * n_beats
    else:
        beat_weights = [Fraction(w) if not isinstance(w, float) else Fraction(repr(w)) for w in weights]
        if len(beat_weights) != n_beats:
            raise BriefError(f"{len(beat_weights)} weights given for {n_beats} beats")
        if any(w <= 0 for w in beat_weights):
            raise BriefError(f"beat weights must be positive, got {[float(w) for w in beat_weights]}")
    menu = _Menu(allowed, fps)
    _validate_counts(target_frames, n_beats, min_shots)
    beats, ideal = _layout(target_frames, beat_weights, menu.cap_max, min_shots or 0, Fraction(max(tolerance, 0)))
    frames = list(ideal)
    gens = [menu.fit(f) for f in frames]
    if tolerance > 0:
        _reduce_waste(frames, gens, ideal, beats, menu, Fraction(tolerance))
    out = [Allocation(gen_duration=d, frames=f, beat=b) for (d, _), f, b in zip(gens, frames, beats)]
    assert sum(a.frames for a in out) == target_frames
    return out


def _layout(target: int, weights: list[Fraction], cap: int, min_shots: int, tol: Fraction) -> tuple[list[int], list[int]]:
    """Shots per beat and each shot's even share of frames.

    A beat gets as many shots as its share needs at the longest clip; a beat a little over (within
    `tol`) keeps one shot and its excess goes to the other beats, if that leaves every beat within
    `tol` of its share (60 s in 10 s clips: six 10 s shots, not ten)."""
    total = sum(weights)
    shares = [Fraction(target) * w / total for w in weights]
    floor_n = max(-(-target // cap), min_shots, len(weights))

    def counts(limit: Fraction) -> list[int]:
        p = [max(1, math.ceil(s / limit)) for s in shares]
        while sum(p) < floor_n:  # more shots where shots are longest
            i = max(range(len(p)), key=lambda b: (shares[b] / p[b], -b))
            p[i] += 1
        while sum(p) > target:  # a clip shorter than a frame or two: fewer shots, each ≥ 1 frame
            i = max(range(len(p)), key=lambda b: (p[b], -b))
            p[i] -= 1
        return p

    layouts = [counts(Fraction(cap))]
    if tol > 0:
        layouts.insert(0, counts(cap * (1 + tol)))
    for k, per_beat in enumerate(layouts):
        beats = [b for b, n in enumerate(per_beat) for _ in range(n)]
        ideal = apportion(target, [weights[b] / per_beat[b] for b in beats], lo=1, hi=cap)
        got = [0] * len(weights)
        for b, f in zip(beats, ideal):
            got[b] += f
        if k == len(layouts) - 1 or all(abs(g - s) <= tol * s + 1 for g, s in zip(got, shares)):
            return beats, ideal
    raise AssertionError("unreachable")


def apportion(total: int, weights: Sequence[Fraction], *, lo: int = 0, hi: int | None = None) -> list[int]:
    """Whole numbers in [lo, hi] proportional to `weights`, summing to `total` exactly (largest remainder)."""
    n = len(weights)
    if n == 0 or total < n * lo or (hi is not None and total > n * hi):
        raise BriefError(f"cannot split {total} into {n} parts between {lo} and {hi}")
    fixed: dict[int, int] = {}
    while True:
        free = [i for i in range(n) if i not in fixed]
        rest = total - sum(fixed.values())
        weight = sum(weights[i] for i in free)
        quota = {i: Fraction(rest) * weights[i] / weight for i in free}
        over = [i for i in free if hi is not None and quota[i] > hi]
        under = [] if over else [i for i in free if quota[i] < lo]
        if not over and not under:
            break
        for i in over or under:
            fixed[i] = hi if over else lo  # type: ignore[assignment]
    out = [fixed.get(i, 0) for i in range(n)]
    for i in free:
        out[i] = math.floor(quota[i])
    short = total - sum(out)
    for i in sorted(free, key=lambda i: (-(quota[i] - math.floor(quota[i])), i))[:short]:
        out[i] += 1
    return out


def _spread_order(n: int) -> list[int]:
    """0..n-1 so that every prefix is spread over the range (van der Corput), for picking shots to shorten."""
    bits = max(1, (n - 1).bit_length())
    seen: dict[int, None] = {}
    for k in range(1 << bits):
        rev = int(format(k, f"0{bits}b")[::-1], 2)
        seen.setdefault(rev * n >> bits, None)
    return list(seen)


def _reduce_waste(frames: list[int], gens: list[tuple[Fraction, int]], ideal: list[int], beats: list[int], menu: _Menu,
                  tol: Fraction) -> None:
    """Step shots down to shorter allowed durations, moving their frames into other shots' unused capacity
    (shots of the same beat first, so each beat keeps its time)."""
    n = len(frames)
    upper = [math.floor(i * (1 + tol)) for i in ideal]
    lower = [max(1, math.ceil(i * (1 - tol))) for i in ideal]
    room = [max(0, min(c, upper[k]) - frames[k]) for k, (_, c) in enumerate(gens)]
    total_room = sum(room)
    rank = {k: r for r, k in enumerate(_spread_order(n))}
    order = sorted(range(n), key=lambda k: (ideal[k], rank[k]))
    members: dict[int, list[int]] = {}
    for k, b in enumerate(beats):
        members.setdefault(b, []).append(k)
    for same_beat in (True, False):  # first within beats (each beat keeps its time), then across
        changed = True
        while changed:
            changed = False
            for j in order:
                step = menu.below(gens[j][1])
                if step is None or step[1] < lower[j]:
                    continue
                need = frames[j] - step[1]
                available = (sum(room[k] for k in members[beats[j]] if k != j) if same_beat
                             else total_room - room[j])
                if need > available:
                    continue
                total_room -= room[j]
                if need > 0:
                    total_room -= _give(need, j, frames, room, ideal, beats, same_beat)
                    frames[j] = step[1]
                gens[j] = step
                room[j] = max(0, min(step[1], upper[j]) - frames[j])
                total_room += room[j]
                changed = True


def _give(need: int, skip: int, frames: list[int], room: list[int], ideal: list[int], beats: list[int],
          same_beat: bool) -> int:
    """Spread `need` frames over the other shots with room: the skipped shot's beat first, then the shots
    furthest below their share."""
    given = 0
    takers = sorted((k for k in range(len(frames)) if k != skip and room[k] > 0),
                    key=lambda k: (beats[k] != beats[skip], frames[k] - ideal[k], k))
    same = [k for k in takers if beats[k] == beats[skip]]
    if same_beat or (same and sum(room[k] for k in same) >= need):
        takers = same
    while need > 0 and takers:
        share = max(1, need // len(takers))
        for k in takers:
            g = min(share, room[k], need)
            frames[k] += g
            room[k] -= g
            need -= g
            given += g
            if need == 0:
                break
        takers = [k for k in takers if room[k] > 0]
    return given
