"""Representations; importing this package registers every method in MODELS."""
from inrcodec.models import bitplane, doh, finr, siren  # noqa: F401  (register "siren" 1, "doh" 2, "bitplane" 3,
#                                                          "finr" 4)
