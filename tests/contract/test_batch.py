import msgpack
import pytest
import zstandard

from parsefleet.contract.batch import Batch, BatchFile, FileRef, decode_batch, encode_batch
from parsefleet.contract.errors import BatchFormatError


def _batch(*contents: bytes) -> Batch:
    files = tuple(
        BatchFile(FileRef(7, f"dir/f{i}.py", bytes([i]) * 20, "python", len(c)), c) for i, c in enumerate(contents)
    )
    return Batch("run:000001", "run", "python", files)


def test_round_trip_is_binary_safe() -> None:
    batch = _batch(b"\x00\xff\xfe invalid utf-8 \xc3\x28", "é ünïcode ✓".encode(), b"")
    assert decode_batch(encode_batch(batch)) == batch


def test_wire_format_is_compressed_msgpack_not_pickle() -> None:
    batch = _batch(b"print('hello')\n" * 1000)
    payload = encode_batch(batch)
    assert len(payload) < batch.size_bytes / 10
    body = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(payload), raw=False)
    assert body["v"] == 1 and body["files"][0][4] == b"print('hello')\n" * 1000


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not zstd",
        zstandard.ZstdCompressor().compress(b"\x93\x01\x02"),
        zstandard.ZstdCompressor().compress(msgpack.packb({"v": 99})),
    ],
)
def test_undecodable_payloads_raise_batch_format_error(payload: bytes) -> None:
    with pytest.raises(BatchFormatError):
        decode_batch(payload)
