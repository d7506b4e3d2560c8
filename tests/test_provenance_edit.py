"""Provenance of edits and extensions: an edited run and an extended video are delivered with a signed C2PA
manifest, like make and resume, that c2pa's own Reader trusts and that states the edit (or the extension, as
a composite of the person's footage) in its action history."""

from __future__ import annotations

import json

import pytest

c2pa = pytest.importorskip("c2pa")

from reelwright.api import make_video  # noqa: E402
from reelwright.editing.apply import edit_run  # noqa: E402
from reelwright.provenance import read_provenance  # noqa: E402
from reelwright.provenance.manifest import COMPOSITE, GENERATED  # noqa: E402

from .c2pa_certs import make_chain  # noqa: E402
from .conftest import make_test_clip  # noqa: E402
from .gen_fakes import ScriptedGenerator, scripted  # noqa: F401, E402 (scripted: an autouse fixture)
from .test_cli import assert_clean_user_error, rw  # noqa: E402


@pytest.fixture
def chain(tmp_path):
    return make_chain(tmp_path / "certs", signer_cn="Ada Studio")


def trusted_actions(path, chain) -> list[dict]:
    """The manifest's actions, after c2pa's own Reader found it Trusted against the test root."""
    settings = c2pa.Settings.from_dict({"trust": {"trust_anchors": chain["root"].read_text()}})
    with path.open("rb") as fh, c2pa.Reader("video/mp4", fh, None, c2pa.Context(settings=settings)) as reader:
        assert reader.get_validation_state() == "Trusted"
        manifest = reader.get_active_manifest()
    return next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))


def test_an_edited_run_is_signed_and_its_manifest_states_the_edit(tmp_path, chain):
    d = make_video("a cat naps, then stretches", generator="scripted", duration=4, resolution="360p",
                   output=tmp_path / "v.mp4", runs_dir=tmp_path / "runs")
    assert not read_provenance(d.output).present  # made unsigned
    out = tmp_path / "edited.mp4"
    edit_run(d.run.root, "add 'SALE' at 0:01 for 1 seconds", output=out, sign_cert=chain["chain"],
             sign_key=chain["key"])
    actions = trusted_actions(out, chain)
    assert actions[0]["digitalSourceType"] == GENERATED
    assert any(a["action"] == "c2pa.edited" and "add 'SALE'" in a["parameters"]["description"] for a in actions[1:])
    assert read_provenance(d.run.final_path).valid  # the run's own final is the signed file
    report = json.loads(d.run.report_path.read_text())
    assert report["provenance"]["signed"] and report["provenance"]["signer"] == "Ada Studio"
    # a second edit keeps the first in the history, once
    edit_run(d.run.root, "fade out at the end", output=out, sign_cert=chain["chain"], sign_key=chain["key"])
    edits = [a["parameters"]["description"] for a in trusted_actions(out, chain)[1:]]
    assert sum("add 'SALE'" in e for e in edits) == 1 and any("fade out" in e for e in edits)


def test_an_extension_is_signed_as_a_composite_with_the_extension_in_its_history(tmp_path, chain):
    src = make_test_clip(tmp_path / "src.mp4", seconds=1, width=320, height=180)
    out = tmp_path / "long.mp4"
    proc = rw("extend", str(src), "--to", "2", "-o", str(out), "--runs-dir", str(tmp_path / "runs"),
              "--sign-cert", str(chain["chain"]), "--sign-key", str(chain["key"]))
    assert proc.returncode == 0, proc.stderr
    actions = trusted_actions(out, chain)
    extended = [a for a in actions[1:] if "extended" in a["parameters"]["description"]]
    assert len(extended) == 1 and extended[0]["digitalSourceType"] == COMPOSITE
    assert "24 frames of the source to 48" in extended[0]["parameters"]["description"]
    assert read_provenance(out).production["source"] == "composite"


def test_cli_edit_signs_and_a_bad_identity_is_one_line_before_any_work(tmp_path, chain):
    runs = tmp_path / "runs"
    d = make_video("a calm sea at dawn", generator="animatic", duration=2, resolution="360p",
                   output=tmp_path / "v.mp4", runs_dir=runs)
    before = d.run.final_path.read_bytes()
    assert_clean_user_error(rw("edit", d.run.id, "fade out at the end", "--runs-dir", str(runs), "--sign-cert",
                               str(chain["root"]), "--sign-key", str(chain["key"])), "does not belong")
    assert_clean_user_error(rw("extend", str(d.output), "--to", "3", "--sign-cert", str(chain["chain"]),
                               "--runs-dir", str(runs)), "sign_key")
    assert d.run.final_path.read_bytes() == before and len(list(runs.iterdir())) == 1
    out = tmp_path / "e.mp4"
    proc = rw("edit", d.run.id, "fade out at the end", "-o", str(out), "--runs-dir", str(runs),
              env={"REELWRIGHT_SIGN_CERT": str(chain["chain"]), "REELWRIGHT_SIGN_KEY": str(chain["key"])})
    assert proc.returncode == 0, proc.stderr
    assert any("fade out" in a["parameters"]["description"] for a in trusted_actions(out, chain)[1:])
