"""Files that hold an account: written so a crash leaves the old version or the new, never a
mix, and read only from places no other user could have planted them.

The trust rule is sshd's StrictModes: the file and every directory above it must belong to
root or to the user running mailsetup, and none may be writable by group or others, except a
sticky directory such as /tmp, whose sticky bit keeps others from replacing what they do not
own. Otherwise another user could swap the config (pointing `send` at a server of theirs, with
Security None) and receive the password.

Beside those: the lock file one writer at a time holds (readers share it), the sendmail
command's log file, and the readers group they are shared with.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import os
import pwd
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mailsetup_tui.core.store.types import StoreError

TEMP_SUFFIX = ".tmp"


def owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def check_trusted(path: Path, uid: int | None = None) -> None:
    """`StoreError` naming the first untrusted part of `path` (the file, if it exists, and
    every directory above it) and its owner; nothing when all of it is trusted."""
    uid = os.geteuid() if uid is None else uid
    trusted = {0, uid}
    target = Path(os.path.abspath(path))
    # The real place, symlinks resolved: a link is only as trustworthy as what it points to.
    try:
        target = target.resolve(strict=False)
    except RuntimeError:  # pathlib's word for a symlink loop
        raise StoreError(f"{path}: cannot be read (a loop of symbolic links)") from None
    except OSError:
        pass
    for part in [target, *target.parents]:
        try:
            info = part.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue  # to be created, 0700, by us
        except PermissionError:
            raise StoreError(
                f"{path}: cannot be read (Permission denied): only its owner and the account's "
                "readers group may use it (its owner can add yours: mailsetup access --group)",
                permission=True,
            ) from None
        except OSError as error:
            raise StoreError(f"{part}: cannot be checked ({error.strerror})") from None
        if info.st_uid not in trusted:
            raise StoreError(
                f"{part} belongs to {owner_name(info.st_uid)}, not to root or "
                f"{owner_name(uid)}: another user could change what mailsetup reads there, so "
                "it is not used; keep the account in a directory of root's or your own"
            )
        writable = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        sticky = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
        if writable and not sticky:
            mode = stat.S_IMODE(info.st_mode)
            raise StoreError(
                f"{part} is writable by {'others' if info.st_mode & stat.S_IWOTH else 'its group'} "
                f"(mode {mode:04o}), so another user could replace the account: it is not "
                f"used; run: chmod go-w {part}"
            )


def exists(path: Path) -> bool:
    """Whether `path` exists; a file this user may not even look at counts as existing (it
    is someone's account, and using it will say why it cannot be read)."""
    try:
        path.stat()
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def read_text_file(path: Path, limit: int = 1 << 20) -> str:
    """A config or account file's text: a regular file of at most `limit` bytes, in UTF-8.
    Opened without waiting (a FIFO in its place would hang every command) and checked after
    opening, so what is checked is what is read. OSError and UnicodeDecodeError as `open`,
    `StoreError` for anything that is not a regular file or is too large."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreError(f"{path}: not a regular file")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise StoreError(f"{path}: larger than {limit // 1024} KiB; not a mailsetup file")
    return data.decode("utf-8")


def atomic_write(path: Path, data: bytes, *, group: int | None = None) -> None:
    """Write `data` to `path` so that a crash leaves the old file or the new, never a mix.

    Temp file in the same directory (same filesystem, so the rename is atomic), 0600 from
    creation (0640 and group `group` when given, set before the rename, so the file never
    appears with other permissions), fsync before the rename, fsync of the directory after
    it so the rename survives a power cut.
    """
    ensure_private_dir(path.parent)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as temp:
            os.fchmod(temp.fileno(), 0o600)
            if group is not None:
                os.fchown(temp.fileno(), -1, group)
                os.fchmod(temp.fileno(), 0o640)
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_dir(path.parent)


def remove_stale_temp_files(path: Path) -> None:
    """Remove what a killed write of `path` left behind (it may hold a password)."""
    with contextlib.suppress(OSError):
        for stale in path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                if stale.stat().st_uid == os.geteuid():
                    stale.unlink()


def ensure_private_dir(directory: Path) -> None:
    """Create `directory` (and missing parents) as 0700; existing directories are left as they
    are, since they may be shared ones such as /etc the administrator chose."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def group_can_read(path: Path, group: int) -> bool:
    """Whether members of `group` can read `path`, by its mode and its directories' (what
    another of their groups may give them is not counted)."""
    try:
        parts = [path.resolve(), *path.resolve().parents]
        infos = [(part, part.stat()) for part in parts]
    except (OSError, RuntimeError):
        return False
    for part, info in infos:
        need_other, need_group = (
            (stat.S_IROTH, stat.S_IRGRP) if part == parts[0] else (stat.S_IXOTH, stat.S_IXGRP)
        )
        if not (info.st_mode & need_other or (info.st_gid == group and info.st_mode & need_group)):
            return False
    return True


def share_file(path: Path, group: int | None) -> None:
    """A file readers of the account open (the lock file, for a shared lock): 0640 to
    `group`, or 0600, its owner's alone."""
    with contextlib.suppress(FileNotFoundError):
        if group is not None:
            os.chown(path, -1, group, follow_symlinks=False)
        os.chmod(path, 0o600 if group is None else 0o640, follow_symlinks=False)


def share_dir(directory: Path, group: int | None) -> None:
    """The account's directory: readable by `group` (0750), or by its owner alone (0700)."""
    if group is None:
        os.chmod(directory, 0o700)
        return
    os.chown(directory, -1, group)
    os.chmod(directory, 0o750)  # noqa: S103  (read by the group named for it, on purpose)


@contextlib.contextmanager
def _held(path: Path, flags: int, operation: int) -> Iterator[None]:
    """`operation` (flock) held on `path`, opened with `flags`, never through a symlink;
    OSError when it cannot be opened, or (LOCK_NB) is held by another process."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)  # which releases the lock


@contextlib.contextmanager
def _if_possible(lock: contextlib.AbstractContextManager[None]) -> Iterator[bool]:
    """`lock` held if it can be had at once; yields whether it is."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(lock)
        except OSError:
            yield False
            return
        yield True


def exclusive_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock on the file `path`, made 0600 if missing, waited for: one writer at
    a time, whatever the command."""
    ensure_private_dir(path.parent)
    return _held(path, os.O_RDWR | os.O_CREAT, fcntl.LOCK_EX)


def lock_if_free(path: Path) -> contextlib.AbstractContextManager[bool]:
    """The exclusive lock on `path` if no one holds it and this user may take it (yields
    whether it got it), for housekeeping that must never wait for, or race with, a writer.
    Creates nothing but the lock file, in a directory that exists."""
    return _if_possible(_held(path, os.O_RDWR | os.O_CREAT, fcntl.LOCK_EX | fcntl.LOCK_NB))


def shared_lock(path: Path) -> contextlib.AbstractContextManager[bool]:
    """A shared lock on `path` while reading, if this user may open it (yields whether it
    holds it): no writer changes the files meanwhile. Nothing is created: a reader without
    the lock file falls back on reading again when a save slipped in (`AccountStore`)."""
    return _if_possible(_held(path, os.O_RDONLY, fcntl.LOCK_SH))


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable. A failure is reported (the write cannot be said
    to have happened); a filesystem that cannot sync a directory at all (EINVAL) is not one."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def create_log_file(path: Path, gid: int | None) -> None:
    """The sendmail command's log file, made now so that the users who send can append to it
    (the readers group: 0660); a file already there is left as its administrator made it."""
    if not path.is_absolute():
        raise StoreError(f"the log file must be an absolute path, not {str(path)!r}")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise StoreError(f"{path}: not a regular file")
    if path.exists():
        return
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            if gid is not None:
                os.fchown(descriptor, -1, gid)
                os.fchmod(descriptor, 0o660)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise StoreError(f"{path}: cannot be created ({error.strerror})") from None


def group_id(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise StoreError(
            f"there is no group {group!r} (create it: groupadd --system {group})"
        ) from None


def group_members(group: str) -> tuple[str, ...]:
    """The users in `group`: listed in it, or with it as their primary group."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return ()
    primary = [user.pw_name for user in pwd.getpwall() if user.pw_gid == entry.gr_gid]
    return tuple(sorted(set(entry.gr_mem) | set(primary)))
