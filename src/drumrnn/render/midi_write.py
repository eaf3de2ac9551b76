"""Write drum hits as a Standard MIDI File a DAW opens: type 1, GM drum channel 10."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drumrnn.core.atomic import atomic_path
from drumrnn.data.hits import DrumHits

TICKS_PER_QUARTER = 480
#: Drum notes are written a 32nd note long (or up to the next hit of the same pitch).
NOTE_QUARTERS = 0.125


def hits_to_score(hits: DrumHits, track_name: str = "Drums",
                  ticks_per_quarter: int = TICKS_PER_QUARTER):
    """A symusic Score holding ``hits`` on one drum track, with tempos and time signatures."""
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
    velocities = np.clip(hits.velocities, 1, 127)
    for tick, duration, pitch, velocity in zip(ticks.tolist(), durations.tolist(),
                                               hits.pitches.tolist(), velocities.tolist()):
        track.notes.append(symusic.Note(tick, duration, pitch, velocity))
    score.tracks.append(track)
    return score


def write_midi(hits: DrumHits, path: str | Path, track_name: str = "Drums") -> Path:
    """Write ``hits`` to ``path`` atomically as a type-1 MIDI file; returns the path."""
    path = Path(path)
    score = hits_to_score(hits, track_name)
    with atomic_path(path) as tmp:
        score.dump_midi(str(tmp))
    return path
