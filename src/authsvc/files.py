"""Files only the service's own user may read: the instance folder, the SQLite database, the secrets.

Left to the umask (commonly 022), each would be readable by every local user, and the database holds
every password hash and session. A leaf module (standard library only): config, db and migrate use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Make the folder (and any missing parents) 0700, or tighten an existing one we own."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tighten(path)


def new_dir(path: Path) -> None:
    """Make a missing folder 0700, leaving an existing one (someone else's choice) as it is."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create the file empty and 0600 if it is missing, else tighten it (never opening it: a read-only
    database must still open)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    tighten(path)


def private_sqlite(database: Path) -> None:
    """Pre-create a SQLite database 0600 before anything connects, and tighten what is already there.

    SQLite creates its -wal and -shm files with the database file's own mode, so a private database
    file is enough for them; companions left by an earlier, laxer start are tightened here.
    """
    new_dir(database.parent)
    private_file(database)
    for suffix in SQLITE_COMPANIONS:
        companion = database.with_name(database.name + suffix)
        if companion.exists():
            tighten(companion)


def tighten(path: Path) -> None:
    """Drop group and other permissions from a path we own (one we do not own is not ours to change)."""
    info = path.stat()
    current = stat.S_IMODE(info.st_mode)
    if info.st_uid == os.getuid() and current & 0o077:
        os.chmod(path, current & ~0o077)
