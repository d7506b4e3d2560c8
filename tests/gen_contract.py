"""The contract every hosted video backend keeps, written once (in the manner of diffusers'
`PipelineTesterMixin`) and run against each backend's fake server by subclassing `BackendContract` in that
backend's test file.

The behaviours: a clip of the asked length comes back probed; 429 is retried after the server's Retry-After;
5xx is retried, and given up on after the policy's attempts; a client error is not retried; a moderation
refusal is a `ModerationError`; a failed job is a `GeneratorError` with the server's reason; an expired result
URL and a truncated download are `ExpiredResultError`s that leave nothing behind; a job past its deadline
stops polling at the deadline and is cancelled where the API can cancel; a missing key names its env var
before any request is sent; a job lost from sight while polling (server errors past the retries) carries its
id and is polled again, not resubmitted, by the next take; a finished job whose download fails carries its id
and cost, and is fetched again (never submitted again) when the next take resumes it.

A subclass supplies the hooks below (how to start its fake, build its generator, and script a failure on
that fake); the fakes keep their own knob names, the hooks translate."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from reelwright.errors import ExpiredResultError, GeneratorError, MissingKeyError, ModerationError, TransientGeneratorError
from reelwright.generators.base import ClipRequest, Generator
from reelwright.generators.jobs import RetryPolicy, probe_clip
from tests.fakes.gen_helpers import Clock, probe_frames
from tests.fakes.media_host import Download

# Three attempts in all: enough to see a retry and a give-up without long fakes.
CONTRACT_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01)


class BackendContract:
    """Mix into a `Test…Contract` class per hosted backend and fill in the hooks."""

    key_vars: ClassVar[tuple[str, ...]]  # the env vars a key is read from, all named when it is missing
    expected_frames: ClassVar[int]  # frames of the clip the fake makes for `request()`
    expected_size: ClassVar[tuple[int, int]]  # its (width, height): the provider's size for the asked shape
    moderation_match: ClassVar[str]  # regex of the provider's refusal reason
    failure_match: ClassVar[str]  # regex of the provider's failure reason
    cancels_on_deadline: ClassVar[bool]  # the API has a cancel call (Replicate, fal, Runway)
    # fal-client retries 408/409/429 itself with its own backoff before the adapter sees the error,
    # so the adapter cannot honour Retry-After there (the retry itself still happens).
    sdk_retries_429: ClassVar[bool] = False
    charges: ClassVar[bool] = True  # a finished job costs money (a self-hosted server: nothing unless priced)

    # ---- hooks -------------------------------------------------------------------------------
    def start_fake(self, media: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        """Start the fake, set the key env var(s) to the key it accepts, return it."""
        raise NotImplementedError

    def generator(self, fake: Any, clock: Clock, **options: Any) -> Generator:
        """The backend pointed at `fake`, waiting on `clock` (poll_interval 1 s unless given)."""
        raise NotImplementedError

    def request(self, tmp_path: Path) -> ClipRequest:
        raise NotImplementedError

    def fail_submit(self, fake: Any, status: int, message: str, retry_after: float | None = None) -> None:
        """Answer the next submit with this HTTP status (or the protocol's equivalent)."""
        raise NotImplementedError

    def submit_attempts(self, fake: Any) -> int:
        """Submits that reached the server, refused ones included."""
        raise NotImplementedError

    def server_calls(self, fake: Any) -> int:
        """Every call that reached the server (the HTTP fakes' request log)."""
        return len(fake.http.log)

    def set_outcome(self, fake: Any, outcome: str) -> None:
        """'moderated' (refused by the safety checks), 'failed' (an ordinary failure) or 'never'; the fakes
        that name their outcomes so take it as is."""
        fake.outcome = outcome

    def polls(self, fake: Any) -> int:
        raise NotImplementedError

    def cancel_requests(self, fake: Any) -> int:
        return 0

    poll_path: ClassVar[str] = ""  # a part of the path of the fake's poll requests (HTTP fakes)

    def fail_polls(self, fake: Any, times: int) -> None:
        """Answer the next `times` polls with a server error (500)."""
        fake.http.fail_next("GET", self.poll_path, 500, times)

    def clear_poll_failures(self, fake: Any) -> None:
        fake.http.faults.clear()

    # ---- fixtures ----------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def media(cls, tmp_path_factory):
        return tmp_path_factory.mktemp("contract-media")  # clips are cached per folder: made once per class

    @pytest.fixture
    def service(self, media, monkeypatch):
        fake = self.start_fake(media, monkeypatch)
        yield fake
        fake.close()

    @pytest.fixture
    def clock(self):
        return Clock()

    def make(self, service: Any, clock: Clock, **options: Any) -> Generator:
        return self.generator(service, clock, **{"retry": CONTRACT_RETRY, **options})

    def out_dir(self, tmp_path: Path) -> Path:
        return self.request(tmp_path).out_path.parent

    # ---- the contract ------------------------------------------------------------------------
    def test_contract_a_clip_of_the_asked_length_comes_back_probed(self, service, clock, tmp_path):
        progress: list[float] = []
        result = self.make(service, clock).generate(self.request(tmp_path), lambda f, m: progress.append(f))
        assert result.path == self.request(tmp_path).out_path
        assert probe_frames(result.path) == self.expected_frames
        assert progress and progress[-1] == 1.0

    def test_contract_the_clip_has_the_asked_frame_size(self, service, clock, tmp_path):
        asked = self.request(tmp_path)
        result = self.make(service, clock).generate(asked)
        info = probe_clip(result.path)
        assert (info.width, info.height) == self.expected_size
        assert (result.metadata["width"], result.metadata["height"]) == self.expected_size

    def test_contract_429_is_retried_after_the_servers_retry_after(self, service, clock, tmp_path):
        self.fail_submit(service, 429, "Too many requests", retry_after=2)
        result = self.make(service, clock).generate(self.request(tmp_path))
        assert probe_frames(result.path) == self.expected_frames
        assert self.submit_attempts(service) == 2
        if not self.sdk_retries_429:
            assert clock.sleeps[0] == 2.0

    def test_contract_5xx_is_retried(self, service, clock, tmp_path):
        self.fail_submit(service, 503, "backend busy")
        result = self.make(service, clock).generate(self.request(tmp_path))
        assert probe_frames(result.path) == self.expected_frames
        assert self.submit_attempts(service) == 2 and len(clock.sleeps) >= 1

    def test_contract_5xx_that_persists_is_transient_after_the_policys_attempts(self, service, clock, tmp_path):
        for _ in range(CONTRACT_RETRY.max_attempts):
            self.fail_submit(service, 500, "internal error")
        with pytest.raises(TransientGeneratorError):
            self.make(service, clock).generate(self.request(tmp_path))
        assert self.submit_attempts(service) == CONTRACT_RETRY.max_attempts

    @pytest.mark.parametrize("status", [400, 422])
    def test_contract_client_errors_are_not_retried(self, service, clock, tmp_path, status):
        self.fail_submit(service, status, "num_frames must be at most 161")
        with pytest.raises(GeneratorError, match="at most 161") as info:
            self.make(service, clock).generate(self.request(tmp_path))
        assert not isinstance(info.value, (ModerationError, TransientGeneratorError))
        assert self.submit_attempts(service) == 1 and clock.sleeps == []

    def test_contract_a_moderation_refusal_is_a_moderation_error(self, service, clock, tmp_path):
        self.set_outcome(service, "moderated")
        with pytest.raises(ModerationError, match=self.moderation_match):
            self.make(service, clock).generate(self.request(tmp_path))
        assert not self.request(tmp_path).out_path.exists()

    def test_contract_a_failed_job_is_a_generator_error_with_the_servers_reason(self, service, clock, tmp_path):
        self.set_outcome(service, "failed")
        with pytest.raises(GeneratorError, match=self.failure_match) as info:
            self.make(service, clock).generate(self.request(tmp_path))
        assert not isinstance(info.value, ModerationError)

    @pytest.mark.parametrize("status", [403, 404, 410])
    def test_contract_an_expired_result_url_is_an_expired_result_error(self, service, clock, tmp_path, status):
        # Two answers: a backend may renew an expired URL once (Runway signs a fresh one per fetch).
        service.media.downloads.extend([Download("expired", status), Download("expired", status)])
        with pytest.raises(ExpiredResultError, match=f"expired.*HTTP {status}"):
            self.make(service, clock).generate(self.request(tmp_path))
        assert not self.request(tmp_path).out_path.exists()

    def test_contract_a_truncated_download_is_detected_and_leaves_nothing(self, service, clock, tmp_path):
        service.media.downloads.append(Download("truncated"))
        with pytest.raises(ExpiredResultError, match="truncated"):
            self.make(service, clock).generate(self.request(tmp_path))
        assert list(self.out_dir(tmp_path).iterdir()) == []

    def test_contract_a_job_past_its_deadline_stops_polling_and_is_cancelled(self, service, clock, tmp_path):
        self.set_outcome(service, "never")
        with pytest.raises(GeneratorError, match="timed out after 6 s"):
            self.make(service, clock, poll_interval=1.0, deadline_s=6).generate(self.request(tmp_path))
        assert clock.now <= 6
        assert self.polls(service) == 7  # at 0, 1, … 6 s: none past the deadline
        assert self.cancel_requests(service) == (1 if self.cancels_on_deadline else 0)

    def test_contract_a_missing_key_names_its_env_var_before_any_request(self, service, clock, tmp_path, monkeypatch):
        for var in self.key_vars:
            monkeypatch.delenv(var, raising=False)
        with pytest.raises(MissingKeyError, match=" or ".join(self.key_vars)):
            self.make(service, clock).generate(self.request(tmp_path))
        assert self.server_calls(service) == 0

    def test_contract_a_finished_job_whose_download_fails_is_fetched_again_not_resubmitted(self, service, clock,
                                                                                           tmp_path):
        submitted: list[str] = []
        asked = self.request(tmp_path).model_copy(update={"on_submitted": submitted.append})
        gen = self.make(service, clock)
        # Two answers: a backend may renew a gone result once before giving up.
        service.media.downloads.extend([Download("expired", 410), Download("expired", 410)])
        with pytest.raises(ExpiredResultError) as info:
            gen.generate(asked)
        assert submitted and info.value.job_id == submitted[0]  # recorded before polling, carried by the error
        assert info.value.billed_usd is not None and (info.value.billed_usd > 0) == self.charges
        service.media.downloads.clear()
        again = gen.generate(asked.model_copy(update={"resume_job": info.value.job_id}))
        assert again.job_id == submitted[0] and submitted == [submitted[0]]
        assert probe_frames(again.path) == self.expected_frames
        assert self.submit_attempts(service) == 1  # fetched again, never paid for twice

    def test_contract_a_job_lost_from_sight_while_polling_is_polled_again_not_resubmitted(self, service, clock,
                                                                                         tmp_path):
        submitted: list[str] = []
        asked = self.request(tmp_path).model_copy(update={"on_submitted": submitted.append})
        gen = self.make(service, clock)
        self.fail_polls(service, 12)  # more than the policy's attempts, however the adapter nests them
        with pytest.raises(TransientGeneratorError) as info:
            gen.generate(asked)
        assert submitted and info.value.job_id == submitted[0]
        assert info.value.billed_usd is None  # not known to be finished: nothing counted yet
        self.clear_poll_failures(service)
        again = gen.generate(asked.model_copy(update={"resume_job": info.value.job_id}))
        assert again.job_id == submitted[0] and probe_frames(again.path) == self.expected_frames
        assert self.submit_attempts(service) == 1  # polled again (not cancelled), never created again
