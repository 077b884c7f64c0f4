"""Ops with a pure-torch reference (reference.py: the D'OH projection hash); Triton twins come later."""
