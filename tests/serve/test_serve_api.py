"""The JSON API through FastAPI's test client: every endpoint's good and bad inputs."""

from __future__ import annotations

import io
import re
import socket
import wave
from importlib import resources
from pathlib import Path

import mido
import numpy as np
import pytest

from drumrnn.cli import main
from drumrnn.data.kits import get_kit
from drumrnn.serve.grid import empty_grid

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")

KIT = get_kit("9")


@pytest.fixture(scope="module")
def client(app):
    import warnings

    with warnings.catch_warnings():  # Starlette 1.x would rather have httpx2; httpx works
        warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient
    return TestClient(app)


def grid_json(bars=1, tempo=120.0, swing=50.0, meter=(4, 4), hits=(), steps_per_quarter=4):
    """A grid's JSON with ``hits``: (row, step, velocity[, offset])."""
    grid = empty_grid(KIT, bars, tempo, swing, meter, steps_per_quarter)
    for row, step, velocity, *offset in hits:
        grid.velocities[row, step] = velocity
        grid.offsets[row, step] = offset[0] if offset else 0.0
    return grid.to_dict()


def with_offset(offset):
    grid = grid_json(hits=[(0, 0, 90)])
    grid["rows"][0]["offsets"][0] = offset
    return grid


def cells(grid):
    return np.array([row["velocities"] for row in grid["rows"]])


def test_info_names_the_kit_rows_with_their_pitches(client):
    info = client.get("/api/info").json()
    assert [(r["name"], r["pitch"]) for r in info["rows"]] == list(
        zip(KIT.class_names, KIT.output_pitches.tolist()))
    assert info["steps_per_quarter"] == 4
    # the bundled model reads labels: its styles are offered
    assert info["supports"]["style"] is True and "rock" in info["styles"]


def test_generate_returns_a_grid_and_its_seed_which_reproduces_it(client):
    a = client.post("/api/generate", json={"bars": 3, "seed": 11, "temperature": 0.9})
    assert a.status_code == 200
    body = a.json()
    assert body["seed"] == 11 and body["grid"]["bars"] == 3
    assert cells(body["grid"]).shape == (9, 48) and cells(body["grid"]).any()
    again = client.post("/api/generate", json={"bars": 3, "seed": 11, "temperature": 0.9})
    assert again.json() == body
    drawn = client.post("/api/generate", json={"bars": 1}).json()
    replay = client.post("/api/generate", json={"bars": 1, "seed": drawn["seed"]}).json()
    assert replay["grid"] == drawn["grid"]


def test_generate_opens_with_seed_bars(client):
    grid = grid_json(bars=2, hits=[(0, 0, 100), (1, 4, 90), (2, 18, 70)])
    body = client.post("/api/generate", json={"bars": 4, "seed": 1, "grid": grid,
                                              "seed_bars": [1, 2]}).json()
    assert body["grid"]["bars"] == 4
    first = cells(body["grid"])[:, :16]
    assert first[2, 2] == 70 and np.count_nonzero(first) == 1


@pytest.mark.parametrize("body, message", [
    ({"bars": 0}, "greater than or equal to 1"),
    ({"bars": 17}, "less than or equal to 16"),
    ({"temperature": 0}, "greater than or equal to 0.01"),
    ({"tempo": 500}, "less than or equal to 300"),
    ({"swing": 80}, "less than or equal to 75"),
    ({"seed": -1}, "greater than or equal to 0"),
    ({"feel": 1.5}, "less than or equal to 1"),
    ({"kind": "groove"}, "'beat' or 'fill'"),
    ({"style": "polka"}, "unknown style 'polka'; this model knows: rock"),
    ({"bars": "many"}, "valid integer"),
    ({"colour": "red"}, "Extra inputs are not permitted"),
    ({"seed_bars": [0, 1]}, "seed bars need both grid and seed_bars"),
    ({"bars": 2, "grid": grid_json(2, hits=[(0, 0, 90)]), "seed_bars": [0, 2]},
     "leave nothing to generate"),
])
def test_generate_refuses_bad_input_with_a_message(client, body, message):
    response = client.post("/api/generate", json=body)
    assert response.status_code == 422
    assert message in str(response.json()["detail"])


def test_continue_keeps_the_edited_bars(client):
    start = client.post("/api/generate", json={"bars": 2, "seed": 4}).json()["grid"]
    start["rows"][8]["velocities"][5] = 127  # an edit: a ride hit
    body = client.post("/api/continue", json={"grid": start, "add_bars": 3, "seed": 2}).json()
    assert body["grid"]["bars"] == 5
    np.testing.assert_array_equal(cells(body["grid"])[:, :32], cells(start))


def test_new_patterns_take_the_chosen_meter_and_continuing_keeps_the_grids(client):
    assert [3, 4] in client.get("/api/info").json()["meters"]
    start = client.post("/api/generate", json={"bars": 2, "seed": 4, "meter": [7, 8]}).json()
    assert start["grid"]["meter"] == [7, 8] and cells(start["grid"]).shape == (9, 28)
    # the request's meter is for new patterns: the grid's own meter wins when continuing
    body = client.post("/api/continue", json={"grid": start["grid"], "add_bars": 1, "seed": 2,
                                              "meter": [4, 4]}).json()
    assert body["grid"]["meter"] == [7, 8] and cells(body["grid"]).shape == (9, 42)
    np.testing.assert_array_equal(cells(body["grid"])[:, :28], cells(start["grid"]))
    bad = client.post("/api/generate", json={"bars": 2, "meter": [4, 3]})
    assert bad.status_code == 422 and "time signature 4/3" in str(bad.json()["detail"])


@pytest.mark.parametrize("change, message", [
    (dict(add_bars=0), "greater than or equal to 1"),
    (dict(grid=grid_json(bars=20, hits=[(0, 0, 90)]), add_bars=16), "at most 32 bars"),
    (dict(grid=grid_json(hits=[(0, 0, 200)])), "less than or equal to 127"),
    (dict(grid=with_offset(0.7)), "less than 0.5"),
    (dict(grid={**grid_json(), "bars": 2}), "the grid says 2 bars but its rows hold 1"),
    (dict(grid=grid_json(steps_per_quarter=2, hits=[(0, 0, 90)])),
     "continues grids of 4 steps per quarter; got 2"),
    (dict(grid={**grid_json(), "rows": []}), "at least 1 item"),
])
def test_continue_refuses_bad_grids(client, change, message):
    response = client.post("/api/continue", json={"grid": grid_json(hits=[(0, 0, 90)]), **change})
    assert response.status_code == 422
    assert message in str(response.json()["detail"])


def test_ragged_and_unwhole_grids_are_refused(client):
    ragged = grid_json()
    ragged["rows"][0]["velocities"] = [0] * 15
    assert "as many velocities" in client.post("/api/midi", json=ragged).json()["detail"]
    partial = grid_json()
    for row in partial["rows"]:
        row["velocities"], row["offsets"] = [0] * 20, None
    assert "whole bars of 16 steps" in client.post("/api/midi", json=partial).json()["detail"]


def test_regenerate_rewrites_only_the_range(client):
    grid = client.post("/api/generate", json={"bars": 4, "seed": 8}).json()["grid"]
    body = client.post("/api/regenerate", json={"grid": grid, "start": 1, "end": 3,
                                                "seed": 99}).json()
    before, after = cells(grid), cells(body["grid"])
    np.testing.assert_array_equal(after[:, :16], before[:, :16])
    np.testing.assert_array_equal(after[:, 48:], before[:, 48:])
    assert not np.array_equal(after[:, 16:48], before[:, 16:48])
    for bad, message in (((2, 2), "not within"), ((3, 5), "not within"),
                         ((-1, 2), "greater than or equal to 0")):
        response = client.post("/api/regenerate", json={"grid": grid, "start": bad[0],
                                                        "end": bad[1]})
        assert response.status_code == 422 and message in str(response.json()["detail"])


def test_humanize_keeps_the_hits_and_changes_the_feel(client):
    grid = grid_json(bars=2, hits=[(0, s, 100) for s in range(0, 32, 4)]
                     + [(2, s, 100) for s in range(0, 32, 2)])
    body = client.post("/api/humanize", json={"grid": grid, "amount": 1, "seed": 3}).json()
    assert body["seed"] == 3
    np.testing.assert_array_equal(cells(body["grid"]) > 0, cells(grid) > 0)
    assert len(set(cells(body["grid"])[cells(grid) > 0].tolist())) > 3
    same = client.post("/api/humanize", json={"grid": grid, "amount": 0}).json()
    assert same["grid"]["rows"] == grid["rows"]
    response = client.post("/api/humanize", json={"grid": grid, "amount": 2})
    assert response.status_code == 422


def test_midi_export_has_the_hits_tempo_meter_and_swing(client):
    grid = grid_json(bars=2, tempo=90.0, swing=75.0, meter=(3, 4),
                     hits=[(0, 0, 100), (1, 3, 80, -0.25), (2, 5, 60, 0.1), (7, 23, 127)])
    response = client.post("/api/midi", json=grid)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/midi"
    midi = mido.MidiFile(file=io.BytesIO(response.content))
    tpq, now, notes = midi.ticks_per_beat, 0, []
    meta = {}
    for message in mido.merge_tracks(midi.tracks):
        now += message.time
        if message.type == "note_on" and message.velocity:
            notes.append((now / tpq * 4, message.note, message.velocity, message.channel))
        elif message.type in ("set_tempo", "time_signature"):
            meta[message.type] = message
    assert round(mido.tempo2bpm(meta["set_tempo"].tempo), 3) == 90.0
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (3, 4)
    # steps + offsets + the swing delay (half a step at 75 %) of odd steps
    expected = [(0, 36, 100), (3 - 0.25 + 0.5, 38, 80), (5 + 0.1 + 0.5, 42, 60),
                (23 + 0.5, 49, 127)]
    assert len(notes) == 4 and all(n[3] == 9 for n in notes)
    for (step, pitch, velocity, _), (want_step, want_pitch, want_velocity) in zip(notes, expected):
        assert (pitch, velocity) == (want_pitch, want_velocity)
        assert step == pytest.approx(want_step, abs=1 / 120)


def test_wav_export_renders_the_pattern(client):
    grid = grid_json(bars=1, tempo=120.0, hits=[(0, 0, 100), (1, 4, 100), (0, 8, 100)])
    response = client.post("/api/wav", json=grid)
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as w:
        seconds = w.getnframes() / w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert 2.0 <= seconds <= 4.0 and np.abs(pcm).max() > 10000  # 1 bar of 2 s plus the tail
    empty = client.post("/api/wav", json=grid_json())
    assert empty.status_code == 422 and "no hits" in empty.json()["detail"]


def test_mp3_and_flac_exports_decode_to_the_wav_length(client, tmp_path):
    import soundfile

    grid = grid_json(bars=1, tempo=120.0, hits=[(0, 0, 100), (1, 4, 100), (0, 8, 100)])
    with wave.open(io.BytesIO(client.post("/api/wav", json=grid).content)) as w:
        frames = w.getnframes()
    for fmt, media in (("mp3", "audio/mpeg"), ("flac", "audio/flac")):
        response = client.post(f"/api/{fmt}", json=grid)
        assert response.status_code == 200 and response.headers["content-type"] == media
        path = tmp_path / f"x.{fmt}"
        path.write_bytes(response.content)
        assert abs(soundfile.info(str(path)).frames - frames) <= 1152  # one MP3 frame
    empty = client.post("/api/mp3", json=grid_json())
    assert empty.status_code == 422 and "no hits" in empty.json()["detail"]


def test_sounds_are_served_and_louder_at_higher_velocity(client):
    listing = client.get("/api/sounds").json()
    assert listing["pitches"] == KIT.output_pitches.tolist() and len(listing["velocities"]) == 3
    levels = []
    for velocity in listing["velocities"]:
        response = client.get(f"/api/sounds/38/{velocity}.wav")
        assert response.status_code == 200
        with wave.open(io.BytesIO(response.content)) as w:
            assert w.getnchannels() == 1
            pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
        levels.append(np.abs(pcm).max())
    assert levels == sorted(levels) and levels[0] < levels[-1]
    assert client.get("/api/sounds/37/80.wav").status_code == 404
    assert client.get("/api/sounds/38/81.wav").status_code == 404


def test_sound_bank_is_cached(tmp_path):
    from drumrnn.serve.sounds import SoundBank

    first = SoundBank([36], cache_dir=tmp_path)
    second = SoundBank([36], cache_dir=tmp_path)
    assert first.rendered and not second.rendered
    assert second.wav(36, 80) == first.wav(36, 80)


def test_oversized_bodies_are_refused(client):
    response = client.post("/api/midi", content=b"{" + b" " * (1 << 20) + b"}",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "over 1048576 bytes" in response.json()["detail"]
    streamed = client.post("/api/midi", content=iter([b"{}"]),  # chunked: no length given
                           headers={"Content-Type": "application/json"})
    assert streamed.status_code == 411


def test_page_and_assets_are_local(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    static = Path(str(resources.files("drumrnn.serve") / "static"))
    for path in static.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name  # no CDN
        assert client.get(f"/static/{path.name}").status_code == 200
    assert client.get("/docs").status_code == 200


def test_serve_command_refuses_a_bad_or_busy_port(capsys):
    assert main(["serve", "--port", "70000"]) == 1
    assert "port must lie in 0..65535" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["serve", "--port", str(busy.getsockname()[1])]) == 1
    assert "pass another --port" in capsys.readouterr().err
