"""Exceptions raised by inrcodec. Every user-facing failure is a CodecError."""


class CodecError(Exception):
    """Base class: bad input, a corrupt file, or a limit. Its message is one line meant for the user."""


class CorruptFile(CodecError):
    """The .inrc data is damaged, truncated or not an .inrc file at all."""


class UnsupportedInput(CodecError):
    """The input is readable but of a kind, mode or depth the codec does not handle."""


class LimitExceeded(CodecError):
    """A declared size is above a safety limit (raise the limit if the file is trusted)."""


class RateError(CodecError):
    """No encoding fits the requested size or quality."""
