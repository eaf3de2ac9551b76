"""The JSON API and the page, as a FastAPI app: ``create_app(DrumMachine(generator))``.

Endpoints (FastAPI documents them at ``/docs``): ``GET /api/info``, ``GET /api/sounds``,
``GET /api/sounds/{pitch}/{velocity}.wav``, ``POST /api/generate``, ``/api/continue``,
``/api/regenerate``, ``/api/humanize`` (each answers ``{"grid": ..., "seed": ...}``),
``POST /api/midi``, ``/api/wav``, ``/api/mp3`` and ``/api/flac`` (a posted grid as a file).
Bars are counted from 0 and ranges are half-open (``start`` .. ``end - 1``). Bad input gets a
4xx with a message.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from drumrnn.core.errors import DrumrnnError
from drumrnn.generation.sampling import MIN_TEMPERATURE
from drumrnn.serve.grid import (
    MAX_BARS,
    MAX_ROWS,
    SWING_RANGE,
    TEMPO_RANGE,
    Grid,
    grid_from_dict,
    grid_to_hits,
)
from drumrnn.serve.machine import MAX_GENERATE_BARS, SEED_LIMIT, DrumMachine, Result, Settings
from drumrnn.serve.sounds import SoundBank, encoded_bytes, wav_bytes

#: Largest request body accepted; a 32-bar grid of the 9-piece kit is about 50 KB.
MAX_BODY_BYTES = 1 << 20
MAX_STEPS = MAX_BARS * 64

Velocity = Annotated[int, Field(ge=0, le=127)]
Offset = Annotated[float, Field(ge=-0.5, lt=0.5)]
Tempo = Annotated[float, Field(ge=TEMPO_RANGE[0], le=TEMPO_RANGE[1], description="bpm")]
Swing = Annotated[float, Field(ge=SWING_RANGE[0], le=SWING_RANGE[1],
                               description="percent: 50 straight, 75 dotted")]


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    pitch: int = Field(ge=0, le=127, description="the MIDI pitch the row writes")
    velocities: list[Velocity] = Field(max_length=MAX_STEPS, description="one per step, 0 = rest")
    offsets: list[Offset] | None = Field(None, max_length=MAX_STEPS,
                                         description="each hit's offset from its step, in steps")


class GridModel(BaseModel):
    """A pattern: one row per drum, one column per step (a 16th at 4 steps per quarter)."""
    model_config = ConfigDict(extra="forbid")
    tempo: Tempo = 120.0
    swing: Swing = 50.0
    meter: tuple[int, int] = (4, 4)
    steps_per_quarter: int = Field(4, ge=1, le=8)
    bars: int | None = Field(None, description="optional; checked against the rows' length")
    rows: list[Row] = Field(min_length=1, max_length=MAX_ROWS)


class SettingsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(1.0, ge=MIN_TEMPERATURE, le=5,
                               description="0.5-1.5 is the useful range")
    seed: int | None = Field(None, ge=0, lt=SEED_LIMIT, description="null: drawn and returned")
    tempo: Tempo = 120.0
    swing: Swing = 50.0
    style: str | None = Field(None, max_length=64)
    kind: Literal["beat", "fill"] | None = Field("beat", description="null: unknown")
    fill_every: int = Field(0, ge=0, le=MAX_GENERATE_BARS, description="0 = no fills")
    feel: float = Field(1.0, ge=0, le=1, description="0 = on the grid, 1 = as generated")
    meter: tuple[int, int] = Field((4, 4), description="of a new pattern; continuing keeps "
                                   "the grid's")


class GenerateRequest(SettingsModel):
    bars: int = Field(8, ge=1, le=MAX_GENERATE_BARS)
    grid: GridModel | None = Field(None, description="holds the seed bars, if any")
    seed_bars: tuple[int, int] | None = Field(None, description="[start, end) of grid's bars "
                                              "the new pattern opens with")


class ContinueRequest(SettingsModel):
    grid: GridModel
    add_bars: int = Field(4, ge=1, le=MAX_GENERATE_BARS)


class RegenerateRequest(SettingsModel):
    grid: GridModel
    start: int = Field(ge=0, description="first bar to regenerate (from 0)")
    end: int = Field(ge=1, description="bar after the last one to regenerate")


class HumanizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grid: GridModel
    amount: float = Field(1.0, ge=0, le=1)
    seed: int | None = Field(None, ge=0, lt=SEED_LIMIT)
    style: str | None = Field(None, max_length=64, description="for a model with labels")
    kind: Literal["beat", "fill"] | None = "beat"


def to_grid(model: GridModel) -> Grid:
    """The library grid of a validated request grid (DrumrnnError on inconsistent sizes)."""
    grid = grid_from_dict(model.model_dump())
    if model.bars is not None and model.bars != grid.bars:
        raise DrumrnnError(f"the grid says {model.bars} bars but its rows hold {grid.bars}")
    return grid


def to_settings(model: SettingsModel) -> Settings:
    return Settings(model.temperature, model.seed, model.tempo, model.swing, model.style,
                    model.kind, model.fill_every, model.feel, model.meter)


def _answer(result: Result) -> JSONResponse:
    return JSONResponse({"grid": result.grid.to_dict(), "seed": result.seed})


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes (413), and bodies of unknown length (411)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            status, message = None, ""
            if length is None:
                status, message = 411, "send a Content-Length header"
            elif not length.isdigit() or int(length) > self.limit:
                status, message = 413, f"the request body is over {self.limit} bytes"
            if status is not None:
                await JSONResponse({"detail": message}, status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(machine: DrumMachine, sounds: SoundBank | None = None,
               soundfont: str | Path | None = None) -> FastAPI:
    """The app serving ``machine``'s API, the page, and ``sounds`` (the page is silent
    without them); WAV exports render with ``soundfont`` (default: ``--wav``'s)."""
    from drumrnn.render.audio import Renderer
    from drumrnn.render.midi_write import hits_to_score

    app = FastAPI(title="drumrnn drum machine", version="1",
                  description="Generate, continue, regenerate and humanize drum patterns on a "
                              "grid; export them as MIDI or WAV.")
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    static = Path(str(resources.files("drumrnn.serve") / "static"))
    renderer = Renderer(soundfont)

    @app.exception_handler(DrumrnnError)
    async def bad_input(request: Request, exc: DrumrnnError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/api/info")
    def info() -> dict:
        """The kit's rows (name and pitch written), the grid's resolution, limits and which
        controls this model supports."""
        return machine.info()

    @app.get("/api/sounds")
    def sound_list() -> dict:
        """The one-shots available: ``url`` with ``{pitch}`` and ``{velocity}`` filled in."""
        if sounds is None:
            return {"pitches": [], "velocities": [], "url": ""}
        return {"pitches": list(sounds.pitches), "velocities": list(sounds.velocities),
                "url": "/api/sounds/{pitch}/{velocity}.wav"}

    @app.get("/api/sounds/{pitch}/{velocity}.wav", response_class=Response)
    def sound(pitch: int, velocity: int):
        """One drum's one-shot at one velocity, as mono 16-bit WAV."""
        try:
            data = sounds.wav(pitch, velocity) if sounds is not None else None
        except KeyError:
            data = None
        if data is None:
            return JSONResponse({"detail": f"no sound for pitch {pitch} at velocity {velocity}"},
                                404)
        return Response(data, media_type="audio/wav",
                        headers={"Cache-Control": "max-age=86400"})

    @app.post("/api/generate")
    def generate(body: GenerateRequest):
        """A new pattern of ``bars`` bars; with ``grid`` and ``seed_bars`` it opens with those
        bars of the grid, unchanged, and continues them."""
        seed_grid = None
        if (body.grid is None) != (body.seed_bars is None):
            raise DrumrnnError("seed bars need both grid and seed_bars")
        if body.grid is not None:
            seed_grid = to_grid(body.grid).bar_range(*body.seed_bars)
        return _answer(machine.generate(to_settings(body), body.bars, seed_grid))

    @app.post("/api/continue")
    def continue_(body: ContinueRequest):
        """The grid followed by ``add_bars`` new bars continuing it."""
        return _answer(machine.continue_(to_grid(body.grid), body.add_bars, to_settings(body)))

    @app.post("/api/regenerate")
    def regenerate(body: RegenerateRequest):
        """The grid with bars ``start`` .. ``end - 1`` generated anew after the bars before
        them (their primer); the bars after them are kept."""
        return _answer(machine.regenerate(to_grid(body.grid), body.start, body.end,
                                          to_settings(body)))

    @app.post("/api/humanize")
    def humanize(body: HumanizeRequest):
        """The grid's hits with velocities and offsets moved ``amount`` of the way to how the
        model plays them (its feel heads, or its per-position profile without them)."""
        settings = Settings(style=body.style, kind=body.kind)
        return _answer(machine.humanize(to_grid(body.grid), body.amount, body.seed, settings))

    @app.post("/api/midi", response_class=Response)
    def midi(body: GridModel):
        """The grid as a type-1 MIDI file (channel 10, its tempo and meter, swing applied)."""
        score = hits_to_score(grid_to_hits(to_grid(body)), track_name="drumrnn")
        return Response(score.dumps_midi(), media_type="audio/midi",
                        headers={"Content-Disposition": 'attachment; filename="drumrnn.mid"'})

    def rendered(body: GridModel) -> tuple:
        grid = to_grid(body)
        if not grid.n_hits:
            raise DrumrnnError("the grid has no hits to render")
        return renderer.render_array(hits_to_score(grid_to_hits(grid), track_name="drumrnn"))

    @app.post("/api/wav", response_class=Response)
    def wav(body: GridModel):
        """The grid rendered as a WAV file with the soundfont (swing applied)."""
        return Response(wav_bytes(*rendered(body)), media_type="audio/wav",
                        headers={"Content-Disposition": 'attachment; filename="drumrnn.wav"'})

    @app.post("/api/mp3", response_class=Response)
    def mp3(body: GridModel):
        """The grid rendered as an MP3 file (80 kbit/s, as ``generate --mp3``)."""
        return Response(encoded_bytes(*rendered(body), "mp3"), media_type="audio/mpeg",
                        headers={"Content-Disposition": 'attachment; filename="drumrnn.mp3"'})

    @app.post("/api/flac", response_class=Response)
    def flac(body: GridModel):
        """The grid rendered as a FLAC file."""
        return Response(encoded_bytes(*rendered(body), "flac"), media_type="audio/flac",
                        headers={"Content-Disposition": 'attachment; filename="drumrnn.flac"'})

    return app


@contextlib.contextmanager
def running(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its URL (``port`` 0: any
    free port) and stops the server on exit. For tests, benchmarks and notebooks."""
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise DrumrnnError(f"the server could not start on {host}:{port}")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
