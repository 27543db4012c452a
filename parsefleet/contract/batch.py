"""The batch: what travels from the producer to a worker, and its wire format.

A batch carries everything a worker needs without a shared filesystem: for each file its
repository id, path, blob hash and raw content. On the wire it is one ``bytes`` value:
zstd-compressed msgpack (binary-safe, never pickled, no base64).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import zstandard

from parsefleet.contract.errors import BatchFormatError

__all__ = ["WIRE_VERSION", "Batch", "BatchFile", "FileRef", "decode_batch", "encode_batch"]

WIRE_VERSION = 1
_ZSTD_LEVEL = 3
_MAX_DECODED_BYTES = 512 * 1024 * 1024


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


def decode_batch(payload: bytes) -> Batch:
    """Read a batch from the wire; raise BatchFormatError when it is not one."""
    try:
        packed = zstandard.ZstdDecompressor().decompress(payload, max_output_size=_MAX_DECODED_BYTES)
        body = msgpack.unpackb(packed, raw=False)
        if body.get("v") != WIRE_VERSION:
            raise BatchFormatError(f"unsupported batch wire version {body.get('v')!r}")
        language = str(body["lang"])
        files = tuple(
            BatchFile(FileRef(int(repo), str(path), bytes(blob), language, int(size)), bytes(content))
            for repo, path, blob, size, content in body["files"]
        )
        return Batch(str(body["id"]), str(body["run"]), language, files)
    except BatchFormatError:
        raise
    except (
        zstandard.ZstdError,
        msgpack.UnpackException,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
    ) as exc:
        raise BatchFormatError(f"undecodable batch: {exc}") from exc
