"""inrcodec: compress a signal by overfitting a small neural network to it and coding its weights."""
from inrcodec import metrics
from inrcodec.api import decode, encode, info
from inrcodec.errors import CodecError, CorruptFile, LimitExceeded, RateError, UnsupportedInput

__version__ = "0.5.11"
__all__ = ["encode", "decode", "info", "metrics", "CodecError", "CorruptFile", "UnsupportedInput", "LimitExceeded",
           "RateError", "__version__"]
