"""Real processes for the client's tests: `zerotask node --broker builtin` serving the example
plugins (built by Plugins/build.sh into a temporary folder), on ports it picks and reports.

ZEROTASK_BIN names the zerotask executable (the Swift test that runs these sets it); else
`zerotask` on PATH. Processes are ended by the PID this harness started.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from typing import List, Optional

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def zerotask_binary() -> str:
    found = os.environ.get("ZEROTASK_BIN") or shutil.which("zerotask")
    if not found:
        raise RuntimeError("set ZEROTASK_BIN to the zerotask executable (swift build puts it in .build/debug)")
    return found


def example_plugins() -> str:
    """The example plugins built once per test run into a temporary folder."""
    global _plugins
    if _plugins is None:
        out = tempfile.mkdtemp(prefix="zt-py-plugins-")
        subprocess.run(["bash", os.path.join(REPO, "Plugins", "build.sh"), out], check=True,
                       stdout=subprocess.DEVNULL)
        atexit.register(shutil.rmtree, out, True)
        _plugins = out
    return _plugins


_plugins: Optional[str] = None


class Node:
    """A node with a built-in broker (memory store), its output collected as it runs."""

    def __init__(self, *extra: str, workers: int = 2):
        args = [zerotask_binary(), "node", "--broker", "builtin", "--store", "memory",
                "--request", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*",
                "--plugins", example_plugins(), "--workers", str(workers), *extra]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, text=True)
        self._lines: List[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.request = self._endpoint()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def _endpoint(self, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = next((l for l in self._lines if "broker listening" in l), None)
            m = line and re.search(r"request=(tcp://[^\s,\]\"]+)", line)
            if m:
                return m.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the node did not report its endpoints; its output:\n{self.output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def eventually(condition, seconds: float = 60, every: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()
