"""One writer at a time: an exclusive OS lock (``flock``) on ``<path>.lock``, naming its holder.

A vectors cache, the index fed from it and an evaluation workspace are each written by one
run at a time. The lock file records the holder's pid, start time and command line, so a
second run fails at once with one line saying who holds it. The OS drops the lock when its
holder exits, however it exits (a killed run leaves no stale lock); the holder removes the
file when it is done. Within one process the lock is re-entrant, so a command can hold it
for a whole run while the library functions it calls take it again. A run that only reads a
file checks that no writer holds it (``refuse_if_locked``) without creating a lock file, so
read-only folders and parallel readers work.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sparsedoc.encoder.errors import BusyError

_held: dict[Path, tuple[int, int]] = {}  # lock file -> (descriptor, depth), this process's locks
_guard = threading.Lock()


def lock_path(path: str | Path) -> Path:
    """The lock file guarding ``path``: ``<path>.lock`` next to it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


@contextmanager
def writer_lock(path: str | Path) -> Iterator[None]:
    """Hold the writer lock of ``path`` (a file or folder) for the ``with`` block.

    Raises:
        BusyError: another process holds it; the message names its pid and command.

    Example:
        >>> with writer_lock(tmp / "vectors.jsonl"):  # doctest: +SKIP
        ...     append_encoded(tmp / "vectors.jsonl", documents)
    """
    lock = lock_path(Path(path).absolute())
    with _guard:
        descriptor, depth = _held.get(lock) or (_acquire(lock, Path(path)), 0)
        _held[lock] = (descriptor, depth + 1)
    try:
        yield
    finally:
        with _guard:
            descriptor, depth = _held.pop(lock)
            if depth > 1:
                _held[lock] = (descriptor, depth - 1)
            else:
                lock.unlink(missing_ok=True)  # before unlocking: a waiting run then finds no file, or a new one
                os.close(descriptor)


def _acquire(lock: Path, target: Path) -> int:
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            error = _busy(descriptor, target)
            os.close(descriptor)
            raise error from None
        if _same_file(descriptor, lock):
            break
        os.close(descriptor)  # its holder removed it between our open and lock: take the current file
    command = shlex.join(sys.orig_argv).replace("\n", " ")
    record = f"pid {os.getpid()} since {datetime.now().isoformat(timespec='seconds')}: {command}\n"
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, record.encode("utf-8"), 0)
    return descriptor


def refuse_if_locked(path: str | Path) -> None:
    """For a run that only reads ``path``: raise if another process is writing it.

    Raises:
        BusyError: another process holds ``path``'s writer lock; the message names it.
    """
    lock = lock_path(Path(path).absolute())
    if lock in _held:
        return
    try:
        descriptor = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(descriptor, Path(path)) from None
    finally:
        os.close(descriptor)


def _busy(descriptor: int, target: Path) -> BusyError:
    """The error naming the holder recorded in an open lock file."""
    holder = os.pread(descriptor, 4096, 0).decode("utf-8", "replace").strip()
    return BusyError(f"{target} is in use by {_describe(holder)}; wait for it to finish or stop it")


def _same_file(descriptor: int, lock: Path) -> bool:
    try:
        on_disk = lock.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _describe(holder: str) -> str:
    """``pid 12 (command, since time)`` from a lock file's record, or a generic phrase if it is not written yet."""
    head, _, command = holder.partition(": ")
    pid, _, since = head.partition(" since ")
    if not (pid.startswith("pid ") and command):
        return "another process"
    return f"{pid} ({command[:300]}, since {since})"
