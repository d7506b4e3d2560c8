"""`/v1/videos` driven by the official, unmodified `openai` SDK over a real socket: create_and_poll gives an MP4 of
exactly the asked length; extend, edit, remix, list, delete and the download variants behave as documented."""

from __future__ import annotations

import io
import re
from fractions import Fraction
from pathlib import Path

import httpx
import openai
import pytest
from openai import omit
from PIL import Image

from reelwright.media import frames_at, probe

from .studio_server import ServerProcess, openai_client, quiet_sora_warnings

pytestmark = pytest.mark.filterwarnings("ignore:.*Sora.*:DeprecationWarning")
README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    quiet_sora_warnings()
    server = ServerProcess(tmp_path_factory.mktemp("studio-home"), args=["--workers", "2"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(srv):
    return openai_client(srv)


@pytest.fixture(scope="module")
def base_video(client, tmp_path_factory):
    video = client.videos.create_and_poll(model="reelwright", prompt="a dog going on a walk, sniffing around",
                                          seconds="5.5", size="640x360", poll_interval_ms=100)
    path = tmp_path_factory.mktemp("dl") / "dog.mp4"
    client.videos.download_content(video.id).write_to_file(path)
    return video, path


def test_create_and_poll_delivers_an_mp4_of_exactly_the_asked_length(base_video):
    video, path = base_video
    assert video.status == "completed" and video.progress == 100 and video.error is None
    assert video.object == "video" and video.seconds == "5.5" and video.size == "640x360"
    assert video.completed_at >= video.created_at
    info = probe(path)
    assert info.frames == 132 and info.fps == 24  # 5.5 s at 24 fps, to the frame
    assert (info.width, info.height, info.vcodec) == (640, 360, "h264")
    assert abs(info.duration - Fraction(11, 2)) <= Fraction(1, 24)


def test_retrieve_reports_a_poll_hint_and_the_same_video(client, base_video):
    video, _ = base_video
    raw = client.videos.with_raw_response.retrieve(video.id)
    assert int(raw.headers["openai-poll-after-ms"]) > 0
    assert raw.parse().id == video.id


def test_extend_by_id_adds_the_asked_seconds(client, base_video, tmp_path):
    video, _ = base_video
    # openai 3.x cannot send video={"id": ...} (its file extraction rejects a dict): the id rides in extra_body.
    ext = client.videos.extend(video=omit, seconds="3", prompt="the dog falls asleep at home",
                               extra_body={"video": {"id": video.id}})
    assert ext.status == "queued"
    ext = client.videos.poll(ext.id, poll_interval_ms=100)
    assert ext.status == "completed", ext.error
    assert ext.seconds == "8.5"
    out = tmp_path / "ext.mp4"
    client.videos.download_content(ext.id).write_to_file(out)
    assert probe(out).frames == 204


def test_extend_an_uploaded_file(client, base_video, tmp_path):
    _, path = base_video
    with path.open("rb") as fh:
        ext = client.videos.extend(video=fh, seconds="2", prompt="the dog runs home")
    ext = client.videos.poll(ext.id, poll_interval_ms=100)
    assert ext.status == "completed", ext.error
    out = tmp_path / "ext.mp4"
    client.videos.download_content(ext.id).write_to_file(out)
    assert probe(out).frames == 180


def test_edit_overlays_text_into_a_new_video_and_keeps_the_original(client, base_video, tmp_path):
    video, original = base_video
    edited = client.videos.edit(video=omit, prompt="add 'SALE 50%' at 0:01 for 3 seconds",
                                extra_body={"video": {"id": video.id}})
    edited = client.videos.poll(edited.id, poll_interval_ms=100)
    assert edited.status == "completed", edited.error
    out = tmp_path / "edited.mp4"
    client.videos.download_content(edited.id).write_to_file(out)
    assert probe(out).frames == probe(original).frames
    import numpy as np

    during = [np.asarray(f, dtype=np.int16) for f in (frames_at(original, [2])[0], frames_at(out, [2])[0])]
    before = [np.asarray(f, dtype=np.int16) for f in (frames_at(original, [0.5])[0], frames_at(out, [0.5])[0])]
    assert np.abs(during[0] - during[1]).mean() > 2 * np.abs(before[0] - before[1]).mean() + 0.5
    again = tmp_path / "again.mp4"
    client.videos.download_content(video.id).write_to_file(again)  # the source is untouched
    assert probe(again).frames == 132


def test_remix_keeps_length_and_size_with_a_new_prompt(client, base_video):
    video, _ = base_video
    remix = client.videos.poll(client.videos.remix(video.id, prompt="a cat on a walk").id, poll_interval_ms=100)
    assert remix.status == "completed", remix.error
    assert (remix.seconds, remix.size, remix.remixed_from_video_id) == ("5.5", "640x360", video.id)
    assert remix.prompt == "a cat on a walk"


def test_reelwright_fields_ride_in_extra_body(client, tmp_path):
    video = client.videos.create_and_poll(model="reelwright-short-film", prompt="a lighthouse keeper at dawn",
                                          seconds="2", extra_body={"aspect": "9:16", "resolution": "360p"},
                                          poll_interval_ms=100)
    assert video.status == "completed", video.error
    assert video.size == "360x640" and video.model == "reelwright-short-film"


def test_thumbnail_and_spritesheet_variants_are_images_of_the_video(client, base_video):
    video, _ = base_video
    thumb = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").content))
    assert thumb.format == "WEBP" and thumb.size == (640, 360)
    sheet = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="spritesheet").content))
    assert sheet.format == "JPEG" and sheet.size[0] == 5 * 192 and sheet.size[1] == 2 * 108


def test_list_pages_in_both_orders_and_delete_removes(client, base_video):
    made = [client.videos.create(prompt=f"a red kite number {i}", seconds="1", size="640x360").id for i in range(3)]
    for vid in made:
        client.videos.poll(vid, poll_interval_ms=100)
    newest_first = [v.id for v in client.videos.list(order="desc", limit=2)]  # the SDK follows `after` itself
    assert newest_first[:3] == made[::-1]
    page = client.videos.list(order="asc", limit=2)
    assert len(page.data) == 2 and page.has_more
    assert [v.id for v in client.videos.list(order="asc")][-3:] == made
    deleted = client.videos.delete(made[0])
    assert deleted.deleted and deleted.id == made[0] and deleted.object == "video.deleted"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(made[0])
    assert made[0] not in [v.id for v in client.videos.list()]


@pytest.mark.parametrize("kwargs, words", [
    ({"model": "sora-2", "seconds": "4"}, "unknown model"),
    ({"seconds": "0"}, "duration must be positive"),
    ({"seconds": "soon"}, "cannot read duration"),
    ({"size": "huge"}, "WIDTHxHEIGHT"),
    ({"extra_body": {"colour": "red"}}, "colour"),
])
def test_bad_requests_are_400_with_one_clear_message(client, kwargs, words):
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="a dog", **kwargs)
    assert words in info.value.message
    assert "Traceback" not in info.value.response.text


def test_an_unfinished_video_cannot_be_downloaded_or_extended(client, srv):
    video = client.videos.create(prompt="a slow sunset over the sea", seconds="30", size="640x360")
    with pytest.raises(openai.ConflictError):
        client.videos.download_content(video.id)
    with pytest.raises(openai.ConflictError):
        client.videos.extend(video=omit, seconds="2", prompt="x", extra_body={"video": {"id": video.id}})
    with pytest.raises(openai.ConflictError):
        client.videos.delete(video.id)
    assert httpx.post(f"{srv.url}/api/runs/{video.id}/cancel").json()["status"] == "cancelled"


def test_input_reference_must_be_an_image_by_content(client, tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, format="PNG")
    video = client.videos.create(prompt="a red ball", seconds="1", size="640x360",
                                 input_reference=("ball.png", buf.getvalue(), "image/png"))
    assert client.videos.poll(video.id, poll_interval_ms=100).status == "completed"
    with pytest.raises(openai.BadRequestError) as info:
        client.videos.create(prompt="a red ball", input_reference=("ball.png", b"#!/bin/sh\nrm -rf /\n", "image/png"))
    assert "not an image" in info.value.message


def test_readme_openai_snippet_runs(srv, tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "client.videos" in b)
    assert "http://127.0.0.1:8000/v1" in code
    monkeypatch.chdir(tmp_path)
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c",
                          code.replace("127.0.0.1:8000", f"127.0.0.1:{srv.port}")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    made = sorted(tmp_path.glob("*.mp4"))
    assert made, run.stdout
    for mp4 in made:
        assert probe(mp4).frames > 0
