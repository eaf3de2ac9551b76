"""Stage 2, tokens -> model: the PyTorch network, training windows, the trainer with
checkpoints and exact resume, presets and the training config.

Takes a prepared dataset; gives a model file. The only stage that imports torch.
"""
