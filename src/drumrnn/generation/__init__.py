"""Stage 3, model -> tokens -> hits: the NumPy runtime of a model file, sampling (temperature,
top-k/p, beam search), primers, and the generator that turns tokens back into hits with
velocity and timing.

Takes a model file and an optional primer; gives :class:`~drumrnn.data.hits.DrumHits`.
Never imports torch.
"""
