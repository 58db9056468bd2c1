"""A merged results file as pieces of whole rows, read with bounded memory.

    results.csv.zst --frames--> \
                                 +--> pieces cut at row ends (a newline outside quotes)
    results.csv ----blocks-----> /

Pieces are cut at a line end with an even count of quotes, so a quoted cell
holding a newline or a frame cut mid-row never splits a row. Only regular
files are read (a FIFO would block, /dev/zero never end); a file that does
not start like a results header is refused at its first piece, and a "line"
longer than any frame holds (a sparse file of zeros, say) is refused, never
gathered into memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from splitter.store.frames import MAX_FRAME_BYTES, CorruptFileError, FrameReader, open_regular

__all__ = ["row_pieces"]

_BLOCK_BYTES = 1 << 22


def row_pieces(
    path: Path, head: bytes, no_header: Callable[[str], CorruptFileError]
) -> Iterator[bytes]:
    """The pieces of `path`, each whole rows; `no_header(first line)` when it does not start
    with `head`."""
    raw = _frames(path) if path.suffix == ".zst" else _blocks(path)
    return _whole_rows(_checked_head(raw, head, no_header), path)


def _checked_head(
    pieces: Iterator[bytes], head: bytes, no_header: Callable[[str], CorruptFileError]
) -> Iterator[bytes]:
    for number, piece in enumerate(pieces):
        if number == 0 and not piece.startswith(head[: len(piece)]):
            raise no_header(piece[:80].partition(b"\n")[0].decode("utf-8", "replace"))
        yield piece


def _frames(path: Path) -> Iterator[bytes]:
    reader = FrameReader(path)
    yield from reader
    if reader.damage is not None:
        raise CorruptFileError(
            f"{path}: {reader.damage}; merge again with --force to rewrite the merged files"
        )


def _blocks(path: Path) -> Iterator[bytes]:
    with open_regular(path) as f:
        while block := f.read(_BLOCK_BYTES):
            yield block


def _whole_rows(pieces: Iterator[bytes], path: Path) -> Iterator[bytes]:
    """Re-cut pieces so that each ends at a row's end (a newline outside quotes)."""
    pending: list[bytes] = []
    waiting = 0  # bytes in `pending`
    for piece in pieces:
        if b"\n" not in piece:
            pending.append(piece)
            waiting += len(piece)
            if waiting > MAX_FRAME_BYTES:
                raise CorruptFileError(
                    f"{path} holds a line longer than {MAX_FRAME_BYTES >> 20} MiB, which no"
                    " merge writes; merge again with --force to rewrite the merged files"
                )
            continue
        data = b"".join((*pending, piece))
        cut = data.rfind(b"\n") + 1
        # A newline ends a row when the quotes before it are balanced.
        while cut and data.count(b'"', 0, cut) % 2:
            cut = data.rfind(b"\n", 0, cut - 1) + 1
        pending, waiting = [data[cut:]], len(data) - cut
        if cut:
            yield data[:cut]
    rest = b"".join(pending)
    if rest:
        yield rest if rest.endswith(b"\n") else rest + b"\n"
