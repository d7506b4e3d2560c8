"""Shared job handling for remote generators: retries, polling, downloads, probing, rate limits,
keys and the price table."""

from __future__ import annotations

import json
import random
import threading
from fractions import Fraction

import httpx
import pytest

from reelwright.errors import (
    BriefError,
    ConfigError,
    ExpiredResultError,
    GeneratorError,
    MissingKeyError,
    ModerationError,
    TransientGeneratorError,
)
from reelwright.generators.base import Capabilities, ClipRequest
from reelwright.generators.jobs import (
    RateLimiter,
    RetryPolicy,
    accept_clip,
    call_with_retries,
    data_uri,
    download,
    error_for_status,
    is_retryable_status,
    parse_retry_after,
    poll_until,
    probe_clip,
    require_key,
    tail_of_video,
    validate_request,
)
from reelwright.generators.prices import PRICE_DATE, price_date, price_per_second
from tests.fakes.gen_helpers import Clock
from tests.fakes.media_host import Download, FakeHTTP, make_mp4


@pytest.fixture
def host():
    server = FakeHTTP()
    yield server
    server.close()


def clip_request(tmp_path, **kw) -> ClipRequest:
    base = dict(shot_id="s", prompt="p", duration=2, width=160, height=90, aspect="16:9", resolution="720p",
                out_path=tmp_path / "s.mp4")
    base.update(kw)
    return ClipRequest(**base)


@pytest.mark.parametrize("code,expected", [(408, True), (409, True), (429, True), (500, True), (503, True),
                                           (599, True), (400, False), (401, False), (403, False), (404, False),
                                           (410, False), (422, False), (200, False)])
def test_only_408_409_429_and_5xx_are_retryable(code, expected):
    assert is_retryable_status(code) is expected


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(3)
    delays = [[policy.delay(a, rng=rng) for _ in range(50)] for a in range(1, 7)]
    for attempt, samples in enumerate(delays, start=1):
        ceiling = min(8.0, 2 ** (attempt - 1))
        assert all(ceiling / 2 <= d <= ceiling for d in samples)
        assert len(set(samples)) > 1


def test_retry_after_wins_over_backoff_but_is_capped():
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=3600.0) == 60.0


def test_retry_after_header_parses_seconds_and_http_dates():
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None


def test_transient_errors_are_retried_until_success():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientGeneratorError("429", retry_after=0.25)
        return "ok"

    assert call_with_retries(flaky, policy=RetryPolicy(max_attempts=5), sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and sleeps == [0.25, 0.25]


def test_retries_stop_after_max_attempts_and_reraise():
    calls = []

    def always():
        calls.append(1)
        raise TransientGeneratorError("503")

    with pytest.raises(TransientGeneratorError, match="503"):
        call_with_retries(always, policy=RetryPolicy(max_attempts=4, base_delay=0.01), sleep=lambda s: None)
    assert len(calls) == 4


@pytest.mark.parametrize("error", [ModerationError("refused"), error_for_status(400, "bad duration"),
                                   error_for_status(404, "no such model"), GeneratorError("broken")])
def test_moderation_and_client_errors_are_not_retried(error):
    calls, sleeps = [], []

    def fail():
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        call_with_retries(fail, sleep=sleeps.append)
    assert len(calls) == 1 and sleeps == []


def test_httpx_status_errors_are_classified_by_status(host):
    host.route("GET", lambda p: p == "/busy", lambda r: (503, {"Retry-After": "4"}, {"error": "busy"}))
    host.route("GET", lambda p: p == "/bad", lambda r: (400, {}, {"error": "bad"}))
    sleeps = []
    with httpx.Client(base_url=host.url) as client:
        with pytest.raises(httpx.HTTPStatusError):
            call_with_retries(lambda: client.get("/busy").raise_for_status(), policy=RetryPolicy(max_attempts=2),
                              sleep=sleeps.append)
        assert sleeps == [4.0]
        with pytest.raises(httpx.HTTPStatusError):
            call_with_retries(lambda: client.get("/bad").raise_for_status(), sleep=sleeps.append)
    assert sleeps == [4.0] and len(host.requests("GET", "/bad")) == 1


def test_map_error_translates_sdk_errors_before_classifying():
    class SdkRateLimit(Exception):
        pass

    calls, seen = [], []

    def fn():
        calls.append(1)
        if len(calls) == 1:
            raise SdkRateLimit()
        return 5

    out = call_with_retries(fn, sleep=lambda s: None, on_retry=lambda a, e, d: seen.append((a, type(e))),
                            map_error=lambda e: TransientGeneratorError("mapped") if isinstance(e, SdkRateLimit) else None)
    assert out == 5 and seen == [(1, TransientGeneratorError)]


def test_poll_until_returns_the_first_done_state_and_reports_progress():
    states = iter(["queued", "running", "running", "done"])
    clock, seen = Clock(), []
    state = poll_until(lambda: next(states), is_done=lambda s: s == "done", interval=2.0, sleep=clock.sleep,
                       clock=clock, progress=seen.append)
    assert state == "done" and seen == ["queued", "running", "running"] and clock.sleeps == [2.0, 2.0, 2.0]


def test_poll_until_honours_the_servers_poll_hint():
    states = iter([("pending", 5.0), ("pending", None), ("done", None)])
    clock = Clock()
    poll_until(lambda: next(states), is_done=lambda s: s[0] == "done", interval=1.0, sleep=clock.sleep, clock=clock,
               hint=lambda s: s[1])
    assert clock.sleeps == [5.0, 1.0]


def test_poll_until_times_out_at_the_deadline():
    clock, polls = Clock(), []
    with pytest.raises(GeneratorError, match="job 7 timed out after 10 s"):
        poll_until(lambda: polls.append(1), is_done=lambda s: False, interval=3.0, deadline_s=10, sleep=clock.sleep,
                   clock=clock, what="job 7")
    assert clock.now == pytest.approx(10.0) and len(polls) == 5


def test_poll_until_retries_a_transient_fetch_when_given_a_policy():
    calls = []

    def fetch():
        calls.append(1)
        if len(calls) == 1:
            raise TransientGeneratorError("502")
        return "done"

    assert poll_until(fetch, is_done=lambda s: s == "done", sleep=lambda s: None,
                      retry=RetryPolicy(max_attempts=2)) == "done"


def test_download_writes_the_whole_file(host, tmp_path):
    url = host.host_file("a.mp4", make_mp4(tmp_path, 1.0))
    out = download(url, tmp_path / "dl" / "a.mp4", headers={"x-goog-api-key": "k"})
    assert probe_clip(out).frames == 24
    assert host.requests("GET", "/files/a.mp4")[0].headers["x-goog-api-key"] == "k"


@pytest.mark.parametrize("status", [403, 404, 410])
def test_gone_result_urls_are_expired_results(host, tmp_path, status):
    url = host.host_file("a.mp4", make_mp4(tmp_path, 1.0))
    host.downloads.append(Download("expired", status))
    with pytest.raises(ExpiredResultError, match=f"expired or is gone \\(HTTP {status}\\)"):
        download(url, tmp_path / "dl" / "a.mp4")
    assert list((tmp_path / "dl").iterdir()) == []


def test_truncated_download_is_an_expired_result_and_leaves_nothing(host, tmp_path):
    url = host.host_file("a.mp4", make_mp4(tmp_path, 1.0))
    host.downloads.append(Download("truncated"))
    with pytest.raises(ExpiredResultError, match="truncated"):
        download(url, tmp_path / "dl" / "a.mp4")
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_body_shorter_than_expected_bytes_is_truncated(host, tmp_path):
    path = make_mp4(tmp_path, 1.0)
    url = host.host_file("a.mp4", path)
    with pytest.raises(ExpiredResultError, match="truncated"):
        download(url, tmp_path / "dl" / "a.mp4", expected_bytes=path.stat().st_size + 10)


def test_a_busy_result_host_is_transient_with_its_retry_after(host, tmp_path):
    host.route("GET", lambda p: p == "/busy.mp4", lambda r: (429, {"Retry-After": "3"}, {"error": "slow"}))
    with pytest.raises(TransientGeneratorError) as err:
        download(f"{host.url}/busy.mp4", tmp_path / "b.mp4")
    assert err.value.retry_after == 3.0


def test_download_messages_do_not_carry_the_query_string(host, tmp_path):
    host.downloads.append(Download("expired", 410))
    url = host.host_file("a.mp4", make_mp4(tmp_path, 1.0))
    with pytest.raises(ExpiredResultError) as err:
        download(url + "?X-Amz-Signature=secret", tmp_path / "a.mp4")
    assert "secret" not in str(err.value) and "/files/a.mp4" in str(err.value)


def test_accept_clip_probes_and_prices_the_clip(tmp_path):
    path = make_mp4(tmp_path, 2.0)
    result = accept_clip(path, clip_request(tmp_path), generator="veo", model="veo-3.1-generate-preview",
                         job_id="op1", metadata={"mode": "text"})
    assert result.duration == Fraction(2) and result.metadata["frames"] == 48 and result.metadata["audio"]
    assert result.cost_usd == pytest.approx(2 * price_per_second("veo", "veo-3.1-generate-preview", "720p"))
    assert result.job_id == "op1" and result.metadata["mode"] == "text"


def test_accept_clip_keeps_a_reported_cost(tmp_path):
    result = accept_clip(make_mp4(tmp_path, 1.0), clip_request(tmp_path), generator="xai", model="m", cost_usd=0.42)
    assert result.cost_usd == 0.42


def test_accept_clip_rejects_a_file_that_is_not_video(tmp_path):
    bogus = tmp_path / "x.mp4"
    bogus.write_bytes(b"<html>AccessDenied</html>" * 20)
    with pytest.raises(GeneratorError, match="not a decodable video"):
        accept_clip(bogus, clip_request(tmp_path), generator="xai", model="m")


def test_accept_clip_rejects_audio_without_video(tmp_path):
    from reelwright.media.ffmpeg import run_ffmpeg

    audio = tmp_path / "a.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(audio)])
    with pytest.raises(GeneratorError, match="no video stream"):
        accept_clip(audio, clip_request(tmp_path), generator="xai", model="m")


def _frames(path):
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(int) for f in container.decode(video=0)]


def test_tail_of_video_keeps_exactly_the_last_seconds(tmp_path):
    source = make_mp4(tmp_path, 3.0)
    out = tail_of_video(source, tmp_path / "tail.mp4", Fraction(1))
    assert probe_clip(out).frames == 24
    src, tail = _frames(source), _frames(out)
    diff = [abs(tail[0] - frame).mean() for frame in src]
    assert min(range(len(src)), key=diff.__getitem__) == 48


def test_rate_limiter_allows_a_burst_then_paces():
    clock = Clock()
    limiter = RateLimiter(2.0, burst=3, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.5) and waits[4] == pytest.approx(0.5)
    assert not limiter.try_acquire()


def test_rate_limiter_hands_out_each_token_once_across_threads():
    clock = Clock()
    limiter = RateLimiter(1.0, burst=10, clock=clock, sleep=lambda s: None)
    got = []
    threads = [threading.Thread(target=lambda: got.append(limiter.try_acquire())) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got.count(True) == 10


def test_missing_key_names_every_accepted_env_var(monkeypatch):
    with pytest.raises(MissingKeyError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        require_key(["GEMINI_API_KEY", "GOOGLE_API_KEY"], "Google Veo")
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    assert require_key(["GEMINI_API_KEY", "GOOGLE_API_KEY"], "Google Veo") == "g-key"


def test_missing_key_message_holds_no_key_value(monkeypatch):
    monkeypatch.setenv("RUNWAYML_API_SECRET", "")
    with pytest.raises(MissingKeyError) as err:
        require_key("RUNWAYML_API_SECRET", "Runway")
    assert err.value.env_var == "RUNWAYML_API_SECRET"


def test_data_uri_encodes_a_local_image(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG\r\n")
    assert data_uri(path) == "data:image/png;base64,iVBORw0K"


def test_validate_request_quotes_a_duration_the_backend_cannot_make(tmp_path):
    caps = Capabilities(name="veo", model="m", durations=[4, 6, 8], aspects=["16:9"], resolutions=["720p"])
    with pytest.raises(BriefError, match="cannot make a 5 s clip; allowed durations: 4, 6, 8"):
        validate_request(caps, clip_request(tmp_path, duration=5))


def test_price_lookup_falls_back_from_resolution_to_model_to_generator():
    assert price_per_second("xai", "grok-imagine-video", "720p") == 0.07
    assert price_per_second("veo", "veo-3.1-fast-generate-preview", "1080p") == 0.15
    assert price_per_second("replicate", "owner/some-new-model", "720p") == 0.10
    assert price_per_second("diffusers", "wan", "480p") == 0.0
    assert price_date() == PRICE_DATE == "2026-11"


def test_prices_are_overridden_from_the_reelwright_prices_file(tmp_path, monkeypatch):
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"date": "2027-01", "prices": [
        {"generator": "veo", "model": "veo-3.1-generate-preview", "usd_per_second": 0.25},
        {"generator": "runway", "model": "gen4_turbo", "resolution": "720p", "usd_per_second": 0.04}]}))
    monkeypatch.setenv("REELWRIGHT_PRICES", str(table))
    assert price_per_second("veo", "veo-3.1-generate-preview", "720p") == 0.25
    assert price_per_second("runway", "gen4_turbo", "720p") == 0.04
    assert price_per_second("runway", "gen4_turbo", "1080p") == 0.05
    assert price_date() == "2027-01"


def test_a_malformed_prices_file_is_a_config_error(tmp_path, monkeypatch):
    table = tmp_path / "prices.json"
    table.write_text('[{"generator": "veo"}]')
    monkeypatch.setenv("REELWRIGHT_PRICES", str(table))
    with pytest.raises(ConfigError, match="bad price entry"):
        price_per_second("veo", "m", "720p")


def test_rate_limiter_does_not_spin_on_float_rounding():
    clock = Clock()
    limiter = RateLimiter(10.0, burst=1, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(50)]
    assert len(clock.sleeps) == 49 and clock.now == pytest.approx(4.9)
    assert all(w == pytest.approx(0.1) for w in waits[1:])
