"""Training: the paper's optimizer and the pre-training loop."""
