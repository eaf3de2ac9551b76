"""What a trained model is, without torch: its config and vocabulary, the model file format,
the feel profile learned beside the weights, a split as model inputs, and the next-token
figures that training, evaluation and the n-gram baseline share.

Takes tokens and datasets from :mod:`drumrnn.data`; gives what training writes and what
generation and measurement read.
"""
