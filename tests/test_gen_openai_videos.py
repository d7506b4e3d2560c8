"""The openai-videos adapter through the official openai SDK against a fake vLLM-Omni `/v1/videos` server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from reelwright.errors import (
    BriefError,
    ConfigError,
    ExpiredResultError,
    GeneratorError,
    ModerationError,
    TransientGeneratorError,
)
from reelwright.generators.base import ClipRequest
from reelwright.generators.jobs import RetryPolicy, probe_clip
from reelwright.generators.openai_videos import OpenAIVideosGenerator
from tests.fakes.gen_helpers import png, probe_frames
from tests.gen_contract import BackendContract
from tests.fakes.media_host import Download
from tests.fakes.openai_videos_server import OmniFake

WAN = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"
ROOT = Path(__file__).resolve().parents[1]
# The adapter filters this warning for users (see the subprocess test); pytest resets filters per test.
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    server = OmniFake(workdir=tmp_path)
    monkeypatch.delenv("OPENAI_VIDEOS_API_KEY", raising=False)
    monkeypatch.delenv("REELWRIGHT_OPENAI_VIDEOS_BASE_URL", raising=False)
    yield server
    server.close()


def make(fake, model=WAN, **kw):
    kw.setdefault("base_url", fake.base_url)
    return OpenAIVideosGenerator(model, poll_interval=0.0, sleep=lambda s: None,
                                 retry=RetryPolicy(max_attempts=3, base_delay=0.0), **kw)


def request(tmp_path: Path, **kw) -> ClipRequest:
    base = dict(shot_id="s1", prompt="a dog sniffs a lamp post", duration=Fraction(33, 16), width=160, height=90,
                aspect="16:9", resolution="720p", seed=7, out_path=tmp_path / "out" / "s1.mp4")
    base.update(kw)
    return ClipRequest(**base)


def test_a_wan_model_is_asked_for_an_exact_frame_count_at_its_native_fps(fake, tmp_path):
    gen = make(fake)
    result = gen.generate(request(tmp_path))
    form = fake.form().fields
    assert (form["num_frames"], form["fps"], form["size"]) == ("33", "16", "160x96")
    assert "seconds" not in form
    assert probe_frames(result.path) == 33 and result.duration == Fraction(33, 16)
    info = probe_clip(result.path)
    assert (info.width, info.height, info.fps) == (160, 96, 16)


def test_declared_durations_are_the_frame_counts_the_family_makes(fake):
    caps = make(fake).capabilities()
    durs = caps.allowed_durations()
    assert durs[0] == Fraction(17, 16) and durs[-1] == Fraction(81, 16)
    assert all((d * 16 - 1) % 4 == 0 for d in durs) and caps.fps == [16]


def test_engine_extras_go_in_the_form_with_the_prompt(fake, tmp_path):
    gen = make(fake, steps=4, guidance=1.0, extra_params={"flow_shift": 5.0})
    gen.generate(request(tmp_path, negative_prompt="blurry, static", seed=2**32 + 5))
    form = fake.form().fields
    assert form["prompt"] == "a dog sniffs a lamp post" and form["model"] == WAN
    assert (form["negative_prompt"], form["seed"]) == ("blurry, static", "5")
    assert (form["num_inference_steps"], form["guidance_scale"]) == ("4", "1.0")
    assert json.loads(form["extra_params"]) == {"flow_shift": 5.0}


def test_a_wan_request_without_a_negative_prompt_gets_the_familys_own(fake, tmp_path):
    make(fake).generate(request(tmp_path))
    assert "extra fingers" in fake.form().fields["negative_prompt"]


def test_a_first_frame_is_uploaded_as_input_reference(fake, tmp_path):
    image = png(tmp_path / "first.png")
    make(fake).generate(request(tmp_path, image=image))
    form = fake.form()
    name, ctype, data = form.files["input_reference"]
    assert name == "first.png" and data == image.read_bytes()
    assert "image_reference" not in form.fields


def test_image_reference_sends_the_image_as_json_instead(fake, tmp_path):
    image = png(tmp_path / "first.png")
    make(fake, image_field="image_reference").generate(request(tmp_path, image=image))
    form = fake.form()
    assert "input_reference" not in form.files
    assert json.loads(form.fields["image_reference"])["image_url"].startswith("data:image/png;base64,")


def test_a_generic_server_is_asked_for_whole_seconds_and_no_extras(fake, tmp_path):
    fake.default_fps, fake.frame_step = 24, 1
    gen = make(fake, engine="generic")
    assert gen.capabilities().allowed_durations() == [4, 8, 12]
    result = gen.generate(request(tmp_path, duration=4))
    form = fake.form().fields
    assert form["seconds"] == "4" and not {"num_frames", "fps", "seed", "negative_prompt"} & set(form)
    assert probe_frames(result.path) == 96


def test_the_model_defaults_to_the_one_the_server_lists(fake, tmp_path):
    gen = make(fake, model=None)
    assert gen.capabilities().model == WAN
    gen.generate(request(tmp_path))
    assert fake.form().fields["model"] == WAN
    assert [r.path for r in fake.requests("GET", "/models")] == ["/v1/models"]


def test_a_model_the_server_does_not_serve_is_a_config_error(fake, tmp_path):
    gen = make(fake, model="Lightricks/LTX-Video")
    with pytest.raises(ConfigError, match="serves Wan-AI/Wan2.2-T2V-A14B-Diffusers, not 'Lightricks/LTX-Video'"):
        gen.generate(request(tmp_path))
    assert fake.creates == []


def test_the_server_address_comes_from_the_environment(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("REELWRIGHT_OPENAI_VIDEOS_BASE_URL", fake.base_url)
    gen = make(fake, base_url=None)
    assert probe_frames(gen.generate(request(tmp_path)).path) == 33


def test_without_an_address_the_error_names_the_flag_and_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("REELWRIGHT_OPENAI_VIDEOS_BASE_URL", raising=False)
    gen = OpenAIVideosGenerator(WAN)
    assert gen.capabilities().allowed_durations()  # answered offline, for `reelwright generators`
    with pytest.raises(ConfigError, match="--gen-base-url .*REELWRIGHT_OPENAI_VIDEOS_BASE_URL"):
        gen.generate(request(tmp_path))


def test_unknown_options_are_refused():
    with pytest.raises(ConfigError, match="num_steps"):
        OpenAIVideosGenerator(WAN, num_steps=4)


def test_the_key_is_sent_as_a_bearer_token_and_openai_api_key_never_is(fake, tmp_path, monkeypatch):
    fake.api_key = "omni-secret"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-another-service")
    with pytest.raises(ConfigError, match="OPENAI_VIDEOS_API_KEY"):
        make(fake).generate(request(tmp_path))
    assert all("sk-another-service" not in r.headers.get("authorization", "") for r in fake.http.log)
    monkeypatch.setenv("OPENAI_VIDEOS_API_KEY", "omni-secret")
    assert probe_frames(make(fake).generate(request(tmp_path)).path) == 33


def test_a_keyless_server_gets_no_authorization_header(fake, tmp_path):
    make(fake).generate(request(tmp_path))
    assert all("authorization" not in r.headers for r in fake.http.log)


def test_the_sora_deprecation_warning_is_not_shown(fake, tmp_path):
    # pytest resets warning filters around each test, so this runs where a user would: a fresh interpreter
    # with every warning switched on.
    script = (f"from reelwright.generators.openai_videos import OpenAIVideosGenerator\n"
              f"from tests.test_gen_openai_videos import request\n"
              f"from pathlib import Path\n"
              f"g = OpenAIVideosGenerator({WAN!r}, base_url={fake.base_url!r}, poll_interval=0)\n"
              f"print(g.generate(request(Path({str(tmp_path)!r}))).duration)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-W", "always", "-c", script], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "33/16" and "Sora" not in done.stderr and fake.creates


def test_a_failed_job_is_a_generator_error_and_oom_is_transient(fake, tmp_path):
    fake.outcome, fake.failure = "failed", "pipeline crashed: shape mismatch"
    with pytest.raises(GeneratorError, match="shape mismatch") as err:
        make(fake).generate(request(tmp_path))
    assert not isinstance(err.value, TransientGeneratorError)
    fake.failure = "CUDA out of memory. Tried to allocate 2.00 GiB"
    with pytest.raises(TransientGeneratorError, match="out of memory"):
        make(fake).generate(request(tmp_path))


def test_a_safety_refusal_is_a_moderation_error(fake, tmp_path):
    fake.outcome, fake.failure = "failed", "Prompt rejected by the safety checker"
    with pytest.raises(ModerationError, match="safety"):
        make(fake).generate(request(tmp_path))


def test_a_size_the_model_cannot_make_is_not_sent_when_the_family_is_known(fake, tmp_path):
    make(fake).generate(request(tmp_path, width=170, height=90))
    w, h = (int(x) for x in fake.form().fields["size"].split("x"))
    assert w % 16 == 0 and h % 16 == 0


def test_fractional_seconds_are_refused_before_a_generic_server_sees_them(fake, tmp_path):
    gen = make(fake, engine="generic", durations=[4, 8])
    with pytest.raises(BriefError, match="allowed durations: 4, 8"):
        gen.generate(request(tmp_path, duration=Fraction(9, 2)))
    assert fake.creates == []


def test_a_request_the_server_refuses_is_not_retried_and_quotes_it(fake, tmp_path):
    fake.create_failures.append((400, "num_frames exceeds the model's limit"))
    with pytest.raises(GeneratorError, match="HTTP 400.*num_frames exceeds") as err:
        make(fake).generate(request(tmp_path))
    assert not isinstance(err.value, (TransientGeneratorError, ModerationError)) and len(fake.creates) == 1


def test_overload_is_retried(fake, tmp_path):
    fake.create_failures.append((503, "engine overloaded"))
    result = make(fake).generate(request(tmp_path))
    assert probe_frames(result.path) == 33 and len(fake.creates) == 2


def test_a_truncated_download_is_reported_and_leaves_nothing(fake, tmp_path):
    fake.downloads.append(Download("truncated"))
    with pytest.raises(ExpiredResultError, match="truncated"):
        make(fake).generate(request(tmp_path))
    assert list((tmp_path / "out").iterdir()) == []


def test_content_gone_once_is_asked_for_again_and_twice_is_an_expired_result(fake, tmp_path):
    fake.downloads.append(Download("expired", 404))
    assert probe_frames(make(fake).generate(request(tmp_path)).path) == 33
    fake.downloads.extend([Download("expired", 410), Download("expired", 410)])
    with pytest.raises(ExpiredResultError, match="expired or is gone.*HTTP 410"):
        make(fake).generate(request(tmp_path, out_path=tmp_path / "out" / "s2.mp4"))


def test_the_job_is_deleted_from_the_server_once_downloaded(fake, tmp_path):
    result = make(fake).generate(request(tmp_path))
    assert result.job_id not in fake.jobs and fake.requests("DELETE")
    result = make(fake, delete_after=False).generate(request(tmp_path))
    assert result.job_id in fake.jobs


def test_a_job_past_its_deadline_is_deleted_and_times_out(fake, tmp_path):
    fake.outcome = "never"
    with pytest.raises(GeneratorError, match="timed out"):
        make(fake, deadline_s=0.01).generate(request(tmp_path))
    assert fake.jobs == {} and fake.requests("DELETE")


def test_progress_follows_the_jobs_status(fake, tmp_path):
    seen: list[str] = []
    make(fake).generate(request(tmp_path), lambda f, m: seen.append(m))
    assert any("queued" in m for m in seen) and any("in_progress" in m for m in seen) and seen[-1] == "done"


def test_self_hosted_clips_cost_nothing_unless_priced(fake, tmp_path):
    assert make(fake).generate(request(tmp_path)).cost_usd == 0.0
    priced = make(fake, usd_per_second=0.02).generate(request(tmp_path))
    assert priced.cost_usd == pytest.approx(0.02 * 33 / 16)


@pytest.mark.slow
def test_cli_make_through_a_videos_server_delivers_the_exact_length(fake, tmp_path):
    from tests.fakes.entry_points import cli_env
    from tests.test_e2e_generators import DOG, assert_exact_video

    fake.pending_polls = 0  # the CLI polls at the backend's real interval: answer on the first poll
    out = tmp_path / "out.mp4"
    env = cli_env(tmp_path / "eps")
    argv = [sys.executable, "-m", "reelwright.cli", "make", DOG, "--generator", f"openai-videos:{WAN}",
            "--gen-base-url", fake.base_url, "--duration", "12", "--resolution", "360p", "-o", str(out), "--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_exact_video(out, 12)
    forms = [fake.form(i).fields for i in range(len(fake.creates))]
    assert forms and all(f["fps"] == "16" and (int(f["num_frames"]) - 1) % 4 == 0 for f in forms)
    assert all(f["size"] == "640x368" for f in forms)  # 640x360 fitted to Wan's multiple of 16
    assert "Sora" not in proc.stderr


def test_cli_generators_lists_both_scale_out_backends_with_their_key_variables(tmp_path):
    from tests.fakes.entry_points import cli_env

    proc = subprocess.run([sys.executable, "-m", "reelwright.cli", "generators"], cwd=tmp_path,
                          env={**cli_env(tmp_path / "eps"), "COLUMNS": "250"}, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines() if line.count("│") > 3}
    assert "OPENAI_VIDEOS_API_KEY" in rows["openai-videos"] and "text image" in rows["openai-videos"]
    assert "OPENROUTER_API_KEY" in rows["openrouter"] and "google/veo-3.1" in rows["openrouter"]
    assert "4, 6, 8" in rows["openrouter"]


class TestOpenAIVideosContract(BackendContract):
    key_vars = ("OPENAI_VIDEOS_API_KEY",)
    poll_path = "/v1/videos/"
    expected_frames = 33
    expected_size = (160, 96)  # 160x90 asked, fitted to Wan's multiple of 16
    moderation_match = "safety checker"
    failure_match = "shape mismatch"
    cancels_on_deadline = True  # DELETE /v1/videos/{id} aborts the engine's work
    charges = False  # a self-hosted server: nothing is billed unless usd_per_second says so

    def start_fake(self, media, monkeypatch):
        server = OmniFake(workdir=media, api_key="omni-contract-key")
        monkeypatch.setenv("OPENAI_VIDEOS_API_KEY", server.api_key)
        monkeypatch.delenv("REELWRIGHT_OPENAI_VIDEOS_BASE_URL", raising=False)
        return server

    def generator(self, fake, clock, **options):
        return OpenAIVideosGenerator(WAN, base_url=fake.base_url, **{"poll_interval": 1.0, "sleep": clock.sleep,
                                                                     "clock": clock, **options})

    def request(self, tmp_path):
        return request(tmp_path)

    def fail_submit(self, fake, status, message, retry_after=None):
        fake.create_failures.append((status, message, retry_after))

    def submit_attempts(self, fake):
        return len(fake.creates)

    def set_outcome(self, fake, outcome):
        fake.outcome = outcome
        if outcome == "failed":
            fake.failure = "pipeline crashed: shape mismatch in the VAE decoder"

    def polls(self, fake):
        return len([r for r in fake.requests("GET", "/v1/videos/") if not r.path.endswith("/content")])

    def cancel_requests(self, fake):
        return len(fake.requests("DELETE"))

    def test_contract_a_missing_key_names_its_env_var_before_any_request(self, service, clock, tmp_path, monkeypatch):
        # The key is optional here (keyless servers are the common case): a server that wants one refuses
        # the first call, and the error names the variable to set.
        monkeypatch.delenv("OPENAI_VIDEOS_API_KEY", raising=False)
        with pytest.raises(ConfigError, match="OPENAI_VIDEOS_API_KEY"):
            self.make(service, clock).generate(self.request(tmp_path))
        assert fake_creates_refused(service)


def fake_creates_refused(fake) -> bool:
    """Nothing was made: the only calls were refused for want of a key."""
    return fake.creates == [] and fake.jobs == {}
