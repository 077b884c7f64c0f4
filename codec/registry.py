"""Name <-> wire-id registry of representations. Ids are assigned by hand and never reused."""
from inrcodec.errors import CorruptFile, UnsupportedInput


class Registry:
    def __init__(self, what: str):
        self.what = what
        self._by_name = {}
        self._by_id = {}

    def register(self, name: str, wire_id: int):
        def decorator(cls):
            if name in self._by_name or wire_id in self._by_id:
                raise ValueError(f"{self.what} {name!r} / id {wire_id} registered twice")
            cls.name, cls.wire_id = name, wire_id
            self._by_name[name] = cls
            self._by_id[wire_id] = cls
            return cls
        return decorator

    def get(self, name: str):
        try:
            return self._by_name[name]
        except KeyError:
            raise UnsupportedInput(f"unknown {self.what} {name!r}; available: {', '.join(self.names())}") from None

    def by_id(self, wire_id: int):
        try:
            return self._by_id[wire_id]
        except KeyError:
            raise CorruptFile(f"file uses {self.what} id {wire_id}, unknown to this version of inrcodec") from None

    def names(self) -> list:
        return sorted(self._by_name)


MODELS = Registry("method")
