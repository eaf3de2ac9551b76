"""Compressed audio: MP3 and FLAC encoded from rendered samples, with title and comment tags.

soundfile (BSD; its wheel bundles libsndfile 1.2.2 with LAME and FLAC, no system package)
writes both. MP3 is constant bitrate so that its size is predictable: libsndfile maps a
compression level in [0, 1] linearly onto MPEG-1 Layer III's 320..32 kbit/s and takes a
table bitrate; the level of a table bitrate itself lands on that bitrate (measured with
soundfile 0.14.0 at 48 kHz for every entry).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drumrnn.core.errors import DrumrnnError

AUDIO_FORMATS = ("mp3", "flac")
#: MPEG-1 Layer III bitrates (kbit/s) at 32, 44.1 and 48 kHz.
MP3_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
#: 8 bars at 120 bpm with the 1.5 s tail (17.4 s) make 174 kB; 96 kbit/s would be 210 kB.
DEFAULT_MP3_KBPS = 80


def check_mp3_kbps(kbps: int) -> int:
    """``kbps`` if it is an MPEG-1 Layer III bitrate; else a :class:`DrumrnnError`."""
    if kbps not in MP3_KBPS:
        raise DrumrnnError(f"MP3 bitrate must be one of {', '.join(map(str, MP3_KBPS))} "
                           f"kbit/s, got {kbps}")
    return kbps


def encode_audio(pcm: np.ndarray, rate: int, path: str | Path, fmt: str, *, title: str = "",
                 comment: str = "", mp3_kbps: int = DEFAULT_MP3_KBPS) -> Path:
    """Write samples (frames, channels; int16 or float in [-1, 1]) as ``fmt`` (mp3 or flac)
    to ``path``, tagged with ``title`` and ``comment``. Decoding gives back the same number
    of frames (MP3: libsndfile writes LAME's gapless header)."""
    import soundfile

    if fmt not in AUDIO_FORMATS:
        raise DrumrnnError(f"unknown audio format {fmt!r}; choose one of {', '.join(AUDIO_FORMATS)}")
    if fmt == "mp3":
        options = {"format": "MP3", "subtype": "MPEG_LAYER_III", "bitrate_mode": "CONSTANT",
                   # 1.0 itself is refused; 0.99 still gives 32 kbit/s
                   "compression_level": min((320 - check_mp3_kbps(mp3_kbps)) / 288, 0.99)}
    else:
        options = {"format": "FLAC", "subtype": "PCM_16"}
    pcm = np.asarray(pcm)
    if pcm.ndim == 1:
        pcm = pcm[:, None]
    try:
        with soundfile.SoundFile(str(path), "w", rate, pcm.shape[1], **options) as out:
            # tags are set before the first write: the MP3 encoder writes them up front
            if title:
                out.title = title
            if comment:
                out.comment = comment
            out.write(pcm)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise DrumrnnError(f"encoding {Path(path).name} as {fmt.upper()} failed: {exc}") from None
    return Path(path)


def write_audio_beside(hits, midi_path: str | Path, formats: list[str], *,
                       soundfont: str | Path | None = None, comment: str = "",
                       mp3_kbps: int = DEFAULT_MP3_KBPS) -> list[Path]:
    """Render ``hits`` (a DrumHits) once and write it beside ``midi_path`` in each of
    ``formats`` (``wav``, ``mp3``, ``flac``), each file atomically, titled with the stem."""
    from drumrnn.core.atomic import atomic_path
    from drumrnn.render.audio import Renderer, write_wav
    from drumrnn.render.midi_write import hits_to_score

    midi_path = Path(midi_path)
    pcm, rate = Renderer(soundfont).render_array(hits_to_score(hits))
    paths = []
    for fmt in formats:
        path = midi_path.with_suffix(f".{fmt}")
        with atomic_path(path) as tmp:
            if fmt == "wav":
                write_wav(pcm, rate, tmp)
            else:
                encode_audio(pcm, rate, tmp, fmt, title=midi_path.stem, comment=comment,
                             mp3_kbps=mp3_kbps)
        paths.append(path)
    return paths
