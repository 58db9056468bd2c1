"""Append-only files of independent zstd frames: the crash-safe container of our files.

Every flush of a writer becomes complete zstd frames (content size and
checksum included), each appended with one `os.write` loop. A `kill -9` can
only cut the frame being written, so a reader walks the file frame by frame,
yields every whole, verified frame and reports the rest as `damage`: after a
crash that is a cut-off last frame, during a live run it is the frame being
written.

A flush is cut into frames of about `FRAME_BYTES` at line ends (`line_pieces`;
for CSV, only at a newline outside quotes), so every frame holds whole lines
and a reader needs memory for one frame, never for a whole flush. A line
longer than that is a frame of its own, up to `MAX_FRAME_BYTES`: the most a
reader accepts, so a crafted file costs a reader tens of megabytes at most.

Frame boundaries come from the frame format itself (header, then 3-byte block
headers, then the checksum), so a reader never decompresses past the end of a
frame and never needs the whole file in memory.

A writer never appends after a damaged tail: callers run `repair_tail` on an
existing file before they open a `FrameWriter` on it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import zstandard

from splitter.errors import ConfigError

__all__ = [
    "FRAME_BYTES",
    "MAX_FRAME_BYTES",
    "CorruptFileError",
    "FrameReader",
    "FrameWriter",
    "TailRepair",
    "line_pieces",
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
# The most one frame may decompress to: a bound on the memory a reader spends on
# any frame, however crafted (about ten times this, through csv), and on the
# longest line a writer may write (a results row, see rowformat.MAX_ROW_BYTES).
MAX_FRAME_BYTES = 4 << 20
# The payload writers put in one frame, cutting a flush at line ends.
FRAME_BYTES = 1 << 20
# One CSV row from where it starts: unquoted text and quoted cells (which may hold
# newlines and doubled quotes), then its newline. Possessive: it never backtracks.
_CSV_ROW = re.compile(rb'(?:[^"\n]++|"[^"]*+")*+\n')


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

    def write_frame(self, data: bytes | memoryview) -> None:
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

    def write_frames(self, payloads: Iterable[bytes | memoryview]) -> None:
        """Append each payload as a frame: all of them, or none when one cannot be written.

        Frames this call appended before a failure are cut off again, so the
        caller's buffered data is either wholly in the file or not at all.
        """
        start = self._size
        try:
            for payload in payloads:
                self.write_frame(payload)
        except BaseException:
            if self._size != start:
                os.ftruncate(self._open_fd(), start)
                self._size = start
            raise

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
    frame of more than `MAX_FRAME_BYTES` is damage, found from its header or
    its block headers before anything is decompressed: a few kilobytes of RLE
    blocks could otherwise claim gigabytes of memory.
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
        # Into a buffer of its declared size, else of at most MAX_FRAME_BYTES: never more.
        try:
            payload: bytes = self._dctx.decompress(
                frame, max_output_size=MAX_FRAME_BYTES, allow_extra_data=False
            )
        except zstandard.ZstdError as exc:
            raise _Damage(f"undecodable frame ({exc})") from exc
        return payload

    def _check_zstd_start(self, buf: bytearray) -> None:
        """Raise CorruptFileError if the damage is at byte 0 and does not even look like zstd."""
        head = bytes(buf[:4])
        if self.complete_bytes == 0 and not _MAGIC.startswith(head):
            raise CorruptFileError(
                f"{self.path} is not a zstd file (it starts with {head!r});"
                " restore the file splitter wrote there, or move this one aside"
            )


def line_pieces(data: bytes, *, csv: bool = False) -> list[memoryview]:
    """``data`` (whole lines) cut at line ends into pieces of at most `FRAME_BYTES`.

    A line longer than that is a piece of its own; one longer than
    `MAX_FRAME_BYTES` is a ValueError (writers bound their lines first). With
    ``csv``, a newline inside a quoted cell is no line end.
    """
    view = memoryview(data)
    pieces: list[memoryview] = []
    start = 0
    while len(data) - start > FRAME_BYTES:
        end = _last_line_end(data, start, start + FRAME_BYTES, csv)
        if end is None:
            end = _first_line_end(data, start, csv)
        pieces.append(view[start:end])
        start = end
    if start < len(data):
        pieces.append(view[start:])
    return pieces


def _last_line_end(data: bytes, start: int, stop: int, csv: bool) -> int | None:
    """The offset just past the last line end in data[start:stop]; None if it has none."""
    cut = data.rfind(b"\n", start, stop) + 1
    quotes = data.count(b'"', start, cut) if csv and cut > start else 0
    while cut > start and quotes % 2:  # that newline is inside a quoted cell
        before = data.rfind(b"\n", start, cut - 1) + 1
        if before <= start:
            return None
        quotes -= data.count(b'"', before, cut)
        cut = before
    return cut if cut > start else None


def _first_line_end(data: bytes, start: int, csv: bool) -> int:
    """The offset just past the line that starts at ``start``."""
    if csv:
        row = _CSV_ROW.match(data, start)
        end = len(data) if row is None else row.end()
    else:
        end = data.find(b"\n", start) + 1 or len(data)
    if end - start > MAX_FRAME_BYTES:
        raise ValueError(f"a line of {end - start} bytes is longer than a frame may be")
    return end


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
    must not be walked from its start again for every chunk. A frame is
    damage once it is known to hold more than `MAX_FRAME_BYTES`: from its
    declared content size (our writers declare it), else from its blocks.
    """

    def __init__(self) -> None:
        self.offset = 0  # the next block header's offset in the frame; 0: header not read
        self.regenerated = 0  # the most bytes (declared size: the least) the blocks make
        self.declared: int | None = None  # the content size in its header, if there

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
            size = _header_size(buf[pos + 4])
            if end - pos < size:
                return None
            self.declared = _content_size(buf, pos, size)
            if self.declared is not None and self.declared > MAX_FRAME_BYTES:
                raise _Damage(f"frame that would decompress to over {MAX_FRAME_BYTES} bytes")
            self.offset = size
        at = pos + self.offset
        while at + 3 <= end:
            header = buf[at] | buf[at + 1] << 8 | buf[at + 2] << 16
            kind, size, last = (header >> 1) & 3, header >> 3, header & 1
            if kind == _BLOCK_RESERVED or size > zstandard.BLOCKSIZE_MAX:
                raise _Damage("undecodable frame (bad block header)")
            if not size and not last:
                raise _Damage("undecodable frame (an empty block before the last)")
            at += 3 + (1 if kind == _BLOCK_RLE else size)
            regenerated = self._grown(kind, size, at - pos)
            if last:  # the offset stays on it until the whole frame is in buf
                at += _CHECKSUM_SIZE if buf[pos + 4] & 0x04 else 0
                return at - pos if at <= end else None
            self.regenerated, self.offset = regenerated, at - pos
        return None

    def _grown(self, kind: int, size: int, walked: int) -> int:
        """`regenerated` with a block of ``kind`` and ``size``, the frame ``walked`` bytes long."""
        declared = self.declared
        if declared is None:  # a compressed block makes at most BLOCKSIZE_MAX
            grown = self.regenerated + (
                zstandard.BLOCKSIZE_MAX if kind == _BLOCK_COMPRESSED else size
            )
            if grown > MAX_FRAME_BYTES:
                raise _Damage(f"frame that would decompress to over {MAX_FRAME_BYTES} bytes")
            return grown
        # Raw and RLE blocks make exactly their size; no encoder makes a frame much
        # longer than its content, so neither may pass the declared size.
        grown = self.regenerated + (0 if kind == _BLOCK_COMPRESSED else size)
        if grown > declared or walked > declared + declared // 8 + 4096:
            raise _Damage(f"frame whose blocks hold more than its declared {declared} bytes")
        return grown


def _content_size(buf: bytearray, pos: int, header_size: int) -> int | None:
    """The Frame_Content_Size in the header of the frame at buf[pos]; None if it has none."""
    descriptor = buf[pos + 4]
    flag = descriptor >> 6
    size = _FCS_SIZES[flag] if flag or not descriptor & 0x20 else 1
    if not size:
        return None
    value = int.from_bytes(buf[pos + header_size - size : pos + header_size], "little")
    return value + 256 if size == 2 else value


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
