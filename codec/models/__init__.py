"""Representations; importing this package registers every method in MODELS."""
from inrcodec.models import doh, finr, siren  # noqa: F401  (register "siren" 1, "doh" 2, "finr" 4)
