"""Measuring a drummer: held-out likelihood with the NumPy runtime, musical statistics of
generated against real drumming, and the n-gram baseline.

Takes model files, datasets and MIDI folders; gives figures (dicts, JSON, markdown, plots).
Never imports torch.
"""
