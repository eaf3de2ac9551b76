"""drumrnn: learn to play drums from MIDI with recurrent neural networks."""

__version__ = "0.1.0"
