"""The page in a real browser: Playwright driving Debian's Chromium against a live server.

Skipped with a reason where Playwright or Chromium is missing (CI installs both). Set
DRUMRNN_CHROMIUM to use another Chromium binary and DRUMRNN_SCREENSHOT to keep the page's
screenshot somewhere else than the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import mido
import numpy as np
import pytest

from drumrnn.data.kits import get_kit

CHROMIUM = Path(os.environ.get("DRUMRNN_CHROMIUM", "/usr/bin/chromium"))
# headless, as root in a container, and never phoning home
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--mute-audio"]
KIT = get_kit("9")


@pytest.fixture(scope="module")
def url(app):
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    from drumrnn.serve.api import running

    with running(app) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium "
                    "(or set DRUMRNN_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, url):
    """The page, loaded and ready; fails the test on any console error or page exception."""
    context = browser.new_context(viewport={"width": 1280, "height": 720}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("window.__drumrnn && window.__drumrnn.ready")
    yield page
    assert errors == []
    context.close()


def grid(page) -> dict:
    return page.evaluate("window.__drumrnn.grid()")


def cells(data: dict) -> np.ndarray:
    return np.array([row["velocities"] for row in data["rows"]])


def press(page, button: str, expect: str) -> None:
    """Click a button and wait until the status line says ``expect``."""
    page.eval_on_selector("#status", "e => { e.textContent = ''; }")
    page.click(f"#{button}")
    page.wait_for_function("(t) => document.getElementById('status').textContent.startsWith(t)",
                           arg=expect)


def fixed_seed(page, seed: int, bars: int) -> None:
    page.fill("#bars", str(bars))
    page.fill("#seed", str(seed))  # typing a seed turns "new seed each time" off
    assert not page.is_checked("#new-seed")


def test_page_loads_without_errors_and_names_every_row(page):
    page.wait_for_function("window.__drumrnn.soundsLoaded")
    assert page.locator(".row:not(.head) .name").all_inner_texts() == list(KIT.class_names)
    shown = [int(p) for p in page.locator(".row:not(.head) .pitch").all_inner_texts()]
    assert shown == KIT.output_pitches.tolist()  # each row says the pitch it writes
    assert cells(grid(page)).shape == (9, 64) and not cells(grid(page)).any()
    # a narrow window: the controls wrap and only the grid scrolls sideways
    page.set_viewport_size({"width": 380, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 380
    assert page.is_visible("#generate") and page.is_visible("#play")


def test_generate_fills_the_grid_and_the_page_is_captured(page, tmp_path_factory):
    fixed_seed(page, 41, 2)  # a seed whose pattern shows a groove (README's screenshot)
    press(page, "generate", "Generated")
    data = grid(page)
    assert cells(data).shape == (9, 32) and np.count_nonzero(cells(data)) > 8
    assert page.locator(".cell .vel").count() == np.count_nonzero(cells(data))
    target = Path(os.environ.get("DRUMRNN_SCREENSHOT")
                  or tmp_path_factory.mktemp("screenshots") / "serve-page.png")
    page.set_viewport_size({"width": 1000, "height": 540})
    page.screenshot(path=str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_meter_for_new_grids_that_continue_keeps(page):
    page.fill("#bars", "2")
    page.select_option("#meter", "3/4")  # an empty grid is redrawn in the new meter at once
    assert cells(grid(page)).shape == (9, 24) and grid(page)["meter"] == [3, 4]
    fixed_seed(page, 7, 2)
    press(page, "generate", "Generated")
    assert cells(grid(page)).shape == (9, 24) and np.count_nonzero(cells(grid(page))) > 8
    page.select_option("#meter", "7/8")  # for new patterns: a grid with hits keeps its own
    assert "this grid stays in 3/4" in page.inner_text("#status")
    page.fill("#bars", "1")
    press(page, "continue", "Continued")
    assert cells(grid(page)).shape == (9, 36) and page.input_value("#meter") == "7/8"
    press(page, "generate", "Generated")
    assert cells(grid(page)).shape == (9, 14) and grid(page)["meter"] == [7, 8]
    # the bar numbers span their bars' columns
    assert page.locator(".barnum").count() == 1


def test_edited_bars_survive_continue(page):
    fixed_seed(page, 6, 2)  # a seed whose ride row leaves step 7 free for the keyboard
    press(page, "generate", "Generated")
    ride = page.locator(".row:not(.head)").nth(8).locator(".cell")
    was = cells(grid(page))[8, 3]
    ride.nth(3).click()  # toggles the hit
    ride.nth(6).click(modifiers=["Shift"])  # cycles the velocity
    page.focus("#grid")  # the keyboard: the cursor is on the last clicked cell
    for key in ("ArrowDown", "ArrowUp", "ArrowRight", "Enter", "+"):
        page.keyboard.press(key)
    edited = cells(grid(page))
    assert edited[8, 3] == (0 if was else 100) and edited[8, 7] in (0, 110)
    assert edited[8, 6] in (40, 80, 110, 127)
    before = grid(page)
    page.fill("#bars", "2")
    press(page, "continue", "Continued")
    after = grid(page)
    assert cells(after).shape == (9, 64)
    np.testing.assert_array_equal(cells(after)[:, :32], cells(before))
    np.testing.assert_allclose([r["offsets"][:32] for r in after["rows"]],
                               [r["offsets"] for r in before["rows"]], atol=1e-4)


def test_the_seed_reproduces_a_pattern(page):
    fixed_seed(page, 1234, 2)
    press(page, "generate", "Generated")
    first = grid(page)
    press(page, "clear", "Cleared")
    assert not cells(grid(page)).any()
    press(page, "generate", "Generated")
    assert grid(page) == first and page.input_value("#seed") == "1234"
    page.check("#new-seed")
    press(page, "generate", "Generated")
    assert page.input_value("#seed") != "1234"  # a new seed, shown


def test_play_schedules_exactly_the_grids_audible_hits_at_their_times(page):
    fixed_seed(page, 3, 1)
    press(page, "generate", "Generated")
    page.fill("#tempo", "300")  # a 0.8 s loop
    page.eval_on_selector("#swing", "e => { e.value = 60; e.dispatchEvent(new Event('input')); }")
    busiest = int(np.argmax(np.count_nonzero(cells(grid(page)), axis=1)))
    page.locator(".row:not(.head)").nth(busiest).locator(".label button").click()  # mute
    audible = page.evaluate("window.__drumrnn.gridHits()")
    assert 0 < audible < np.count_nonzero(cells(grid(page)))
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press(" ")  # space plays
    page.wait_for_function("window.__drumrnn.loopCounts.length >= 3", timeout=10_000)
    hook = page.evaluate("window.__drumrnn")
    assert hook["playing"] and hook["audioTime"] > 0
    assert hook["loopCounts"][:2] == [audible, audible]  # each whole loop: every hit, once
    # each at its step + its offset + the swing delay (0.2 steps at 60 %), on the audio clock
    data, step_seconds = grid(page), 60 / 300 / 4
    expected = sorted(
        (row["pitch"], v, max(s + row["offsets"][s] + 0.2 * (s % 2), 0) * step_seconds)
        for r, row in enumerate(data["rows"]) if r != busiest
        for s, v in enumerate(row["velocities"]) if v)
    played = sorted((e["pitch"], e["velocity"], e["seconds"]) for e in hook["firstLoop"])
    assert [p[:2] for p in played] == [e[:2] for e in expected]
    np.testing.assert_allclose([p[2] for p in played], [e[2] for e in expected], atol=1e-6)
    page.keyboard.press(" ")  # and stops
    assert page.evaluate("window.__drumrnn.playing") is False


def test_midi_download_has_the_grids_audible_hits_tempo_and_meter(page):
    fixed_seed(page, 5, 2)
    page.fill("#tempo", "97")
    press(page, "generate", "Generated")
    data = grid(page)
    page.locator(".row:not(.head)").nth(0).locator(".label button").click()  # mute the kick
    with page.expect_download() as download:
        page.click("#download-midi")
    assert download.value.suggested_filename == "drumrnn.mid"
    midi = mido.MidiFile(download.value.path())
    now, notes, meta = 0, [], {}
    for message in mido.merge_tracks(midi.tracks):
        now += message.time
        if message.type == "note_on" and message.velocity:
            notes.append((message.note, message.velocity, now / midi.ticks_per_beat * 4))
        elif message.type in ("set_tempo", "time_signature"):
            meta[message.type] = message
    assert round(mido.tempo2bpm(meta["set_tempo"].tempo), 3) == 97.0
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (4, 4)
    expected = sorted((row["pitch"], v, max(step + row["offsets"][step], 0))
                      for row in data["rows"][1:]  # muted rows are left out
                      for step, v in enumerate(row["velocities"]) if v)
    got = sorted(notes)
    assert len(got) == len(expected) > 0
    for (pitch, velocity, step), (want_pitch, want_velocity, want_step) in zip(got, expected):
        assert (pitch, velocity) == (want_pitch, want_velocity)
        assert step == pytest.approx(want_step, abs=1 / 100)
