from parsefleet.contract.batch import BatchFile, FileRef
from parsefleet.producer.chunk import Chunker


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
