"""The Agent Mode page in Debian's Chromium, driven by Playwright: type a request, plan, edit one shot's prompt and
length (the total stays exact), make it, watch the steps, play the result, regenerate one shot, download.
A screenshot of each stage is kept in test-artifacts/studio-page/."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from reelwright.media import probe

from .studio_server import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("REELWRIGHT_TEST_ARTIFACTS",
                                Path(__file__).resolve().parent.parent / "test-artifacts")) / "studio-page"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                "(scripts/setup.sh --dev installs it)")


@pytest.fixture
def page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    srv = ServerProcess(tmp_path / "home").start()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1100, "height": 1300}, accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(120_000)
        outside: list[str] = []
        pg.on("request", lambda req: None if req.url.startswith(srv.url) else outside.append(req.url))
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.goto(srv.url + "/")
        yield pg, srv
        assert outside == [], f"the page reached outside the server: {outside}"
        assert errors == [], errors
        browser.close()
    srv.stop()


def shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_plan_edit_make_watch_play_regenerate_download(page, tmp_path):
    pg, srv = page
    shot(pg, "1-compose")
    pg.click("text=Short Film")
    pg.fill("#prompt", "a dog going on a walk, sniffing around, getting a pup cup, meeting a friend")
    pg.fill("#duration", "8")
    pg.select_option("#resolution", "360p")
    pg.click("#plan-btn")
    pg.wait_for_selector(".shot")
    cards = pg.locator(".shot")
    assert cards.count() >= 3
    assert "192 frames; target 192" in pg.inner_text("#total")
    shot(pg, "2-plan")

    first = cards.nth(0)
    first.locator(".shot-prompt").fill("a corgi in a yellow raincoat sniffs a red fire hydrant, low angle")
    old = float(first.locator(".shot-seconds").input_value())
    first.locator(".shot-seconds").fill(f"{old + 0.5:g}")
    first.locator(".shot-seconds").dispatch_event("change")
    pg.wait_for_function(f"document.querySelector('.shot .shot-seconds').value == '{old + 0.5:g}'")
    assert "192 frames; target 192" in pg.inner_text("#total")  # the neighbour gave the half second
    shot(pg, "3-edited")

    pg.click("#make-btn")
    pg.wait_for_selector("#steps li")
    shot(pg, "4-live")
    pg.wait_for_function("document.querySelector('#run-status').textContent === 'completed'", timeout=300_000)
    steps = pg.inner_text("#steps")
    for label in ("Generating", "Evaluating", "Stitching", "Verifying", "Delivering"):
        assert label in steps
    pg.wait_for_selector("#thumbs img.thumb")

    pg.wait_for_selector(".result-shot")
    pg.wait_for_function("document.querySelector('#player').readyState >= 1", timeout=60_000)
    duration = pg.evaluate("document.querySelector('#player').duration")
    assert abs(duration - 8) < 0.05
    pg.evaluate("document.querySelector('#player').muted = true; document.querySelector('#player').play()")
    pg.wait_for_function("document.querySelector('#player').currentTime > 0.2", timeout=60_000)
    shot(pg, "5-result")

    run_id = pg.locator("#runs-list tr").first.get_attribute("data-id")
    made = httpx.get(f"{srv.url}/api/runs/{run_id}/files/plan.json").json()
    assert made["shots"][0]["prompt"].startswith("a corgi in a yellow raincoat")
    assert made["shots"][0]["frames"] == round((old + 0.5) * 24)
    assert sum(s["frames"] for s in made["shots"]) == 192

    second = pg.locator(".result-shot").nth(1)
    second.locator(".regen-prompt").fill("the corgi gets a pup cup at a cafe window, close up")
    pg.evaluate("document.querySelector('#run-status').textContent = ''")
    second.locator(".regen-btn").click()
    pg.wait_for_function("document.querySelector('#run-status').textContent === 'completed'", timeout=300_000)
    pg.wait_for_function("[...document.querySelectorAll('.regen-prompt')].some(t => t.value.includes('pup cup at a cafe'))")
    shot(pg, "6-regenerated")
    after = httpx.get(f"{srv.url}/api/runs/{run_id}/files/plan.json").json()
    assert after["shots"][1]["prompt"].startswith("the corgi gets a pup cup")
    assert after["shots"][0]["prompt"] == made["shots"][0]["prompt"]

    with pg.expect_download() as info:
        pg.click("#downloads a[download='video.mp4']")
    saved = tmp_path / "download.mp4"
    info.value.save_as(saved)
    assert probe(saved).frames == 192
    rows = pg.locator("#runs-list tr")
    assert rows.count() >= 2 and "completed" in rows.first.inner_text()
