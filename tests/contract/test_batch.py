from dataclasses import replace

import msgpack
import pytest
import zstandard

from parsefleet.contract.batch import Batch, BatchFile, BatchLimits, FileRef, decode_batch, encode_batch
from parsefleet.contract.errors import BatchFormatError
from parsefleet.contract.settings import Settings


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


_SMALL = BatchLimits(max_files=2, max_file_bytes=1000, max_content_bytes=1500)


def test_a_payload_declaring_more_than_the_limit_is_refused_before_it_expands() -> None:
    packed = msgpack.packb({"v": 1, "files": [[1, "a.py", b"h" * 20, 10**6, b"x" * 10**6]]}, use_bin_type=True)
    declared = zstandard.ZstdCompressor(write_content_size=True).compress(packed)
    with pytest.raises(BatchFormatError, match=f"its frame declares {len(packed)} bytes"):
        decode_batch(declared, _SMALL)
    undeclared = zstandard.ZstdCompressor(write_content_size=False).compress(packed)
    with pytest.raises(BatchFormatError, match="expands to more than"):
        decode_batch(undeclared, _SMALL)


def test_files_over_the_limits_and_sizes_that_lie_are_refused() -> None:
    with pytest.raises(BatchFormatError, match="oversize batch: 3 files"):
        decode_batch(encode_batch(_batch(b"a", b"b", b"c")), _SMALL)
    with pytest.raises(BatchFormatError, match="oversize batch: 1001 exceeds max_bin_len"):
        decode_batch(encode_batch(_batch(b"x" * 1001)), _SMALL)
    with pytest.raises(BatchFormatError, match="oversize batch: 1600 bytes of source"):
        decode_batch(encode_batch(_batch(b"x" * 800, b"y" * 800)), _SMALL)
    lying = _batch(b"x" * 10)
    ref = lying.files[0].ref
    liar = Batch(lying.batch_id, lying.run_id, "python", (BatchFile(replace(ref, size_bytes=5), b"x" * 10),))
    with pytest.raises(BatchFormatError, match="declares 5 bytes and holds 10"):
        decode_batch(encode_batch(liar), _SMALL)


def test_the_default_limits_are_those_of_the_producer_settings() -> None:
    limits = BatchLimits.of(Settings(batch_max_files=10, batch_max_bytes=100, max_file_bytes=50))
    assert (limits.max_files, limits.max_file_bytes, limits.max_content_bytes) == (10, 50, 100)
    biggest = _batch(*(b"x" * 10 for _ in range(10)))
    assert decode_batch(encode_batch(biggest), limits) == biggest
