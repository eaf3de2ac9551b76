"""Benchmark audio: rendering an 8-bar pattern, and writing it as WAV, MP3 and FLAC.

One pattern of the bundled model (8 bars at 120 bpm, 17.4 s with the ring-out tail) is
rendered once per repeat (midirenderer + TimGM6mb); each format is then written from the
same samples. Sizes and median seconds per format, one thread.

Run: ``python bench/bench_audio.py [--repeats N]``
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

from common import machine, timed, write_section  # noqa: E402

from drumrnn.generation.generate import DrumGenerator, GenerateConfig  # noqa: E402
from drumrnn.render.audio import Renderer, write_wav  # noqa: E402
from drumrnn.render.encode import encode_audio  # noqa: E402
from drumrnn.render.midi_write import hits_to_score  # noqa: E402

FORMATS = (("WAV (16-bit)", "wav", None), ("MP3 80 kbit/s (default)", "mp3", 80),
           ("MP3 128 kbit/s", "mp3", 128), ("FLAC", "flac", None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    gen = DrumGenerator.load()
    score = hits_to_score(gen.generate(GenerateConfig(bars=8, seed=1))[0])
    renderer = Renderer()
    times: dict[str, list[float]] = {"render": []}
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            seconds, (pcm, rate) = timed(lambda: renderer.render_array(score))
            times["render"].append(seconds)
            for label, fmt, kbps in FORMATS:
                path = Path(tmp) / f"a.{fmt}"
                seconds, _ = timed(partial(write_wav, pcm, rate, path) if fmt == "wav" else
                                   partial(encode_audio, pcm, rate, path, fmt, title="drums_1",
                                           comment="{}", mp3_kbps=kbps or 80))
                times.setdefault(label, []).append(seconds)
                sizes[label] = path.stat().st_size
    length = len(pcm) / rate
    rows = [f"| render (midirenderer, TimGM6mb) | - | {statistics.median(times['render']):.3f} |"]
    rows += [f"| {label} | {sizes[label] / 1000:.0f} | {statistics.median(times[label]):.3f} |"
             for label, _, _ in FORMATS]
    section = "\n".join([
        "## Audio formats (`bench/bench_audio.py`)", "",
        f"One 8-bar pattern at 120 bpm ({length:.1f} s, {rate} Hz stereo), median of "
        f"{args.repeats}, one thread. Machine: {machine('soundfile', 'midirenderer')}.", "",
        "| step | size (kB) | seconds |", "|---|---:|---:|", *rows])
    print(section)
    write_section("bench_audio", section)


if __name__ == "__main__":
    main()
