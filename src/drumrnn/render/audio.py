"""Render drum MIDI to WAV with a General MIDI soundfont's drum kit (bank 128), pip-only.

Chosen by measurement (see the closing notes of the generation issue): midirenderer (a small
MIT wheel with no system dependency) renders channel 10 with the soundfont's drum kit and
honours velocity; symusic 0.5.9's synthesizer ignores velocity and clips the snare, 0.6.0's
is broken, tinysoundfont needs a --no-deps install. The default soundfont is TimGM6mb.sf2
as installed by the pretty_midi wheel (GPL-2, loaded from there, not redistributed here).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from drumrnn.core.errors import DrumrnnError

#: Silence after the last hit, so that cymbals ring out.
TAIL_SECONDS = 1.5
PEAK_DBFS = -1.0
SYSTEM_SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")


def default_soundfont() -> Path:
    """pretty_midi's TimGM6mb.sf2, else a system GM soundfont; DrumrnnError if none."""
    try:
        import pretty_midi

        path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        if path.is_file():
            return path
    except ImportError:
        pass
    for candidate in SYSTEM_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise DrumrnnError("no General MIDI soundfont found; install pretty_midi or pass --soundfont")


class Renderer:
    """Renders symusic scores to 16-bit stereo WAV files with one soundfont."""

    def __init__(self, soundfont: str | Path | None = None):
        path = Path(soundfont) if soundfont is not None else default_soundfont()
        if not path.is_file():
            raise DrumrnnError(f"no soundfont file at {path}")
        data = path.read_bytes()
        if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
            raise DrumrnnError(f"{path} is not an SF2 soundfont")
        self.path, self._sf2 = path, data

    def render(self, score, path: str | Path, loop_seconds: float | None = None) -> Path:
        """Write ``score`` (a symusic Score in ticks) as a WAV file, peak-normalized (see
        :meth:`render_array` for ``loop_seconds``)."""
        pcm, rate = self.render_array(score, loop_seconds)
        return write_wav(pcm, rate, path)

    def render_array(self, score, loop_seconds: float | None = None) -> tuple[np.ndarray, int]:
        """``score`` rendered and peak-normalized: int16 samples (frames, channels), rate.

        With ``loop_seconds`` the audio is exactly that long and what rings on past the end
        (cymbals, the last bar's tails) is mixed back into the start, so that it loops
        seamlessly; else the last hits ring out for :data:`TAIL_SECONDS`."""
        import midirenderer
        import symusic

        score = score.copy()
        qpm = score.tempos[-1].qpm if len(score.tempos) else 120.0
        # the renderer stops at the last MIDI event: a marker after the end keeps the tail
        tail = round(TAIL_SECONDS * qpm / 60 * score.ticks_per_quarter)
        score.markers.append(symusic.TextMeta(score.end() + tail, "end"))
        try:
            rendered = midirenderer.render_wave_from(self._sf2, score.dumps_midi())
        except Exception as exc:  # the C++ renderer raises RuntimeError on bad soundfonts
            raise DrumrnnError(f"rendering with {self.path.name} failed: {exc}") from None
        with wave.open(io.BytesIO(rendered)) as src:
            rate, channels = src.getframerate(), src.getnchannels()
            pcm = np.frombuffer(src.readframes(src.getnframes()), "<i2").reshape(-1, channels)
        if loop_seconds is not None:
            pcm = loop_audio(pcm.astype(np.int32), int(round(loop_seconds * rate)))
        peak = int(np.abs(pcm.astype(np.int32)).max(initial=0)) or 1
        gain = 10 ** (PEAK_DBFS / 20) * 32767 / peak
        return np.clip(np.round(pcm * gain), -32768, 32767).astype("<i2"), rate


def write_wav(pcm: np.ndarray, rate: int, path: str | Path) -> Path:
    """Write int16 samples (frames, channels) as a WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(pcm, "<i2").tobytes())
    return Path(path)


def loop_audio(pcm: np.ndarray, frames: int) -> np.ndarray:
    """``pcm`` (frames, channels) cut to ``frames``, with everything after the cut added
    back from the start (wrapping again if the tail is longer than the loop)."""
    out = np.zeros((frames, pcm.shape[1]), dtype=np.int64)
    for start in range(0, len(pcm), max(frames, 1)):
        chunk = pcm[start:start + frames]
        out[:len(chunk)] += chunk
    return out
