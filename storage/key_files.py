"""Secrets Ackbot generates for itself and keeps in its data folder (the encryption key, the
Web Push key): made once, readable by the owner only, and the same for every process that
starts on the folder, however many start at once."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def load_or_create(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The text kept in ``path``, or ``make()`` written there (mode 0600) if the file is absent;
    returns (text, created).

    The new file is written whole under a temporary name and then hard-linked to ``path``,
    which fails when ``path`` exists: of several processes racing, one links its key and the
    others read that file, never a half-written one.
    """
    if path.exists():
        return _read(path), False
    path.parent.mkdir(parents=True, exist_ok=True)
    text = make()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return _read(path), False
    finally:
        os.unlink(temporary)
    return text, True


def _read(path: Path) -> str:
    return path.read_text(encoding="ascii").strip()
