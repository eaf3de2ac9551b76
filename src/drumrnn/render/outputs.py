"""Write generated patterns: MIDI always, WAV, MP3, FLAC and PNG on request; all or nothing."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from drumrnn.core.atomic import commit_file, temp_file_beside
from drumrnn.core.errors import DrumrnnError
from drumrnn.core.lock import folder_lock
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
from drumrnn.render.audio import Renderer, write_wav
from drumrnn.render.drum_grid import draw_grid
from drumrnn.render.encode import DEFAULT_MP3_KBPS, check_mp3_kbps, encode_audio
from drumrnn.render.midi_write import hits_to_score


def check_output_dir(out: str | Path) -> Path:
    """Create ``out`` if needed; a :class:`DrumrnnError` if it cannot be written to."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DrumrnnError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
        raise DrumrnnError(f"output folder {out} is not writable")
    # os.access says yes to root on a read-only mount: try a file too
    with contextlib.suppress(DrumrnnError):
        temp_file_beside(out / "probe").unlink()
        return out
    raise DrumrnnError(f"output folder {out} is not writable")


def write_patterns(patterns: list[DrumHits], out: str | Path, kit: Kit, bars: int,
                   steps_per_quarter: int = 4, wav: bool = False, png: bool = False,
                   soundfont: str | Path | None = None, stem: str = "drums", mp3: bool = False,
                   flac: bool = False, mp3_kbps: int = DEFAULT_MP3_KBPS,
                   settings: dict | None = None) -> list[Path]:
    """Write ``stem_N.mid`` (and ``.wav``/``.mp3``/``.flac``/``.png``) for each pattern;
    returns the paths. MP3 and FLAC are tagged with the pattern's name as title and
    ``settings`` (the generation settings) as a JSON comment.

    Every file is first written under a temporary name; only when all are complete and on
    disk are they renamed into place, so a failure (a full disk...) leaves no partial or
    empty output behind. The folder is locked while writing (one run at a time).
    """
    out = check_output_dir(out)
    renderer = None
    encodings = [fmt for fmt, wanted in (("mp3", mp3), ("flac", flac)) if wanted]
    if mp3:
        check_mp3_kbps(mp3_kbps)
    comment = json.dumps(settings, separators=(",", ":"), default=str) if settings else ""
    if wav or encodings:
        renderer = Renderer(soundfont)
    with folder_lock(out):
        return _write_locked(patterns, out, kit, bars, steps_per_quarter, png, stem, renderer,
                             wav, encodings, comment, mp3_kbps)


def _write_locked(patterns, out: Path, kit: Kit, bars: int, steps_per_quarter: int, png: bool,
                  stem: str, renderer, wav: bool, encodings: list[str], comment: str,
                  mp3_kbps: int) -> list[Path]:
    staged: list[tuple[Path, Path]] = []

    def stage(target: Path) -> Path:
        """A temporary file for ``target``, removed again unless everything succeeds."""
        staged.append((temp_file_beside(target, target.suffix), target))
        return staged[-1][0]

    try:
        for number, hits in enumerate(patterns, start=1):
            name = f"{stem}_{number}"
            score = hits_to_score(hits, track_name=f"drumrnn {name}")
            # symusic's dump_midi ignores write errors (a full disk gave a 0-byte file)
            stage(out / f"{name}.mid").write_bytes(score.dumps_midi())
            if renderer is not None:
                pcm, rate = renderer.render_array(score)
                if wav:
                    write_wav(pcm, rate, stage(out / f"{name}.wav"))
                for fmt in encodings:
                    encode_audio(pcm, rate, stage(out / f"{name}.{fmt}"), fmt, title=name,
                                 comment=comment, mp3_kbps=mp3_kbps)
            if png:
                draw_grid(hits, kit, stage(out / f"{name}.png"), bars, steps_per_quarter,
                          title=name)
        for tmp, target in staged:
            commit_file(tmp, target)
        return [target for _, target in staged]
    except OSError as exc:
        raise DrumrnnError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
