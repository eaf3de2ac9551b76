"""Write generated patterns: MIDI always, WAV, MP3, FLAC and PNG on request, and
``generation.json`` with the settings that made them; all or nothing, never mixed with an
earlier set."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from drumrnn import __version__
from drumrnn.core.atomic import commit_file, temp_file_beside
from drumrnn.core.errors import DrumrnnError
from drumrnn.core.lock import folder_lock
from drumrnn.data.hits import DrumHits
from drumrnn.data.kits import Kit
from drumrnn.render.audio import Renderer, write_wav
from drumrnn.render.drum_grid import draw_grid
from drumrnn.render.encode import DEFAULT_MP3_KBPS, check_mp3_kbps, encode_audio
from drumrnn.render.midi_write import hits_to_score, midi_bytes

GENERATION_JSON = "generation.json"
RECORD_FORMAT = "drumrnn-generation"
RECORD_VERSION = 1
OUTPUT_SUFFIXES = (".mid", ".wav", ".mp3", ".flac", ".png")


@dataclass
class GenerationRecord:
    """What made a set of generated patterns, enough to make any of them again.

    Written as ``generation.json`` beside the outputs and, compact, into each MIDI file as a
    text meta event. Other keys (a style, a primer window) go into ``extra``.

    Attributes
    ----------
    model : dict
        ``path``, ``sha256`` and, for the bundled model, ``name``.
    settings : dict
        Every field of the generation config (seed and first variation included).
    seed : int
    variations : list of int
        The variation numbers written, in file order: variation k of seed S comes back
        alone with ``--seed S --variation k``.
    tempo : float
        The first tempo, bpm.
    time_signature : str
        The meter, e.g. ``"3/4"`` (the last one when the primer changes meter).
    primer : dict or None
        Where the primer came from (file, channel/track or pattern text) and its bars.
    extra : dict
    """

    model: dict
    settings: dict
    seed: int
    variations: list[int]
    tempo: float
    time_signature: str
    primer: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": RECORD_FORMAT, "format_version": RECORD_VERSION,
                "created_by": f"drumrnn {__version__}", "model": self.model,
                "settings": self.settings, "seed": self.seed, "variations": self.variations,
                "tempo": self.tempo, "time_signature": self.time_signature,
                "primer": self.primer, **self.extra}

    def for_variation(self, variation: int) -> str:
        """The compact JSON stored in variation ``variation``'s MIDI file."""
        data = self.to_dict()
        del data["variations"]
        data["variation"] = variation
        return json.dumps(data, separators=(",", ":"))

    def title(self, variation: int) -> str:
        """One line for a picture: tempo, meter, seed, variation and sampling settings."""
        sampling = self.settings.get("sampling", {})
        parts = [f"{self.tempo:g} bpm", self.time_signature,
                 f"seed {self.seed} variation {variation}",
                 "greedy" if sampling.get("greedy") else
                 f"beam {sampling['beam_size']}" if sampling.get("beam_size") else
                 f"temperature {sampling.get('temperature', 1):g}"]
        if sampling.get("top_k"):
            parts.append(f"top-k {sampling['top_k']}")
        if sampling.get("top_p", 1) < 1:
            parts.append(f"top-p {sampling['top_p']:g}")
        if self.settings.get("swing", 50) != 50:
            parts.append(f"swing {self.settings['swing']:g}%")
        if self.primer:
            parts.append("primer " + str(self.primer.get("file") or "pattern"))
        parts.append("model " + str(self.model.get("name") or Path(self.model["path"]).name))
        return "  |  ".join(parts)


def model_identity(path: str | Path, bundled: bool = False) -> dict:
    """A model file's path and SHA-256 (and name, for the bundled one) for a record."""
    path = Path(path)
    identity = {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if bundled:
        identity["name"] = f"bundled {path.name}"
    return identity


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


def earlier_outputs(out: Path, stem: str = "drums") -> tuple[list[Path], list[Path]]:
    """``(generated, foreign)``: the files of an earlier generation in ``out`` (``stem_N``
    MIDI/WAV/MP3/FLAC/PNG and ``generation.json``) and any other visible files. Hidden files (locks,
    temporary files) are neither."""
    pattern = re.compile(rf"{re.escape(stem)}_\d+({'|'.join(map(re.escape, OUTPUT_SUFFIXES))})")
    generated, foreign = [], []
    for path in sorted(out.iterdir()) if out.is_dir() else []:
        if path.name.startswith("."):
            continue
        ours = path.is_file() and (path.name == GENERATION_JSON or pattern.fullmatch(path.name))
        (generated if ours else foreign).append(path)
    return generated, foreign


def prepare_output_dir(out: str | Path, overwrite: bool = False, stem: str = "drums") -> Path:
    """A writable ``out`` that holds no earlier output, or a :class:`DrumrnnError` saying so.

    A set of generated files never mixes with another: a folder that holds files is refused
    unless ``overwrite``, which allows replacing an earlier generation's files (they are
    removed only when the new set is complete; see :func:`write_patterns`). Files drumrnn did
    not write are never removed.
    """
    out = check_output_dir(out)
    generated, foreign = earlier_outputs(out, stem)
    if foreign:
        raise DrumrnnError(f"output folder {out} holds files drumrnn did not write "
                           f"({foreign[0].name}{', ...' if len(foreign) > 1 else ''}); choose "
                           "an empty or new --out folder")
    if generated and not overwrite:
        raise DrumrnnError(f"output folder {out} holds an earlier generation "
                           f"({generated[0].name}{', ...' if len(generated) > 1 else ''}); pass "
                           "--overwrite to replace it, or choose another --out folder")
    return out


def write_patterns(patterns: list[DrumHits], out: str | Path, kit: Kit, bars: int,
                   steps_per_quarter: int = 4, wav: bool = False, png: bool = False,
                   soundfont: str | Path | None = None, stem: str = "drums",
                   record: GenerationRecord | None = None, loop: bool = False,
                   overwrite: bool = False, mp3: bool = False, flac: bool = False,
                   mp3_kbps: int = DEFAULT_MP3_KBPS, settings: dict | None = None) -> list[Path]:
    """Write ``stem_N.mid`` (and ``.wav``/``.mp3``/``.flac``/``.png``) for each pattern;
    returns the paths.

    N is the pattern's variation number (``record.variations``; else 1, 2, ...). With a
    ``record``, ``generation.json`` is written too and each MIDI file carries its settings.
    MP3 and FLAC are tagged with the pattern's name as title and the settings as a JSON
    comment (the record's for that variation, else ``settings``).
    With ``loop`` the MIDI ends exactly on the last bar line and the WAV is exactly the
    pattern's length, its ring-out mixed into the start. ``out`` must hold no earlier output
    unless ``overwrite`` (see :func:`prepare_output_dir`); the earlier set is removed just
    before the new one is put in place. Every file is first written under a temporary name;
    only when all are complete and on disk are they renamed into place, so a failure (a full
    disk...) leaves the folder as it was. The folder is locked while writing (one run at a
    time).
    """
    out = check_output_dir(out)
    numbers = record.variations if record is not None else list(range(1, len(patterns) + 1))
    if len(numbers) != len(patterns):
        raise DrumrnnError(f"{len(patterns)} patterns but {len(numbers)} variation numbers")
    renderer = None
    encodings = [fmt for fmt, wanted in (("mp3", mp3), ("flac", flac)) if wanted]
    if mp3:
        check_mp3_kbps(mp3_kbps)
    comment = json.dumps(settings, separators=(",", ":"), default=str) if settings else ""
    if wav or encodings:
        renderer = Renderer(soundfont)
    with folder_lock(out):
        prepare_output_dir(out, overwrite, stem)  # under the lock: no other run writes now
        return _write_locked(patterns, out, kit, bars, steps_per_quarter, png, stem, renderer,
                             wav, encodings, comment, mp3_kbps, numbers, record, loop)


def _write_locked(patterns, out: Path, kit: Kit, bars: int, steps_per_quarter: int, png: bool,
                  stem: str, renderer, wav: bool, encodings: list[str], comment: str,
                  mp3_kbps: int, numbers: list[int], record: GenerationRecord | None,
                  loop: bool) -> list[Path]:
    staged: list[tuple[Path, Path]] = []

    def stage(target: Path) -> Path:
        """A temporary file for ``target``, removed again unless everything succeeds."""
        staged.append((temp_file_beside(target, target.suffix), target))
        return staged[-1][0]

    try:
        for number, hits in zip(numbers, patterns):
            name = f"{stem}_{number}"
            end = hits.end_quarter if loop else None
            score = hits_to_score(hits, track_name=f"drumrnn {name}", end_quarter=end)
            text = record.for_variation(number) if record is not None else None
            stage(out / f"{name}.mid").write_bytes(midi_bytes(score, end, text))
            if renderer is not None:
                seconds = float(hits.time_map.seconds(hits.end_quarter)) if loop else None
                pcm, rate = renderer.render_array(score, loop_seconds=seconds)
                if wav:
                    write_wav(pcm, rate, stage(out / f"{name}.wav"))
                for fmt in encodings:
                    encode_audio(pcm, rate, stage(out / f"{name}.{fmt}"), fmt, title=name,
                                 comment=text or comment, mp3_kbps=mp3_kbps)
            if png:
                title = f"{name}  |  {record.title(number)}" if record is not None else name
                draw_grid(hits, kit, stage(out / f"{name}.png"), bars, steps_per_quarter,
                          title=title)
        if record is not None:
            document = json.dumps(record.to_dict(), indent=1) + "\n"
            stage(out / GENERATION_JSON).write_text(document, encoding="utf-8")
        new = {target for _, target in staged}
        for old in earlier_outputs(out, stem)[0]:
            if old not in new:
                old.unlink(missing_ok=True)
        for tmp, target in staged:
            commit_file(tmp, target)
        return [target for _, target in staged]
    except OSError as exc:
        raise DrumrnnError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
