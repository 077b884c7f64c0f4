"""Progress on stderr: step, loss/PSNR, ETA on one rewritten line; silent when quiet."""
import sys
import time


class Progress:
    def __init__(self, total: int, label: str, quiet: bool = False, stream=None, every_s: float = 0.5):
        self.total = max(total, 1)
        self.label = label
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.start = time.monotonic()
        self._last = 0.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done: int, **fields) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if done < self.total and now - self._last < self.every_s:
            return
        self._last = now
        elapsed = now - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        info = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
        line = f"{self.label} {done}/{self.total} {info} elapsed {elapsed:.0f}s eta {eta:.0f}s"
        if self._tty:
            self.stream.write("\r\033[K" + line)
            if done >= self.total:
                self.stream.write("\n")
        elif done >= self.total or now - getattr(self, "_last_line", 0.0) >= 5.0:
            # Not a terminal (a log file, a pipe): a full line every few seconds, not a flood of \r.
            self._last_line = now
            self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()
