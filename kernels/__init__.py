"""Accelerated ops (Triton on CUDA, with pure-torch twins). None are in use yet: the codec runs on torch."""
