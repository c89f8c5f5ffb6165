"""Process and port checks for nodes sparsedoc starts itself (Linux ``/proc``)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path


def port_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_ports_free(ports: tuple[int, ...], timeout: float) -> int | None:
    """Wait until every port is free; return one still busy after ``timeout``, else ``None``.

    A JVM killed with SIGKILL is already a zombie while the kernel still closes its
    listening sockets, so a restart right after a kill must give the ports a moment.
    """
    deadline = time.monotonic() + timeout
    while True:
        busy = next((p for p in ports if not port_free(p)), None)
        if busy is None or time.monotonic() >= deadline:
            return busy
        time.sleep(0.2)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has every thread in state Z. (The JVM's leader thread alone can be Z while the
    # process still runs, so look at all threads, not just /proc/<pid>/stat.)
    try:
        states = [(t / "stat").read_text().rsplit(")", 1)[1].split()[0] for t in Path(f"/proc/{pid}/task").iterdir()]
    except (OSError, IndexError):
        return True
    return any(state != "Z" for state in states) if states else False


def pid_cmdline(pid: int) -> list[str]:
    """The command line of ``pid`` (empty when unreadable)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def rss_mb(pid: int) -> int | None:
    """Resident memory of ``pid`` in MiB."""
    try:
        return round(next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS:")) / 1024)
    except (OSError, StopIteration, ValueError):
        return None


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"
