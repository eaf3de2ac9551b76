"""Write drum hits as a Standard MIDI File a DAW opens: type 1, GM drum channel 10."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from drumrnn.core.atomic import atomic_path
from drumrnn.data.hits import DrumHits

TICKS_PER_QUARTER = 480
#: Drum notes are written a 32nd note long (or up to the next hit of the same pitch).
NOTE_QUARTERS = 0.125


def hits_to_score(hits: DrumHits, track_name: str = "Drums",
                  ticks_per_quarter: int = TICKS_PER_QUARTER, end_quarter: float | None = None):
    """A symusic Score holding ``hits`` on one drum track, with tempos and time signatures.

    With ``end_quarter`` no note sounds past it (a loop's notes end by its last bar line)."""
    import symusic

    tpq = ticks_per_quarter
    score = symusic.Score(tpq)
    for quarter, qpm in hits.time_map.tempos:
        score.tempos.append(symusic.Tempo(int(round(quarter * tpq)), qpm=float(qpm)))
    for quarter, num, den in hits.time_map.time_signatures:
        score.time_signatures.append(symusic.TimeSignature(int(round(quarter * tpq)), num, den))
    track = symusic.Track(name=track_name, program=0, is_drum=True)
    ticks = np.maximum(np.round(hits.quarters * tpq), 0).astype(np.int64)
    durations = np.full(len(ticks), int(NOTE_QUARTERS * tpq), dtype=np.int64)
    for pitch in np.unique(hits.pitches):
        at = np.flatnonzero(hits.pitches == pitch)
        gaps = np.diff(ticks[at])
        # A note must end before the same drum strikes again, else readers merge the two.
        durations[at[:-1]] = np.clip(np.minimum(durations[at[:-1]], gaps), 1, None)
    if end_quarter is not None:
        end = int(round(end_quarter * tpq))
        keep = ticks < end
        ticks, durations = ticks[keep], np.clip(np.minimum(durations[keep], end - ticks[keep]),
                                                1, None)
        pitches, velocities = hits.pitches[keep], hits.velocities[keep]
    else:
        pitches, velocities = hits.pitches, hits.velocities
    velocities = np.clip(velocities, 1, 127)
    for tick, duration, pitch, velocity in zip(ticks.tolist(), durations.tolist(),
                                               pitches.tolist(), velocities.tolist()):
        track.notes.append(symusic.Note(tick, duration, pitch, velocity))
    score.tracks.append(track)
    return score


def midi_bytes(score, end_quarter: float | None = None, text: str | None = None) -> bytes:
    """The Standard MIDI File of a symusic ``score``: every track's end-of-track exactly at
    ``end_quarter`` (symusic puts it one tick after the last event), and ``text`` as a text
    meta event at the start of the first track (the generation settings)."""
    data = score.dumps_midi()
    if end_quarter is None and text is None:
        return data
    import mido

    midi = mido.MidiFile(file=io.BytesIO(data))
    end = None if end_quarter is None else int(round(end_quarter * midi.ticks_per_beat))
    for index, track in enumerate(midi.tracks):
        if end is not None and track and track[-1].type == "end_of_track":
            before = sum(message.time for message in track[:-1])
            track[-1] = track[-1].copy(time=max(end - before, 0))
        if index == 0 and text is not None:
            track.insert(0, mido.MetaMessage("text", text=text, time=0))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def write_midi(hits: DrumHits, path: str | Path, track_name: str = "Drums") -> Path:
    """Write ``hits`` to ``path`` atomically as a type-1 MIDI file; returns the path."""
    path = Path(path)
    score = hits_to_score(hits, track_name)
    with atomic_path(path) as tmp:
        score.dump_midi(str(tmp))
    return path
