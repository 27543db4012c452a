from parsefleet.contract.batch import BatchFile, FileRef
from parsefleet.producer.chunk import MIN_SIZED_BYTES, BatchSizer, Chunker


def _file(name: str, size: int, language: str = "python") -> BatchFile:
    return BatchFile(FileRef(1, name, bytes(20), language, size), b"x" * size)


def test_batches_close_before_exceeding_max_bytes() -> None:
    chunker = Chunker("run", max_bytes=100, max_files=50)
    out = [chunker.add(_file(f"f{i}.py", 30)) for i in range(7)]
    full = [batch for batch in out if batch is not None]
    rest = list(chunker.flush())
    assert [len(b.files) for b in full] == [3, 3]
    assert all(b.size_bytes <= 100 for b in full)
    assert [len(b.files) for b in rest] == [1]


def test_every_file_lands_in_exactly_one_batch() -> None:
    chunker = Chunker("run", max_bytes=1000, max_files=4)
    names = [f"f{i}.py" for i in range(23)]
    batches = [b for b in (chunker.add(_file(n, 100 + i * 13)) for i, n in enumerate(names)) if b is not None]
    batches += list(chunker.flush())
    placed = [f.ref.path for b in batches for f in b.files]
    assert sorted(placed) == sorted(names)
    assert all(len(b.files) <= 4 for b in batches)


def test_oversized_file_travels_alone() -> None:
    chunker = Chunker("run", max_bytes=100, max_files=50)
    assert chunker.add(_file("small.py", 10)) is None
    first = chunker.add(_file("huge.py", 500))
    assert first is not None and [f.ref.path for f in first.files] == ["small.py"]
    second = chunker.add(_file("next.py", 10))
    assert second is not None and [f.ref.path for f in second.files] == ["huge.py"]


def test_languages_never_share_a_batch_and_ids_are_unique() -> None:
    chunker = Chunker("r1", max_bytes=50, max_files=50)
    batches = []
    for i in range(10):
        for language in ("python", "go", "rust"):
            batch = chunker.add(_file(f"f{i}", 20, language))
            if batch is not None:
                batches.append(batch)
    batches += list(chunker.flush())
    assert all(len({f.ref.language for f in b.files}) == 1 and b.language == b.files[0].ref.language for b in batches)
    ids = [b.batch_id for b in batches]
    assert len(ids) == len(set(ids)) and all(i.startswith("r1:") for i in ids)
    assert sum(len(b.files) for b in batches) == 30


def test_time_sized_batches_follow_each_languages_rate() -> None:
    sizer = BatchSizer(fixed_bytes=256 * 1024, target_ms=50, rates={"python": 2_000_000, "go": 4_000_000})
    assert sizer.max_bytes("python") == 100_000  # 50 ms at 2 MB/s
    assert sizer.max_bytes("go") == 200_000
    assert sizer.max_bytes("rust") == 256 * 1024  # no estimate yet: bytes
    chunker = Chunker("run", max_bytes=256 * 1024, max_files=500, sizer=sizer)
    out = [chunker.add(_file(f"f{i}.py", 30_000)) for i in range(10)]
    full = [batch for batch in out if batch is not None]
    assert [len(batch.files) for batch in full] == [3, 3, 3]  # 90 KB each, a fourth file would pass 100 KB


def test_time_sized_bytes_stay_within_bounds_and_a_target_of_zero_is_fixed() -> None:
    slow = BatchSizer(fixed_bytes=100_000, target_ms=50, rates={"python": 10.0, "go": 1e12})
    assert slow.max_bytes("python") == MIN_SIZED_BYTES
    assert slow.max_bytes("go") == 100_000  # a fast host keeps the fixed size, never more
    fixed = BatchSizer(fixed_bytes=100_000, target_ms=0, rates={"python": 2_000_000})
    assert fixed.max_bytes("python") == 100_000


def test_a_file_predicted_longer_than_the_target_goes_alone() -> None:
    sizer = BatchSizer(fixed_bytes=256 * 1024, target_ms=50, rates={"python": 1_000_000})  # 50 KB per batch
    chunker = Chunker("run", max_bytes=256 * 1024, max_files=500, sizer=sizer)
    assert chunker.add(_file("small.py", 10_000)) is None
    before = chunker.add(_file("big.py", 80_000))  # 80 ms predicted
    assert before is not None and [f.ref.path for f in before.files] == ["small.py"]
    rest = list(chunker.flush())
    assert [[f.ref.path for f in batch.files] for batch in rest] == [["big.py"]]


def test_a_group_starts_a_batch_of_its_own_when_it_would_not_fit_whole() -> None:
    chunker = Chunker("run", max_bytes=100, max_files=50)
    assert chunker.add(_file("a.py", 40)) is None
    versions = [_file("m.py", 20) for _ in range(4)]  # 80 bytes: not with a.py's 40
    full = chunker.add_group(versions)
    assert [[item.ref.path for item in batch.files] for batch in full] == [["a.py"]]
    rest = list(chunker.flush())
    assert [[item.ref.path for item in batch.files] for batch in rest] == [["m.py"] * 4]  # together, in order
    big = chunker.add_group([_file("big.py", 60) for _ in range(3)])  # larger than a batch: still splits
    assert [len(batch.files) for batch in big] == [1, 1]
    assert chunker.add_group([]) == []
