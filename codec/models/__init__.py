"""Representations; importing this package registers every method in MODELS."""
from inrcodec.models import doh, siren  # noqa: F401  (register "siren" id 1, "doh" id 2)
