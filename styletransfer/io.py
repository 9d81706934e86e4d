"""Atomic writes: a crash or Ctrl-C never leaves a half-written file under the final name."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a user's files get the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether ``path`` lies inside ``root`` once links and '..' are resolved."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())


def refuse_to_overwrite(paths, force: bool) -> None:
    """UserError naming the first output that exists (and how many more), unless ``force``: checked
    before any work, so a refused command writes nothing."""
    paths = [Path(p) for p in paths]
    folder = next((p for p in paths if p.is_dir()), None)
    if folder is not None:  # --force replaces files, never a folder
        raise UserError(f"{folder} is a folder: give --out a file name (e.g. {folder / 'out.mid'})")
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UserError(f"{existing[0]}{more} exists (use --force to overwrite)")


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def replace_dir(tmp_dir: str | os.PathLike, final_dir: str | os.PathLike) -> Path:
    """Move a fully written temporary folder to its final name, replacing an older one."""
    tmp_dir, final_dir = Path(tmp_dir), Path(final_dir)
    old = None
    if final_dir.exists():
        old = final_dir.with_name(f".{final_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final_dir, old)
    os.replace(tmp_dir, final_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final_dir
