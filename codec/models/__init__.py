"""Representations; importing this package registers every method in MODELS."""
from inrcodec.models import siren  # noqa: F401  (registers "siren", id 1)
