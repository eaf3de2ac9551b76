"""The one exception type users see: a clear, one-line reason."""


class DrumrnnError(Exception):
    """A user-facing failure (bad file, bad argument, bad artifact).

    The message is one line that names the problem; the CLI prints it without a traceback
    and exits non-zero.
    """


class MidiReadError(DrumrnnError):
    """A MIDI file could not be read or holds no usable drum hits."""
