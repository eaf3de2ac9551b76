"""The page's drum sounds: a one-shot of every kit class at a few velocities, rendered once
with the soundfont and renderer that ``generate --wav`` uses, and cached.

All one-shots are rendered in one pass, one every :data:`SHOT_SECONDS`, so that they share
one peak normalization and keep their loudness relative to each other (a soft snare stays
softer than a loud one). The rendering is cached in a folder keyed by the soundfont's
content, the pitches and the velocities, so that only the first start pays for it.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import wave
from pathlib import Path

import numpy as np

from drumrnn.core.atomic import atomic_path
from drumrnn.render.audio import Renderer, write_wav

VELOCITIES = (40, 80, 120)
SHOT_SECONDS = 2.0
#: A one-shot ends where it stays below this level (dB below full scale), with a short fade.
SILENCE_DBFS = -60.0
FADE_SECONDS = 0.02
CACHE_VERSION = 1


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/drumrnn`` (``~/.cache/drumrnn`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "drumrnn"


class SoundBank:
    """Mono 16-bit WAV one-shots, ``bank.wav(pitch, velocity)`` for every pitch and velocity.

    Attributes
    ----------
    pitches : tuple of int
    velocities : tuple of int
    rendered : bool
        Whether this bank was rendered now (False: read from the cache).
    """

    def __init__(self, pitches, soundfont: str | Path | None = None,
                 cache_dir: str | Path | None = None, velocities=VELOCITIES):
        self.pitches = tuple(int(p) for p in pitches)
        self.velocities = tuple(int(v) for v in velocities)
        renderer = Renderer(soundfont)
        key = hashlib.sha256(Path(renderer.path).read_bytes())
        key.update(repr((CACHE_VERSION, self.pitches, self.velocities, SHOT_SECONDS)).encode())
        cached = Path(cache_dir) / f"sounds-{key.hexdigest()[:20]}.wav" if cache_dir else None
        self.rendered = cached is None or not cached.is_file()
        if self.rendered:
            pcm, rate = renderer.render_array(self._score())
            if cached is not None:
                try:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    with atomic_path(cached) as tmp:
                        write_wav(pcm, rate, tmp)
                except OSError:  # an unwritable cache costs the next start the rendering
                    pass
        else:
            with wave.open(str(cached)) as src:
                rate, channels = src.getframerate(), src.getnchannels()
                pcm = np.frombuffer(src.readframes(src.getnframes()), "<i2").reshape(-1, channels)
        self._shots = self._cut(pcm, rate)

    def wav(self, pitch: int, velocity: int) -> bytes:
        """The one-shot of ``pitch`` at ``velocity`` (one of :attr:`velocities`) as WAV bytes;
        KeyError when there is none."""
        return self._shots[(int(pitch), int(velocity))]

    def _score(self):
        import symusic

        score = symusic.Score(480)
        score.tempos.append(symusic.Tempo(0, qpm=60.0))  # one quarter per second
        track = symusic.Track(name="one-shots", program=0, is_drum=True)
        for index, (pitch, velocity) in enumerate(self._layout()):
            track.notes.append(symusic.Note(round(index * SHOT_SECONDS * 480), 240, pitch, velocity))
        score.tracks.append(track)
        return score

    def _layout(self) -> list[tuple[int, int]]:
        return [(p, v) for p in self.pitches for v in self.velocities]

    def _cut(self, pcm: np.ndarray, rate: int) -> dict[tuple[int, int], bytes]:
        mono = pcm.astype(np.float32).mean(axis=1)
        shot, threshold = round(SHOT_SECONDS * rate), 32767 * 10 ** (SILENCE_DBFS / 20)
        fade = round(FADE_SECONDS * rate)
        shots = {}
        for index, key in enumerate(self._layout()):
            segment = mono[index * shot:(index + 1) * shot]
            loud = np.flatnonzero(np.abs(segment) > threshold)
            segment = segment[:loud[-1] + fade + 1] if len(loud) else segment[:fade]
            segment = segment.copy()
            segment[-fade:] *= np.linspace(1, 0, min(fade, len(segment)), dtype=np.float32)
            shots[key] = wav_bytes(np.round(segment).astype("<i2")[:, None], rate)
        return shots


def wav_bytes(pcm: np.ndarray, rate: int) -> bytes:
    """int16 samples (frames, channels) as the bytes of a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as dst:
        dst.setnchannels(pcm.shape[1])
        dst.setsampwidth(2)
        dst.setframerate(rate)
        dst.writeframes(np.ascontiguousarray(pcm, "<i2").tobytes())
    return out.getvalue()


def encoded_bytes(pcm: np.ndarray, rate: int, fmt: str) -> bytes:
    """int16 samples (frames, channels) as the bytes of an MP3 or FLAC file, encoded as
    ``generate --mp3/--flac`` encodes (the encoder writes files, so through a temporary one)."""
    from drumrnn.render.encode import encode_audio

    with tempfile.TemporaryDirectory(prefix="drumrnn-") as folder:
        path = Path(folder) / f"drumrnn.{fmt}"
        encode_audio(pcm, rate, path, fmt, title="drumrnn")
        return path.read_bytes()
