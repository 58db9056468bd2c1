"""Append-only files of independent zstd frames: the crash-safe container of our files.

Every flush of a writer becomes one complete zstd frame (content size and
checksum included), appended with one `os.write` loop. A `kill -9` can only
cut the frame being written, so a reader walks the file frame by frame, yields
every whole, verified frame and reports the rest as `damage`: after a crash
that is a cut-off last frame, during a live run it is the frame being written.

Frame boundaries come from the frame format itself (header, then 3-byte block
headers, then the checksum), so a reader never decompresses past the end of a
frame and never needs the whole file in memory.

A writer never appends after a damaged tail: callers run `repair_tail` on an
existing file before they open a `FrameWriter` on it.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import zstandard

from splitter.errors import ConfigError

__all__ = [
    "MAX_FRAME_BYTES",
    "CorruptFileError",
    "FrameReader",
    "FrameWriter",
    "TailRepair",
    "open_regular",
    "repair_tail",
]

_MAGIC = b"\x28\xb5\x2f\xfd"
_FCS_SIZES = (0, 2, 4, 8)  # Frame_Content_Size bytes by its 2-bit flag (flag 0: see _header_size)
_DICT_ID_SIZES = (0, 1, 2, 4)
_BLOCK_RLE = 1
_BLOCK_COMPRESSED = 2
_BLOCK_RESERVED = 3
_CHECKSUM_SIZE = 4
# The most one frame may decompress to: far above one flush of our writers,
# and a bound on the memory a reader spends on any frame, however crafted.
MAX_FRAME_BYTES = 256 << 20


class CorruptFileError(ConfigError):
    """A file splitter wrote that cannot be read as written (not zstd, bad header, ...)."""


class _Damage(Exception):
    """Raised inside the reader when the bytes at a frame boundary are not a valid frame."""


class FrameWriter:
    """Append independent zstd frames to a file, creating it if needed.

    Callers run `repair_tail(path)` first on an existing file: appending after
    a damaged tail would hide every later frame from readers.
    """

    def __init__(self, path: Path, level: int = 3) -> None:
        self.path = path
        self._compressor = zstandard.ZstdCompressor(
            level=level, write_checksum=True, write_content_size=True
        )
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        self._fd: int | None = os.open(path, flags, 0o644)
        self._size = os.fstat(self._fd).st_size

    @property
    def size(self) -> int:
        """Bytes in the file, including the frames this writer appended."""
        return self._size

    def write_frame(self, data: bytes) -> None:
        """Compress `data` into one complete frame and append it (no fsync).

        More than `MAX_FRAME_BYTES` is refused (ValueError): readers would take it for damage.
        """
        if len(data) > MAX_FRAME_BYTES:
            raise ValueError(f"a frame holds at most {MAX_FRAME_BYTES} bytes, not {len(data)}")
        fd = self._open_fd()
        frame = memoryview(self._compressor.compress(data))
        written = 0
        try:
            while written < len(frame):
                written += os.write(fd, frame[written:])
        except OSError as exc:
            # A partial frame would be a damaged tail; take it back so the file stays whole.
            os.ftruncate(fd, self._size)
            if exc.filename is not None:
                raise
            # os.write names no file: name it, so the error can say which one.
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
        self._size += written

    def sync(self) -> None:
        """Force the appended frames to disk."""
        os.fsync(self._open_fd())

    def close(self) -> None:
        """Fsync and close the file; closing twice is harmless."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open_fd(self) -> int:
        if self._fd is None:
            raise ValueError(f"FrameWriter for {self.path} is closed")
        return self._fd


class FrameReader:
    """Stream the decompressed payloads of a frame file's whole, verified frames.

    Iterating reads the file in `chunk_size` pieces. After iteration,
    `complete_bytes` is the offset just past the last whole frame,
    `total_bytes` the bytes read and `damage` says why reading stopped early
    (None when the file ended cleanly). A file that a live run is appending to
    reads fine up to its last whole frame; its open tail shows as `damage`.

    Only a regular file is read (a FIFO would block, a device never end). A
    frame whose blocks add up to more than `MAX_FRAME_BYTES` is damage, found
    from its block headers before anything is decompressed: a few kilobytes
    of RLE blocks could otherwise claim gigabytes of memory.
    """

    def __init__(self, path: Path, chunk_size: int = 1 << 20) -> None:
        self.path = path
        self.chunk_size = chunk_size
        self.complete_bytes = 0
        self.total_bytes = 0
        self.damage: str | None = None
        self._dctx = zstandard.ZstdDecompressor()

    def __iter__(self) -> Generator[bytes, None, None]:
        self.complete_bytes = self.total_bytes = 0
        self.damage = None
        buf = bytearray()
        pos = 0  # where the next frame starts in buf
        walk = _FrameWalk()
        with open_regular(self.path) as f:
            while True:
                try:
                    length = walk.length(buf, pos)
                    if length is None:
                        chunk = self._read(f)
                        if not chunk:
                            break
                        del buf[:pos]
                        pos = 0
                        buf += chunk
                        self.total_bytes += len(chunk)
                        continue
                    payload = self._decompress(buf[pos : pos + length])
                except _Damage as exc:
                    self._check_zstd_start(buf)
                    self.damage = f"{exc} at byte {self.complete_bytes}"
                    return
                pos += length
                self.complete_bytes += length
                walk = _FrameWalk()
                yield payload
        if pos < len(buf):
            self._check_zstd_start(buf)
            self.damage = (
                f"cut off mid-frame: {len(buf) - pos} bytes after the last whole frame"
                f" at byte {self.complete_bytes} (a crash, or a run still writing it)"
            )

    def _read(self, f: BinaryIO) -> bytes:
        try:
            return f.read(self.chunk_size)
        except OSError as exc:
            raise CorruptFileError(
                f"{self.path} cannot be read ({exc.strerror}); splitter reads only the regular"
                " files it wrote: restore that file, or move this one aside"
            ) from None

    def _decompress(self, frame: bytearray) -> bytes:
        decoder = self._dctx.decompressobj()
        try:
            payload: bytes = decoder.decompress(frame)
        except zstandard.ZstdError as exc:
            raise _Damage(f"undecodable frame ({exc})") from exc
        if not decoder.eof or decoder.unused_data:
            raise _Damage("frame with inconsistent block sizes")
        return payload

    def _check_zstd_start(self, buf: bytearray) -> None:
        """Raise CorruptFileError if the damage is at byte 0 and does not even look like zstd."""
        head = bytes(buf[:4])
        if self.complete_bytes == 0 and not _MAGIC.startswith(head):
            raise CorruptFileError(
                f"{self.path} is not a zstd file (it starts with {head!r});"
                " restore the file splitter wrote there, or move this one aside"
            )


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading if it is a regular file; else a CorruptFileError naming it.

    Opened without blocking, so a FIFO put in place of a file cannot hang the reader.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd: int | None = os.open(path, flags)
    except (IsADirectoryError, PermissionError) as exc:
        if not path.is_dir():
            raise CorruptFileError(
                f"{path} cannot be read ({exc.strerror}); check its permissions"
            ) from None
        fd = None  # Windows cannot open a folder; POSIX opens it, and fstat tells.
    kind = "a folder" if fd is None else _kind(os.fstat(fd).st_mode)
    if kind is not None:
        if fd is not None:
            os.close(fd)
        raise CorruptFileError(
            f"{path} is {kind}, not a regular file; splitter reads only the files it wrote:"
            " move it aside and restore the file that was there"
        )
    assert fd is not None
    return os.fdopen(fd, "rb")


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a file"


class _FrameWalk:
    """Finds where one frame ends from its block headers, resuming where the last call stopped.

    Resuming matters: a frame of millions of tiny blocks, read chunk by chunk,
    must not be walked from its start again for every chunk.
    """

    def __init__(self) -> None:
        self.offset = 0  # the next block header's offset in the frame; 0: header not read
        self.regenerated = 0  # the most bytes the blocks walked so far decompress to

    def length(self, buf: bytearray, pos: int) -> int | None:
        """Length of the frame starting at buf[pos], or None if buf ends before it does."""
        end = len(buf)
        if not self.offset:
            if end - pos < 5:
                if buf[pos:end] != _MAGIC[: end - pos]:
                    raise _Damage("not a zstd frame")
                return None
            if buf[pos : pos + 4] != _MAGIC:
                raise _Damage("not a zstd frame")
            self.offset = _header_size(buf[pos + 4])
        at = pos + self.offset
        while at + 3 <= end:
            header = buf[at] | buf[at + 1] << 8 | buf[at + 2] << 16
            kind, size, last = (header >> 1) & 3, header >> 3, header & 1
            if kind == _BLOCK_RESERVED or size > zstandard.BLOCKSIZE_MAX:
                raise _Damage("undecodable frame (bad block header)")
            if not size and not last:
                raise _Damage("undecodable frame (an empty block before the last)")
            regenerated = self.regenerated + (
                zstandard.BLOCKSIZE_MAX if kind == _BLOCK_COMPRESSED else size
            )
            if regenerated > MAX_FRAME_BYTES:
                raise _Damage(f"frame that would decompress to over {MAX_FRAME_BYTES} bytes")
            at += 3 + (1 if kind == _BLOCK_RLE else size)
            if last:  # the offset stays on it until the whole frame is in buf
                at += _CHECKSUM_SIZE if buf[pos + 4] & 0x04 else 0
                return at - pos if at <= end else None
            self.regenerated, self.offset = regenerated, at - pos
        return None


def _header_size(descriptor: int) -> int:
    """Bytes of magic plus frame header, from the Frame_Header_Descriptor byte."""
    single_segment = bool(descriptor & 0x20)
    fcs_flag = descriptor >> 6
    fcs = _FCS_SIZES[fcs_flag] if fcs_flag or not single_segment else 1
    window = 0 if single_segment else 1
    return 4 + 1 + window + _DICT_ID_SIZES[descriptor & 3] + fcs


@dataclass(frozen=True)
class TailRepair:
    """What `repair_tail` did: cut `cut_bytes` off `path`, keeping them in `saved_to`."""

    path: Path
    cut_bytes: int
    saved_to: Path


def repair_tail(path: Path) -> TailRepair | None:
    """Move a damaged or cut-off tail of a frame file aside, so appending is safe again.

    The damaged bytes are copied to `<name>.damaged-<UTC yyyymmddThhmmssZ>`
    beside the file and fsync'd before the file is truncated to its last whole
    frame: nothing is ever lost. Returns None when the file ends cleanly.
    """
    reader = FrameReader(path)
    for _ in reader:
        pass
    if reader.damage is None:
        return None
    with open(path, "r+b") as f:
        f.seek(reader.complete_bytes)
        saved_to = _save_aside(path, f)
        cut_bytes = f.tell() - reader.complete_bytes
        f.truncate(reader.complete_bytes)
        f.flush()
        os.fsync(f.fileno())
    return TailRepair(path=path, cut_bytes=cut_bytes, saved_to=saved_to)


def _save_aside(path: Path, source: BinaryIO) -> Path:
    """Copy the rest of `source` to a new `.damaged-<stamp>` file beside `path`; fsync it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while True:
        try:
            with open(candidate, "xb") as f:
                shutil.copyfileobj(source, f)
                f.flush()
                os.fsync(f.fileno())
            return candidate
        except FileExistsError:  # never overwrite an earlier repair's bytes
            number += 1
            candidate = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
