"""Stage 1, MIDI -> hits -> tokens: reading drum MIDI, drum kits, the 16th-grid timing of
hits, the steps and events encodings, LSTMetallica's text corpus, prepared datasets (the GMD
index, its download, content-hash splits) and inspection of a file.

Takes MIDI files and folders; gives :class:`~drumrnn.data.hits.DrumHits`, token arrays and
datasets on disk. Never imports torch.
"""
