"""Safe extraction of a video shard (``.tar.gz``) into one folder.

Nothing is ever written outside the target folder: members with an absolute path or a
``..`` component are refused, as are links that point outside the target (checked on
the real, symlink-resolved paths, so a link planted by an earlier member cannot be used
to escape either), device files and FIFOs. Regular files are written to a temporary
name and renamed into place, so a killed extraction never leaves a truncated video
under its final name; a file already there with the member's size is left as it is,
which makes a second extraction of the same shard cheap.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from timelens_eval.errors import InputError

__all__ = ["ExtractResult", "extract_archive"]

_CHUNK = 1 << 20


@dataclass
class ExtractResult:
    """What one extraction did."""

    written: int = 0
    """Regular files written."""
    present: int = 0
    """Regular files already there with the member's size (left as they were)."""
    links: int = 0
    """Links created (each points inside the target)."""

    @property
    def files(self) -> int:
        """Regular files the archive holds."""
        return self.written + self.present


def _member_parts(name: str, strip: str | None, archive: Path) -> tuple[str, ...]:
    """The member's path components below the target; ``strip`` drops a leading folder."""
    if name.startswith(("/", "\\")) or (len(name) > 2 and name[1] == ":" and name[2] in "/\\"):
        raise InputError(f"refused archive member {name!r}: absolute path", path=archive)
    parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))
    if ".." in parts:
        raise InputError(f"refused archive member {name!r}: '..' in its path", path=archive)
    if strip is not None and parts and parts[0] == strip:
        parts = parts[1:]
    return parts


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def _parent_inside(root: str, dest: Path, name: str, archive: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not _inside(root, str(dest.parent)):
        raise InputError(f"refused archive member {name!r}: leads outside the target", path=archive)


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> bool:
    """Write ``member`` to ``dest`` (temp file + rename); False when it was already there."""
    if dest.is_file() and not dest.is_symlink() and dest.stat().st_size == member.size:
        return False
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover (regular members always have data)
        raise InputError(f"archive member {member.name!r} has no data")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _link(
    member: tarfile.TarInfo, dest: Path, target: Path, root: str, strip: str | None, archive: Path
) -> None:
    """Create a symbolic or hard link that stays inside the target, else refuse it."""
    if member.issym():
        if os.path.isabs(member.linkname):
            raise InputError(
                f"refused archive member {member.name!r}: link to an absolute path", path=archive
            )
        pointed = os.path.join(os.path.dirname(dest), member.linkname)
        if not _inside(root, pointed):
            raise InputError(
                f"refused archive member {member.name!r}: link to {member.linkname!r} leads "
                "outside the target",
                path=archive,
            )
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        os.symlink(member.linkname, dest)
        return
    source = target.joinpath(*_member_parts(member.linkname, strip, archive))
    if not _inside(root, str(source)) or not source.is_file():
        raise InputError(
            f"refused archive member {member.name!r}: hard link to {member.linkname!r} is not a "
            "file extracted inside the target",
            path=archive,
        )
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    os.link(source, dest)


def extract_archive(archive: Path, target: Path, *, strip: str | None = None) -> ExtractResult:
    """Extract ``archive`` (any tar compression) into ``target``, safely (module doc).

    ``strip`` drops a leading folder of that name from every member, so a shard holding
    ``charades/X.mp4`` and one holding ``X.mp4`` both land in ``target/X.mp4``.
    """
    target.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(target)
    result = ExtractResult()
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                parts = _member_parts(member.name, strip, archive)
                if not parts:
                    continue
                dest = target.joinpath(*parts)
                if member.isdir():
                    _parent_inside(root, dest / "x", member.name, archive)
                    continue
                if not (member.isreg() or member.issym() or member.islnk()):
                    raise InputError(
                        f"refused archive member {member.name!r}: not a file, folder or link",
                        path=archive,
                    )
                _parent_inside(root, dest, member.name, archive)
                if member.isreg():
                    if _write_file(tar, member, dest):
                        result.written += 1
                    else:
                        result.present += 1
                else:
                    _link(member, dest, target, root, strip, archive)
                    result.links += 1
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and exc.filename is not None:
            raise InputError(
                f"cannot extract ({exc.strerror}: {exc.filename})", path=archive
            ) from None
        raise InputError(f"not a readable tar archive ({exc})", path=archive) from None
    return result
