"""Stage 4, hits -> files: MIDI writing, audio rendering with a General MIDI soundfont, drum
grid pictures, and writing a set of outputs all or nothing.

Takes :class:`~drumrnn.data.hits.DrumHits`; gives MIDI, WAV and PNG files. Never imports torch.
"""
