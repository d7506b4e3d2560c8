"""The REST API the page uses: plan first and edit the storyboard (total kept exact), make, follow the steps over
SSE, fetch shots and files, regenerate one shot, uploads checked by content, batch, tokens, JSON errors."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import httpx
import pytest
from PIL import Image

from reelwright.media import probe

from .studio_server import ServerProcess, wait_for


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("studio-home"), args=["--workers", "2"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(srv):
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        yield client


def _png(color=(30, 120, 200), size=(96, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _finish(http: httpx.Client, run_id: str) -> dict:
    return wait_for(lambda: (v := http.get(f"/api/runs/{run_id}").json())["status"] in
                    ("completed", "failed", "cancelled") and v, timeout=300, interval=0.1)


@pytest.fixture(scope="module")
def edited_run(http):
    """Plan, edit the storyboard (one prompt, two lengths), make it."""
    planned = http.post("/api/plans", json={"prompt": "a dog going on a walk, sniffing around, meeting a friend",
                                           "duration": 8, "resolution": "360p"})
    assert planned.status_code == 200, planned.text
    view = planned.json()
    plan = view["plan"]
    assert view["total_s"] == 8 and len(view["shots"]) >= 2
    first, second = plan["shots"][0], plan["shots"][1]
    first["prompt"] = "a corgi in a yellow raincoat sniffs a lamppost, close up"
    first["frames"] += 12
    second["frames"] -= 12  # retimed: the total stays exact
    start = 0
    for s in plan["shots"]:
        s["start_frame"], start = start, start + s["frames"]
    made = http.post("/api/runs", json={"plan": plan})
    assert made.status_code == 202, made.text
    run = made.json()
    return run, plan, _finish(http, run["id"])


def test_an_edited_storyboard_is_made_as_edited_and_exact(http, edited_run):
    run, plan, done = edited_run
    assert done["status"] == "completed", done["error"]
    assert done["seconds"] == "8" and done["size"] == "640x360" and done["progress"] == 1
    made_plan = http.get(f"/api/runs/{run['id']}/files/plan.json").json()
    assert made_plan["shots"][0]["prompt"] == plan["shots"][0]["prompt"]
    assert [s["frames"] for s in made_plan["shots"]] == [s["frames"] for s in plan["shots"]]
    video = http.get(f"/api/runs/{run['id']}/files/video.mp4")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    path = Path(os.environ["REELWRIGHT_HOME"]) / "out.mp4"
    path.write_bytes(video.content)
    assert probe(path).frames == 8 * 24


def test_a_plan_whose_total_moved_is_refused_before_anything_is_made(http):
    plan = http.post("/api/plans", json={"prompt": "a kite over a beach", "duration": 4}).json()["plan"]
    plan["shots"][0]["frames"] += 5
    plan["shots"][0]["start_frame"] = 0
    r = http.post("/api/runs", json={"plan": plan})
    assert r.status_code == 400
    assert "shots must be contiguous" in r.json()["error"]["message"] or "exact" in r.json()["error"]["message"]


def test_a_plan_cannot_name_files_outside_the_uploads(http):
    plan = http.post("/api/plans", json={"prompt": "a kite over a beach", "duration": 4}).json()["plan"]
    plan["shots"][0]["image"] = "/etc/passwd"
    r = http.post("/api/runs", json={"plan": plan})
    assert r.status_code == 400 and "uploaded files" in r.json()["error"]["message"]


def test_events_stream_the_steps_then_the_end(http, edited_run):
    run, _, _ = edited_run
    steps, end = [], None
    with http.stream("GET", f"/api/runs/{run['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "end":
                    end = data
                    break
                steps.append((data["step"], data["status"]))
    order = [("generate", "start"), ("generate", "done"), ("cut", "done"), ("verify", "done"), ("deliver", "done")]
    assert all(step in steps for step in order), steps
    assert [steps.index(step) for step in order] == sorted(steps.index(step) for step in order)
    assert end == {"status": "completed", "error": None}


def test_events_resume_after_the_last_event_id(http, edited_run):
    run, _, _ = edited_run
    with http.stream("GET", f"/api/runs/{run['id']}/events") as stream:
        ids = [line[4:] for line in stream.iter_lines() if line.startswith("id: ")]
    assert len(set(ids)) == len(ids) > 3  # one id per event: where to pick up again
    with http.stream("GET", f"/api/runs/{run['id']}/events", headers={"Last-Event-ID": ids[2]}) as stream:
        rest = [line for line in stream.iter_lines() if line.startswith("data: ")]
    assert len(rest) == len(ids) - 3 + 1  # the events after the third, then `end`


def test_shots_show_accepted_clips_with_thumbnails(http, edited_run):
    run, plan, _ = edited_run
    shots = http.get(f"/api/runs/{run['id']}/shots").json()
    assert [s["id"] for s in shots] == [s["id"] for s in plan["shots"]]
    assert all(s["accepted"] and s["thumbnail"] for s in shots)
    thumb = http.get(shots[0]["thumbnail"])
    assert thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).size == (640, 360)


def test_regenerating_one_shot_remakes_only_that_shot(http, edited_run):
    run, plan, _ = edited_run
    before = http.get(f"/api/runs/{run['id']}/shots").json()
    r = http.post(f"/api/runs/{run['id']}/shots/{plan['shots'][1]['id']}/regenerate",
                  json={"prompt": "the corgi meets a beagle at the park gate, wide shot"})
    assert r.status_code == 202, r.text
    done = _finish(http, r.json()["id"])
    assert done["status"] == "completed", done["error"]
    assert done["run_id"] == run["run_id"]
    after = http.get(f"/api/runs/{run['id']}/shots").json()
    assert after[1]["prompt"].startswith("the corgi meets a beagle")
    events = [json.loads(line) for line in http.get(f"/api/runs/{run['id']}/files/trace.jsonl").text.splitlines()]
    last_resume = max(i for i, e in enumerate(events) if e["step"] == "plan" and "resuming" in e.get("message", ""))
    made = {e["shot"] for e in events[last_resume:] if e["step"] == "generate" and e["status"] == "start" and e.get("shot")}
    reused = {e["shot"] for e in events[last_resume:] if e["step"] == "generate" and e["status"] == "skipped"}
    assert made == {plan["shots"][1]["id"]}
    assert reused == {s["id"] for s in before} - made
    assert probe_bytes(http.get(f"/api/runs/{run['id']}/files/video.mp4").content) == 8 * 24


def probe_bytes(data: bytes) -> int:
    path = Path(os.environ["REELWRIGHT_HOME"]) / "probe.mp4"
    path.write_bytes(data)
    return probe(path).frames


def test_files_outside_the_list_are_not_served(http, edited_run):
    run, _, _ = edited_run
    for name in ("..%2Fbrief.json", "state.json", "..%2F..%2Freelwright.db"):
        r = http.get(f"/api/runs/{run['id']}/files/{name}")
        assert r.status_code == 404 and r.json()["error"]["message"]
    assert http.get(f"/api/runs/{run['id']}/files/report.json").json()["status"] in ("done",)


def test_uploads_are_checked_by_content_and_stored_under_generated_names(http, srv):
    ok = http.post("/api/uploads", files={"file": ("../../evil name.png", _png(), "text/plain")},
                   data={"name": "Biscuit"})
    assert ok.status_code == 201, ok.text
    up = ok.json()
    assert up["kind"] == "image" and up["mime"] == "image/png" and up["name"] == "Biscuit"
    stored = list((srv.home / "uploads").iterdir())
    assert [p.name for p in stored] == [f"{up['id']}.png"]
    bad = http.post("/api/uploads", files={"file": ("cat.png", b"<script>alert(1)</script>", "image/png")})
    assert bad.status_code == 400 and "not an image" in bad.json()["error"]["message"]
    empty = http.post("/api/uploads", files={"file": ("x.png", b"", "image/png")})
    assert empty.status_code == 400


def test_a_named_reference_upload_reaches_the_plan(http):
    up = http.post("/api/uploads", files={"file": ("dog.png", _png((200, 150, 60)), "image/png")}).json()
    view = http.post("/api/plans", json={"prompt": "Biscuit the dog chases a ball in the garden", "duration": 4,
                                         "references": [{"upload_id": up["id"], "name": "Biscuit"}]}).json()
    named = [e for e in view["plan"]["cast"]["entities"] if "Biscuit" in e["name"]]
    assert named and Path(named[0]["references"][0]["path"]).name == f"{up['id']}.png"
    missing = http.post("/api/plans", json={"prompt": "a dog", "references": [{"upload_id": "upload_nope"}]})
    assert missing.status_code == 404


def test_a_batch_of_lines_is_queued_together(http):
    r = http.post("/api/batches", json={"text": "a red kite\n\na blue kite\n",
                                       "defaults": {"duration": 1, "resolution": "360p"}})
    assert r.status_code == 202, r.text
    batch = r.json()
    assert [v["prompt"] for v in batch["runs"]] == ["a red kite", "a blue kite"]
    listed = http.get("/api/runs", params={"batch_id": batch["batch_id"]}).json()["data"]
    assert {v["id"] for v in listed} == {v["id"] for v in batch["runs"]}
    for v in batch["runs"]:
        assert _finish(http, v["id"])["status"] == "completed"


def test_a_csv_batch_reads_its_columns_and_refuses_unknown_ones(http):
    r = http.post("/api/batches", json={"text": "prompt,duration,aspect\n\"a cat, sleeping\",1,9:16\n",
                                       "defaults": {"resolution": "360p"}})
    assert r.status_code == 202, r.text
    done = _finish(http, r.json()["runs"][0]["id"])
    assert (done["prompt"], done["size"]) == ("a cat, sleeping", "360x640")
    bad = http.post("/api/batches", json={"text": "prompt,colour\na cat,red\n"})
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["message"]


@pytest.mark.parametrize("method, path, body, status", [
    ("GET", "/api/runs/video_nope", None, 404),
    ("POST", "/api/runs", {"prompt": ""}, 400),
    ("POST", "/api/runs", {"prompt": "a dog", "duration": "soon"}, 400),
    ("POST", "/api/runs", {"prompt": "a dog", "generator": "nope"}, 400),
    ("POST", "/api/runs", {"prompt": "a dog", "surprise": 1}, 422),
    ("POST", "/api/runs/video_nope/cancel", None, 404),
    ("DELETE", "/api/plans", None, 405),
])
def test_errors_are_json_with_the_right_status(http, method, path, body, status):
    r = http.request(method, path, json=body)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["message"] and "Traceback" not in r.text


def test_openapi_documents_the_api(http):
    doc = http.get("/openapi.json").json()
    for path in ("/api/plans", "/api/runs", "/api/runs/{run_id}/events", "/api/uploads", "/api/batches",
                 "/v1/videos", "/v1/videos/{video_id}/content"):
        assert path in doc["paths"]
    assert http.get("/docs").status_code == 200


def test_a_token_guards_the_api_but_not_the_page(tmp_path):
    token = "s3cret-token-value"
    srv = ServerProcess(tmp_path / "home", env={"REELWRIGHT_TOKEN": token}).start()
    try:
        assert httpx.get(srv.url + "/").status_code == 200
        assert httpx.get(srv.url + "/api/runs").status_code == 401
        assert httpx.get(srv.url + "/api/runs", headers={"Authorization": "Bearer wrong-token-x"}).status_code == 401
        assert httpx.get(srv.url + "/v1/videos", headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(srv.url + "/api/runs", headers=auth).status_code == 200
        short = httpx.post(srv.url + "/api/access-tokens", headers=auth).json()["token"]
        assert httpx.get(srv.url + "/api/runs", params={"access_token": short}).status_code == 200
        assert httpx.post(srv.url + "/api/plans", params={"access_token": short}, json={}).status_code == 401
        assert httpx.get(srv.url + "/api/runs", params={"access_token": short + "0"}).status_code == 401
    finally:
        srv.stop()
    assert token not in srv.log.read_text()
    assert not any(token in p.read_text(errors="ignore") for p in (tmp_path / "home").rglob("*") if p.is_file())


@pytest.mark.parametrize("option", ["base_url", "api_key", "model_path", "transport"])
def test_generator_options_cannot_redirect_the_servers_keys_or_files(http, option):
    r = http.post("/api/plans", json={"prompt": "a dog", "generator_options": {option: "http://attacker.example"}})
    assert r.status_code == 400 and option in r.json()["error"]["message"]
