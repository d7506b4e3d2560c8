"""Provenance through the flow: `make --watermark ... --sign-cert ... --sign-key ...` delivers a stamped
video whose C2PA manifest c2pa's own Reader verifies and `reelwright inspect` shows; resume keeps both."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

c2pa = pytest.importorskip("c2pa")

from reelwright.api import make_video, plan_video, resume_run  # noqa: E402
from reelwright.provenance import read_provenance  # noqa: E402
from reelwright.provenance.manifest import GENERATED  # noqa: E402

from .c2pa_certs import make_chain  # noqa: E402
from .gen_fakes import ScriptedGenerator, scripted  # noqa: F401, E402 (scripted: an autouse fixture)
from .test_cli import assert_clean_user_error, rw  # noqa: E402


@pytest.fixture
def chain(tmp_path):
    return make_chain(tmp_path / "certs", signer_cn="Ada Studio")


def corner_luma(path, n=12):
    """Mean luma of the bottom-right and top-left eighths of frame n."""
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == n:
                g = f.to_ndarray(format="gray").astype(float)
                h, w = g.shape
                return g[h * 7 // 8:, w * 3 // 4:], g[: h // 8, : w // 4]
    raise AssertionError("short video")


def test_make_stamps_the_watermark_and_signs_a_manifest_c2pa_verifies(tmp_path, chain):
    out = tmp_path / "v.mp4"
    d = make_video("a cat naps, then stretches", generator="scripted", duration=4, resolution="360p", output=out,
                   runs_dir=tmp_path / "runs", watermark="DEMO ONLY", sign_cert=chain["chain"], sign_key=chain["key"])
    settings = c2pa.Settings.from_dict({"trust": {"trust_anchors": chain["root"].read_text()}})
    with out.open("rb") as fh, c2pa.Reader("video/mp4", fh, None, c2pa.Context(settings=settings)) as reader:
        assert reader.get_validation_state() == "Trusted"
        manifest = reader.get_active_manifest()
    actions = next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    assert actions[0]["digitalSourceType"] == GENERATED
    assert "scripted" in actions[0]["parameters"]["description"]
    assert any("watermark" in a["parameters"]["description"] and "DEMO ONLY" in a["parameters"]["description"]
               for a in actions[1:])
    report = json.loads(d.run.report_path.read_text())
    assert report["provenance"]["signed"] and report["provenance"]["signer"] == "Ada Studio"
    assert report["provenance"]["watermark"]["text"] == "DEMO ONLY"
    assert json.loads(d.run.plan_path.read_text())["watermark"]["text"] == "DEMO ONLY"
    # the mark is where it was asked for, and the run's final.mp4 is the signed file
    clean = make_video("a cat naps, then stretches", generator="scripted", duration=4, resolution="360p",
                       output=tmp_path / "clean.mp4", runs_dir=tmp_path / "runs")
    (br, tl), (br0, tl0) = corner_luma(out), corner_luma(clean.output)
    assert np.abs(br - br0).mean() > 5 * max(np.abs(tl - tl0).mean(), 0.2)
    assert read_provenance(d.run.final_path).valid


def test_resume_keeps_the_watermark_and_signs_again(tmp_path, chain):
    plan = plan_video("a cat naps, then stretches, then eats", generator="scripted", duration=6, resolution="360p")
    ScriptedGenerator.reset({plan.shots[-1].id: ["interrupt"]})
    with pytest.raises(KeyboardInterrupt):
        make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "runs", watermark="DRAFT")
    run_dir = next((tmp_path / "runs").iterdir())
    d = resume_run(run_dir, sign_cert=chain["chain"], sign_key=chain["key"])
    prov = read_provenance(d.output)
    assert prov.valid and prov.signer == "Ada Studio"
    assert prov.production["watermark"]["text"] == "DRAFT"


def test_an_unsigned_make_says_why_in_the_report(tmp_path):
    d = make_video("a cat naps", generator="scripted", duration=2, resolution="360p", output=tmp_path / "v.mp4",
                   runs_dir=tmp_path / "runs")
    section = json.loads(d.run.report_path.read_text())["provenance"]
    assert section["signed"] is False and "sign_cert" in section["note"]
    assert not read_provenance(d.output).present


def test_cli_make_with_signing_settings_from_the_environment_and_inspect(tmp_path, chain):
    out = tmp_path / "v.mp4"
    env = {"REELWRIGHT_SIGN_CERT": str(chain["chain"]), "REELWRIGHT_SIGN_KEY": str(chain["key"]),
           "REELWRIGHT_RUNS_DIR": str(tmp_path / "runs")}
    proc = rw("make", "a calm sea at dawn", "-d", "3", "--resolution", "360p", "-o", str(out),
              "--watermark", "© Ada", "--watermark-position", "top-left", env=env)
    assert proc.returncode == 0, proc.stderr
    proc = rw("inspect", str(out), "--trust", str(chain["root"]), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "c2pa: valid, trusted" in proc.stdout and "Ada Studio" in proc.stdout
    assert "trainedAlgorithmicMedia" in proc.stdout
    assert chain["key"].read_text().splitlines()[1] not in proc.stdout + proc.stderr
    proc = rw("inspect", str(out), "--json", env=env)
    data = json.loads(proc.stdout)
    assert data["provenance"]["valid"] and not data["provenance"]["trusted"]
    for run in (tmp_path / "runs").iterdir():  # the key is never copied into a run file
        for f in run.rglob("*.json*"):
            assert "PRIVATE KEY" not in f.read_text(errors="replace")


def test_cli_bad_signing_and_watermark_input_is_one_line_before_any_work(tmp_path, chain):
    runs = tmp_path / "runs"
    assert_clean_user_error(rw("make", "a calm sea", "-d", "2", "--runs-dir", str(runs), "--sign-cert",
                               str(chain["chain"])), "sign_key")
    assert_clean_user_error(rw("make", "a calm sea", "-d", "2", "--runs-dir", str(runs), "--sign-cert",
                               str(chain["root"]), "--sign-key", str(chain["key"])), "does not belong")
    assert_clean_user_error(rw("make", "a calm sea", "-d", "2", "--runs-dir", str(runs), "--watermark", "x",
                               "--watermark-opacity", "3"), "opacity")
    assert not runs.exists() or not any(runs.iterdir())


def test_inspect_fails_a_tampered_file(tmp_path, chain):
    out = tmp_path / "v.mp4"
    make_video("a cat naps", generator="scripted", duration=2, resolution="360p", output=out,
               runs_dir=tmp_path / "runs", sign_cert=chain["chain"], sign_key=chain["key"])
    data = bytearray(out.read_bytes())
    data[data.find(b"mdat") + 3000] ^= 0x55
    out.write_bytes(bytes(data))
    proc = rw("inspect", str(out))
    assert proc.returncode == 1 and "c2pa: INVALID" in proc.stdout
