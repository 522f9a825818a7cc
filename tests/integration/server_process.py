"""What every server the integration tests start by hand has in common: a process whose
output goes to a log file, stopped politely then firmly, and a log tail for failure messages."""

import subprocess


class LoggedProcess(object):
    """Base of the test servers (registry, containerd): set ``proc``, ``_log`` and
    ``log_path`` when starting; ``stop`` and ``log_tail`` are shared."""

    stop_timeout = 15
    tail_lines = 30

    def __init__(self, log_path):
        self.log_path = log_path
        self.proc = None
        self._log = None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, lines=None):
        try:
            with open(self.log_path, "rb") as fh:
                tail = fh.read().splitlines()[-(lines or self.tail_lines):]
        except OSError:
            return "(no log)"
        return b"\n".join(tail).decode("utf-8", "replace")
