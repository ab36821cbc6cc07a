"""Files for the datasets: IDX reading, checksummed downloads, safe tar extraction, errors.

Downloads use only the standard library (urllib). A download is written to a temporary
file in the destination folder, checked against its MD5, fsync'ed and renamed into place,
so a crash or a bad mirror never leaves a partial or corrupt file under the final name.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tarfile
import urllib.error
import urllib.request
import zlib

import numpy as np

from ...io.atomic import atomic_path

__all__ = ["DatasetNotFoundError", "DatasetFormatError", "IDXFormatError", "DownloadError",
           "ChecksumError", "UnsafeArchiveError", "read_idx", "md5sum", "check_md5",
           "download_url", "extract_tar", "default_root"]


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are not where they were looked for."""


class DatasetFormatError(ValueError):
    """A dataset file is there but malformed; the message names the file."""


class IDXFormatError(DatasetFormatError):
    """A file is not a well-formed IDX file (bad magic, wrong dims, truncated)."""


class DownloadError(OSError):
    """No mirror could deliver a file."""


class ChecksumError(DownloadError):
    """A downloaded file's MD5 is not the expected one."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the destination, or is a link or device."""


def default_root() -> str:
    """Where datasets live when `root=None`: $FATHOM_DATA, else ~/.fathom/data."""
    return os.environ.get("FATHOM_DATA") or os.path.join(os.path.expanduser("~"), ".fathom",
                                                         "data")


# --- IDX --------------------------------------------------------------------------------------

# The IDX type byte -> big-endian NumPy dtype (LeCun's format description).
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _open(path):
    """`path` opened for reading, through gzip when its first bytes are gzip's magic."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _read_exact(f, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def read_idx(path) -> np.ndarray:
    """The array in IDX file `path` (gzipped or not), in native byte order.

    Raises IDXFormatError naming the file for a bad magic number, a bad type, or a
    payload shorter or longer than its header's dims say.
    """
    path = os.fspath(path)
    try:
        with _open(path) as f:
            magic = _read_exact(f, 4)
            if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _IDX_TYPES:
                raise IDXFormatError(f"{path}: not an IDX file (bad magic number "
                                     f"0x{magic.hex() or 'empty'}; expected 0x0000 then a type "
                                     f"byte (0x08 for uint8) and the number of dims)")
            dtype, ndim = _IDX_TYPES[magic[2]], magic[3]
            if ndim == 0:
                raise IDXFormatError(f"{path}: IDX header declares 0 dimensions")
            head = _read_exact(f, 4 * ndim)
            if len(head) < 4 * ndim:
                raise IDXFormatError(f"{path}: truncated IDX header ({len(head)} of "
                                     f"{4 * ndim} bytes of dims)")
            dims = tuple(int(d) for d in np.frombuffer(head, dtype=">u4"))
            out = np.empty(dims, dtype=dtype)
            view = memoryview(out.reshape(-1).view(np.uint8))
            got = 0
            while got < view.nbytes:
                n = f.readinto(view[got:])
                if not n:
                    break
                got += n
            if got < view.nbytes:
                raise IDXFormatError(f"{path}: truncated: dims {dims} need {view.nbytes} bytes "
                                     f"of data, the file has {got}")
            if f.read(1):
                raise IDXFormatError(f"{path}: has data past the {view.nbytes} bytes that its "
                                     f"dims {dims} describe")
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise IDXFormatError(f"{path}: corrupt or truncated gzip data ({e})") from e
    return out.astype(dtype.newbyteorder("="), copy=False)


# --- checksums and downloads --------------------------------------------------------------------

def md5sum(path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_md5(path, md5: str | None) -> bool:
    """True when `path` exists and (if `md5` is given) has that MD5."""
    return os.path.isfile(path) and (md5 is None or md5sum(path) == md5)


def _fetch(url: str, path: str, md5: str | None, timeout: float) -> None:
    """Download `url` to `path` atomically, checking the MD5 before the rename."""
    request = urllib.request.Request(url, headers={"User-Agent": "fathom"})
    h = hashlib.md5(usedforsecurity=False)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f, urllib.request.urlopen(request, timeout=timeout) as r:
            while block := r.read(1 << 20):
                h.update(block)
                f.write(block)
        if md5 is not None and h.hexdigest() != md5:
            raise ChecksumError(f"{url}: MD5 {h.hexdigest()} does not match the expected {md5} "
                                f"(corrupt or tampered download; nothing was written)")


def download_url(urls, path, md5: str | None = None, timeout: float = 60.0) -> str:
    """Fetch `path` from the first of `urls` that delivers it with the right MD5.

    Skips the download when `path` is already there with a good checksum. Raises
    ChecksumError when every mirror delivered bad bytes, DownloadError naming every
    URL tried and its failure otherwise (e.g. when offline).
    """
    path = os.fspath(path)
    urls = [urls] if isinstance(urls, str) else list(urls)
    if check_md5(path, md5):
        return path
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    failures = []
    for url in urls:
        print(f"Downloading {url} to {path}", file=sys.stderr)
        try:
            _fetch(url, path, md5, timeout)
            return path
        except ChecksumError as e:
            failures.append((url, e))
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            # A plain URLError wraps the cause (refused, no DNS): show that one.
            why = e.reason if type(e) is urllib.error.URLError else e
            failures.append((url, f"{type(why).__name__}: {why}"))
    tried = "".join(f"\n  {url}: {why}" for url, why in failures)
    name = os.path.basename(path)
    if all(isinstance(why, ChecksumError) for _, why in failures):
        raise ChecksumError(f"could not download {name}: every mirror delivered a file with "
                            f"the wrong checksum:{tried}")
    raise DownloadError(f"could not download {name} to {path}; tried:{tried}\n(hint: check "
                        f"the network connection, or copy the file to {path} yourself)")


# --- archives -----------------------------------------------------------------------------------

def extract_tar(archive, dest) -> None:
    """Extract `archive` (tar, tar.gz) under `dest`, refusing any member that would land
    outside `dest` (absolute paths, '..', through links) and any link or device file."""
    archive, dest = os.fspath(archive), os.fspath(dest)
    root = os.path.realpath(dest)
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for m in members:
            target = os.path.realpath(os.path.join(root, m.name))
            if os.path.commonpath([root, target]) != root:
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} would be written "
                                         f"outside {dest}; nothing was extracted")
            if not (m.isfile() or m.isdir()):
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a link or special "
                                         f"file; nothing was extracted")
        os.makedirs(root, exist_ok=True)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: a second line of defence
            tar.extractall(root, members=members, filter="data")
        else:
            tar.extractall(root, members=members)  # noqa: S202 - members checked above
