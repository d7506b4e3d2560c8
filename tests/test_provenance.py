"""Provenance: a signed C2PA manifest on an MP4 (made by reelwright, the digital source type, the models and
the edits), checked by c2pa-python's own Reader; signing identities from PEM files; visible watermarks."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

c2pa = pytest.importorskip("c2pa")

from reelwright.critique.technical import check_final  # noqa: E402
from reelwright.errors import ConfigError, InputFileError  # noqa: E402
from reelwright.media import probe  # noqa: E402
from reelwright.media.watermark import Watermark, apply_watermark, parse_watermark  # noqa: E402
from reelwright.provenance import (ProvenanceFacts, SigningIdentity, read_provenance,  # noqa: E402
                                   sign_video)
from reelwright.provenance.manifest import COMPOSITE, GENERATED, GeneratorUse  # noqa: E402

from .c2pa_certs import make_chain  # noqa: E402
from .conftest import make_test_clip  # noqa: E402


@pytest.fixture
def chain(tmp_path):
    return make_chain(tmp_path / "certs")


@pytest.fixture
def clip(tmp_path):
    from reelwright.media.ffmpeg import run_ffmpeg

    raw = make_test_clip(tmp_path / "raw.mp4", seconds=2, width=320, height=180)
    run_ffmpeg(["-i", str(raw), "-c", "copy", "-movflags", "+faststart", str(tmp_path / "in.mp4")])
    return tmp_path / "in.mp4"


def facts(**kw):
    base = dict(title="final.mp4", run_id="r1", generators=[GeneratorUse(name="xai", model="grok-imagine-video",
                                                                          shots=3, seconds=18.0)])
    return ProvenanceFacts(**(base | kw))


def test_a_signed_video_verifies_with_c2pas_own_reader(tmp_path, chain, clip):
    out = sign_video(clip, tmp_path / "signed.mp4", facts(), SigningIdentity(chain["chain"], chain["key"]))
    with out.open("rb") as fh, c2pa.Reader("video/mp4", fh) as reader:
        # Signature and hashes hold; the only complaint is that nobody was told to trust a test root.
        assert reader.get_validation_state() == "Valid"
        failures = reader.get_validation_results()["activeManifest"].get("failure", [])
        assert [f["code"] for f in failures] == ["signingCredential.untrusted"]
    settings = c2pa.Settings.from_dict({"trust": {"trust_anchors": chain["root"].read_text()}})
    with out.open("rb") as fh, c2pa.Reader("video/mp4", fh, None, c2pa.Context(settings=settings)) as reader:
        assert reader.get_validation_state() == "Trusted"
        assert not reader.get_validation_results()["activeManifest"].get("failure")
        manifest = reader.get_active_manifest()
    assert manifest["claim_generator_info"][0]["name"] == "reelwright"
    assert manifest["signature_info"]["common_name"] == "Test Signer"
    actions = next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"] == GENERATED
    assert "xai:grok-imagine-video" in actions[0]["parameters"]["description"]


def test_signing_keeps_the_video_playable_exact_and_faststart(tmp_path, chain, clip):
    out = sign_video(clip, tmp_path / "signed.mp4", facts(), SigningIdentity(chain["chain"], chain["key"]))
    before, after = probe(clip), probe(out)
    assert (after.frames, after.vcodec, after.acodec) == (before.frames, before.vcodec, before.acodec)
    assert check_final(out, before.frames, before.fps).passed


def test_our_reader_reports_the_source_type_models_and_edit_history(tmp_path, chain, clip):
    f = facts(source="composite", edits=[{"kind": "extend", "description": "extended 48 frames to 96"},
                                         {"kind": "watermark", "description": "visible watermark 'DEMO'"}])
    out = sign_video(clip, tmp_path / "signed.mp4", f, SigningIdentity(chain["chain"], chain["key"]))
    report = read_provenance(out)
    assert report.present and report.valid and not report.trusted
    assert report.claim_generator.startswith("reelwright")
    assert [a.action for a in report.actions] == ["c2pa.created", "c2pa.edited", "c2pa.edited"]
    assert report.actions[0].source_type == COMPOSITE
    assert report.actions[1].source_type == COMPOSITE  # generated frames added to a person's footage
    assert "watermark" in report.actions[2].description
    assert report.production["generators"][0]["model"] == "grok-imagine-video"


def test_the_signer_is_trusted_only_against_its_own_root(tmp_path, chain, clip):
    out = sign_video(clip, tmp_path / "signed.mp4", facts(), SigningIdentity(chain["chain"], chain["key"]))
    assert read_provenance(out, trust_anchors=chain["root"]).trusted
    other = make_chain(tmp_path / "other")
    report = read_provenance(out, trust_anchors=other["root"])
    assert not report.trusted


def test_a_changed_frame_after_signing_fails_verification(tmp_path, chain, clip):
    out = sign_video(clip, tmp_path / "signed.mp4", facts(), SigningIdentity(chain["chain"], chain["key"]))
    data = bytearray(out.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 2000] ^= 0xFF  # one byte of picture data
    out.write_bytes(bytes(data))
    report = read_provenance(out)
    assert report.present and not report.valid
    assert any("mismatch" in f.lower() or "hash" in f.lower() for f in report.failures)
    with out.open("rb") as fh, c2pa.Reader("video/mp4", fh) as reader:
        assert reader.get_validation_state() == "Invalid"


def test_a_file_without_a_manifest_says_so(clip):
    report = read_provenance(clip)
    assert not report.present and not report.valid


@pytest.mark.parametrize("case", ["wrong_key", "self_signed", "not_pem", "missing"])
def test_a_bad_signing_identity_is_one_line_that_never_shows_the_key(tmp_path, chain, case):
    key_text = chain["key"].read_text()
    other = make_chain(tmp_path / "other")
    cert, key = chain["chain"], chain["key"]
    if case == "wrong_key":
        key = other["key"]
    elif case == "self_signed":
        cert = tmp_path / "leaf-only.pem"
        cert.write_text(chain["chain"].read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    elif case == "not_pem":
        key = tmp_path / "key.txt"
        key.write_text("hello")
    else:
        cert = tmp_path / "nope.pem"
    with pytest.raises(ConfigError) as err:
        SigningIdentity(cert, key)
    message = str(err.value)
    assert "\n" not in message and "PRIVATE KEY" not in message
    assert key_text.splitlines()[1] not in message
    assert "key" not in repr(SigningIdentity(chain["chain"], chain["key"])).lower().replace("signingidentity", "")


def _mean_diff_by_region(a, b):
    """Mean absolute luma difference in each 2x2 region of the picture (top-left, top-right, ...)."""
    h, w = a.shape
    d = np.abs(a.astype(float) - b.astype(float))
    return {"top-left": d[: h // 2, : w // 2].mean(), "top-right": d[: h // 2, w // 2:].mean(),
            "bottom-left": d[h // 2:, : w // 2].mean(), "bottom-right": d[h // 2:, w // 2:].mean()}


def _frame(path, n=10):
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == n:
                return f.to_ndarray(format="gray")
    raise AssertionError("short video")


@pytest.mark.parametrize("position", ["bottom-right", "top-left"])
def test_a_text_watermark_shows_in_its_corner_only_and_keeps_length_and_sound(tmp_path, clip, position):
    mark = Watermark(text="DEMO reelwright", position=position, opacity=0.9, size=0.12)
    out = apply_watermark(clip, tmp_path / "marked.mp4", mark)
    a, b = probe(clip), probe(out)
    assert (b.frames, b.has_audio, b.width, b.height) == (a.frames, True, a.width, a.height)
    diff = _mean_diff_by_region(_frame(clip), _frame(out))
    assert diff[position] > 3 * max(v for k, v in diff.items() if k != position)


def test_an_image_watermark_is_blended_at_its_opacity(tmp_path, clip):
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (64, 32), (255, 255, 255)).save(logo)
    faint = apply_watermark(clip, tmp_path / "faint.mp4", parse_watermark(str(logo), position="top-right", opacity=0.2))
    strong = apply_watermark(clip, tmp_path / "strong.mp4", parse_watermark(str(logo), position="top-right", opacity=0.9))
    base = _frame(clip)
    d_faint = _mean_diff_by_region(base, _frame(faint))["top-right"]
    d_strong = _mean_diff_by_region(base, _frame(strong))["top-right"]
    assert d_strong > 2.5 * d_faint > 0


def test_watermark_input_is_checked_before_any_work(tmp_path):
    from reelwright.errors import BriefError

    with pytest.raises(BriefError, match="opacity"):
        parse_watermark("DEMO", opacity=1.5)
    with pytest.raises(BriefError):
        parse_watermark("DEMO", position="upside-down")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(InputFileError):
        parse_watermark(str(bomb))
    assert json.loads(json.dumps(parse_watermark("  © 2026 ").describe()))["text"]
