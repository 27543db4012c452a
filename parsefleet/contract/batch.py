"""The batch: what travels from the producer to a worker, and its wire format.

A batch carries everything a worker needs without a shared filesystem: for each file its
repository id, path, blob hash and raw content. On the wire it is one ``bytes`` value:
zstd-compressed msgpack (binary-safe, never pickled, no base64).

Anyone who can write to Redis can write a batch, so a payload is checked before it is expanded
(``BatchLimits``): the size its zstd frame declares, then the bytes it really expands to (streamed,
stopped one byte past the limit), then msgpack's own limits per string, binary and array, then
every file's declared size against its content. A 14.5 KB payload that would expand to 450 MB is
refused after reading its frame header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgpack
import zstandard

from parsefleet.contract.errors import BatchFormatError

if TYPE_CHECKING:
    from parsefleet.contract.settings import Settings

__all__ = ["WIRE_VERSION", "Batch", "BatchFile", "BatchLimits", "FileRef", "decode_batch", "encode_batch"]

WIRE_VERSION = 1
_ZSTD_LEVEL = 3
# What a file's entry may add to its content: a path (4,096 bytes at most on Linux, four times that
# once escaped losslessly), its blob hash and the msgpack framing.
_FILE_OVERHEAD_BYTES = 16 * 1024 + 64
_MAX_PATH_CHARS = 16 * 1024
_BODY_OVERHEAD_BYTES = 1024  # the version, ids and language around the files
_READ_CHUNK_BYTES = 1024 * 1024
_FIELDS_PER_FILE = 5
_LIMITS_HINT = (
    " (limits: this worker's max_file_bytes and batch_max_files, which must be no smaller than its producers')"
)


@dataclass(frozen=True, slots=True)
class FileRef:
    """One accepted file, as the producer saw it."""

    repository_id: int
    path: str  # relative to the repository root, '/'-separated; lossless (parsefleet.contract.paths.to_text)
    blob_hash: bytes  # git blob id (sha1 of b"blob <size>\\0" + content), 20 bytes
    language: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class BatchFile:
    """A file and its content, inside a batch."""

    ref: FileRef
    content: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    """Files of one language from one run, sized by bytes."""

    batch_id: str
    run_id: str
    language: str
    files: tuple[BatchFile, ...]

    @property
    def size_bytes(self) -> int:
        """Source bytes in this batch."""
        return sum(item.ref.size_bytes for item in self.files)


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """What a batch may hold once expanded: files, bytes of one file, bytes of all contents.

    A producer makes batches of at most ``batch_max_files`` files and ``batch_max_bytes`` of
    source, or one file alone, of at most ``max_file_bytes`` (producer/chunk.py); ``of(settings)``
    accepts exactly that, so workers need settings at least as large as their producers'.
    """

    max_files: int
    max_file_bytes: int
    max_content_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> BatchLimits:
        """The limits of batches made with ``settings``."""
        content = max(settings.batch_max_bytes, settings.max_file_bytes)
        return cls(settings.batch_max_files, settings.max_file_bytes, content)

    @property
    def max_decoded_bytes(self) -> int:
        """Bytes the msgpack body of such a batch takes at most."""
        return self.max_content_bytes + self.max_files * _FILE_OVERHEAD_BYTES + _BODY_OVERHEAD_BYTES


def encode_batch(batch: Batch) -> bytes:
    """Serialise a batch for the wire."""
    body = {
        "v": WIRE_VERSION,
        "id": batch.batch_id,
        "run": batch.run_id,
        "lang": batch.language,
        "files": [[f.ref.repository_id, f.ref.path, f.ref.blob_hash, f.ref.size_bytes, f.content] for f in batch.files],
    }
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    compressed: bytes = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(packed)
    return compressed


def decode_batch(payload: bytes, limits: BatchLimits | None = None) -> Batch:
    """Read a batch from the wire; raise BatchFormatError when it is not one, or not one within
    ``limits`` (by default those of the default settings)."""
    if limits is None:
        from parsefleet.contract.settings import Settings

        limits = BatchLimits.of(Settings())
    try:
        body = msgpack.unpackb(
            _expanded(payload, limits.max_decoded_bytes),
            raw=False,
            max_bin_len=limits.max_file_bytes,
            max_str_len=_MAX_PATH_CHARS,
            max_array_len=max(limits.max_files, _FIELDS_PER_FILE),
            max_map_len=_FIELDS_PER_FILE,
            max_ext_len=0,
        )
        if body.get("v") != WIRE_VERSION:
            raise BatchFormatError(f"unsupported batch wire version {body.get('v')!r}")
        language = str(body["lang"])
        files = tuple(
            BatchFile(FileRef(int(repo), str(path), bytes(blob), language, int(size)), bytes(content))
            for repo, path, blob, size, content in body["files"]
        )
        batch = Batch(str(body["id"]), str(body["run"]), language, files)
    except BatchFormatError:
        raise
    except ValueError as exc:  # msgpack's limits ("... exceeds max_bin_len(...)"), or a field of the wrong kind
        raise BatchFormatError(f"undecodable or oversize batch: {exc}{_LIMITS_HINT}") from exc
    except (
        zstandard.ZstdError,
        msgpack.UnpackException,
        TypeError,
        KeyError,
        AttributeError,
    ) as exc:
        raise BatchFormatError(f"undecodable batch: {exc}") from exc
    _check_sizes(batch, limits)
    return batch


def _expanded(payload: bytes, max_bytes: int) -> bytes:
    """The payload decompressed, refused as soon as it declares or reaches more than ``max_bytes``."""
    declared = zstandard.frame_content_size(payload)
    if declared > max_bytes:  # CONTENTSIZE_UNKNOWN (-1): not declared, the read below still stops
        raise BatchFormatError(f"oversize batch: its frame declares {declared} bytes, the limit is {max_bytes}")
    parts: list[bytes] = []
    total = 0
    with zstandard.ZstdDecompressor().stream_reader(payload, read_across_frames=True) as reader:
        while chunk := reader.read(min(_READ_CHUNK_BYTES, max_bytes + 1 - total)):
            parts.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise BatchFormatError(f"oversize batch: it expands to more than {max_bytes} bytes (the limit)")
    return b"".join(parts)


def _check_sizes(batch: Batch, limits: BatchLimits) -> None:
    """BatchFormatError unless every file's declared size is its content's and the batch fits."""
    if len(batch.files) > limits.max_files:
        raise BatchFormatError(f"oversize batch: {len(batch.files)} files, the limit is {limits.max_files}")
    for item in batch.files:
        if item.ref.size_bytes != len(item.content):
            raise BatchFormatError(
                f"inconsistent batch: a file declares {item.ref.size_bytes} bytes and holds {len(item.content)}"
            )
    if batch.size_bytes > limits.max_content_bytes:
        raise BatchFormatError(
            f"oversize batch: {batch.size_bytes} bytes of source, the limit is {limits.max_content_bytes}"
        )
