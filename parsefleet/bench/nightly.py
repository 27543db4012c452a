"""``parsefleet bench --profile nightly``: what a nightly run costs when little changed.

1. The ``large`` corpus and the ``nightly`` one beside it (parsefleet.bench.corpus: 11,259 distinct
   files together; ``large`` alone, or the tiny stand-in, when they are not built) are committed
   into a fresh git repository (commit A); a second commit (B) changes 1% of its files (a comment
   appended), deletes 0.5% and renames 0.5% (same content, new path), chosen with a fixed seed.
   The runs index a bare mirror of it, as an indexing service does: its branch at A, then pushed
   to B.
2. On a scratch database, side by side in this invocation: a full run of A (every blob new), end to
   end; a run of A again with nothing changed, timed in the producer alone (listing, comparing with
   the store, recording; it reads no file content); a run of B, end to end: git's changes since A,
   only the changed blobs sent.
3. Checked, not only timed: B's run sends exactly the changed files, and the store's current view
   of the repository is then B's tree (``git ls-tree``), file by file.

End to end is the producer's listing before the run starts plus the run's own time (its start to
its last batch committed, on the database's clock: parsefleet.bench.fleet).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from parsefleet.bench.corpus import MANIFEST_NAME
from parsefleet.bench.corpus_files import BenchFile, load_profile
from parsefleet.bench.fleet import FleetRun, fleet_run
from parsefleet.bench.runner import warmup_repo
from parsefleet.contract.errors import CorpusError
from parsefleet.contract.paths import to_text
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.database import session, sql
from parsefleet.plumbing.migrations import scratch_database
from parsefleet.producer.git import Git
from parsefleet.producer.snapshot import plan_targets
from parsefleet.producer.submission import Submission
from parsefleet.producer.targets import planned
from parsefleet.producer.tree import open_repository
from parsefleet.producer.walk import VENDORED_DIRS, is_generated
from parsefleet.services.endpoints import Services

__all__ = ["NightlyResult", "render", "run_nightly"]

_SEED = 20261203
_CHANGED, _DELETED, _RENAMED = 0.01, 0.005, 0.005
_HERE = Path(__file__).parent
_IDENTITY = ("-c", "user.name=parsefleet-bench", "-c", "user.email=bench@parsefleet.invalid")
_BRANCH = "main"
_COMMENT = {"python": b"\n# changed tonight\n", "go": b"\n// changed tonight\n", "rust": b"\n// changed tonight\n"}


@dataclass(frozen=True)
class NightlyResult:
    """What the nightly profile measured (seconds), and what it checked."""

    corpus: str
    files: int
    changed: int
    deleted: int
    renamed: int
    full_s: float
    unchanged_producer_s: float
    unchanged_sent: int
    incremental_s: float
    incremental_sent: int
    view_matches: bool
    full_listing_s: float = 0.0  # of full_s: the producer before the run starts (listing, connecting)
    incremental_listing_s: float = 0.0  # of incremental_s: the same

    @property
    def checks_hold(self) -> bool:
        """Nothing sent when nothing changed, exactly the changed blobs sent (the renamed ones are
        known), and the current view is the next commit's tree."""
        return self.view_matches and self.unchanged_sent == 0 and self.incremental_sent == self.changed

    @property
    def ratio(self) -> float:
        """The 1% run's end-to-end time over the full run's."""
        return self.incremental_s / self.full_s if self.full_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {**asdict(self), "ratio": self.ratio}


def run_nightly(settings: Settings, corpus_dir: Path) -> NightlyResult:
    """Build the repository, run the three runs, check them (module docstring)."""
    with tempfile.TemporaryDirectory(prefix="parsefleet-bench-nightly-") as scratch_dir:
        scratch = Path(scratch_dir)
        sources = [load_profile("large", corpus_dir, scratch)]
        if (corpus_dir / "nightly" / MANIFEST_NAME).exists():
            sources.append(load_profile("nightly", corpus_dir, scratch))
        repo, mirror = scratch / "repo", scratch / "mirror.git"
        first, second, counts = _history(sources, repo)
        _mirror(repo, mirror, first)
        warmup = warmup_repo(scratch)
        with Services(settings) as services, scratch_database(services.database_url, "parsefleet_bench_nightly") as url:

            def measured(name: str) -> FleetRun:
                log_dir = scratch / f"logs-{name}"
                return fleet_run(settings, services.redis_url, url, mirror, warmup=warmup, log_dir=log_dir)

            full = measured("full")
            started = time.perf_counter()
            unchanged = Submission(settings, services.redis_url, url).run(
                planned(plan_targets([mirror], settings), settings)
            )
            unchanged_s = time.perf_counter() - started
            _push(repo, mirror, second)  # the mirror's update before the next night
            incremental = measured("incremental")
            sent = _last_run_sent(url)
            matches = _view_is_tree(url, plan_targets([mirror], settings)[0].name, mirror, second)
    return NightlyResult(
        corpus="+".join(root.name for root, _files in sources),
        files=sum(len(files) for _root, files in sources),
        changed=counts[0],
        deleted=counts[1],
        renamed=counts[2],
        full_s=full.seconds + full.listing_s,
        unchanged_producer_s=unchanged_s,
        unchanged_sent=sum(unchanged.sent.values()),
        incremental_s=incremental.seconds + incremental.listing_s,
        incremental_sent=sent,
        view_matches=matches,
        full_listing_s=full.listing_s,
        incremental_listing_s=incremental.listing_s,
    )


def render(result: NightlyResult) -> str:
    """The figures as text."""
    verdict = "matches" if result.view_matches else "DOES NOT MATCH"
    return "\n".join(
        [
            f"nightly on {result.corpus}: {result.files} files committed; the next commit changes {result.changed},"
            f" deletes {result.deleted}, renames {result.renamed}",
            f"  full run (every blob new), end to end:     {result.full_s:8.2f} s"
            f"  (listing before the run: {result.full_listing_s:.2f} s)",
            f"  nothing changed, producer time:            {result.unchanged_producer_s:8.3f} s"
            f"  ({result.unchanged_sent} blobs sent)",
            f"  the next commit, end to end:               {result.incremental_s:8.2f} s"
            f"  ({result.incremental_sent} blobs sent; listing before the run: {result.incremental_listing_s:.2f} s)",
            f"  next commit / full: {result.ratio:.2%}; the store's current view {verdict} the commit's tree;"
            f" {'exactly the' if result.incremental_sent == result.changed else 'NOT only the'} changed blobs sent",
        ]
    )


def _history(sources: Sequence[tuple[Path, Sequence[BenchFile]]], repo: Path) -> tuple[str, str, tuple[int, int, int]]:
    """Commit the files of each corpus of ``sources`` (paths relative to the corpus) into ``repo``,
    then the second commit; both ids and the counts changed, deleted, renamed."""
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    relative = []
    for corpus, files in sources:
        for item in files:
            name = item.path.relative_to(_root_of(item.path, corpus))
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_bytes(item.content)
            relative.append((name, item.language))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "the corpus")
    first = _git(repo, "rev-parse", "HEAD").strip()
    pick = random.Random(_SEED).sample(range(len(relative)), len(relative))
    changed, deleted, renamed = (max(1, round(len(relative) * share)) for share in (_CHANGED, _DELETED, _RENAMED))
    for index in pick[:changed]:
        name, language = relative[index]
        with (repo / name).open("ab") as out:
            out.write(_COMMENT[language])
    for index in pick[changed : changed + deleted]:
        _git(repo, "rm", "-q", str(relative[index][0]))
    for index in pick[changed + deleted : changed + deleted + renamed]:
        name = relative[index][0]
        _git(repo, "mv", str(name), str(name.with_name("renamed_" + name.name)))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "tonight's change")
    return first, _git(repo, "rev-parse", "HEAD").strip(), (changed, deleted, renamed)


def _mirror(repo: Path, mirror: Path, commit: str) -> None:
    """A bare repository at ``mirror`` whose branch (its HEAD) is at ``commit``: what an indexing
    service keeps and updates before each nightly run (docs/operations.md, "Nightly runs")."""
    bare = Git(mirror, None, mirror.parent)
    for done in (bare.run("init", "-q", "--bare"), bare.run("symbolic-ref", "HEAD", f"refs/heads/{_BRANCH}")):
        if done is None or done.returncode != 0:
            raise CorpusError(f"the nightly bench cannot make its mirror {mirror}")
    _push(repo, mirror, commit)


def _push(repo: Path, mirror: Path, commit: str) -> None:
    """``commit`` to the mirror's branch (a local push: the bench's own repositories, so the file
    transport, off for targets, is allowed here)."""
    _git(repo, "-c", "protocol.file.allow=always", "push", "-q", str(mirror), f"+{commit}:refs/heads/{_BRANCH}")


def _root_of(path: Path, corpus: Path) -> Path:
    if path.is_relative_to(corpus):
        return corpus
    for parent in path.parents:
        if parent.name == "tiny":
            return parent
    raise CorpusError(f"{path} is under no corpus directory")


def _git(repo: Path, *args: str) -> str:
    """git on the bench's own repository (built here), through parsefleet.producer.git as all git is."""
    done = Git(repo / ".git", repo, repo).run(*_IDENTITY, *args)
    if done is None or done.returncode != 0:
        why = "git did not start" if done is None else done.stderr.decode(errors="replace").strip()
        raise CorpusError(f"git {args[0]} failed in the nightly bench: {why}")
    return done.stdout.decode()


def _last_run_sent(database_url: str) -> int:
    with session(database_url) as conn:
        row = conn.execute(sql(_HERE, "last_run_sent")).fetchone()
        conn.commit()
    return 0 if row is None else int(str(row[0]))


def _view_is_tree(database_url: str, name: str, repo: Path, commit: str) -> bool:
    """Whether the store's current view of the repository ``name`` is ``commit``'s tree (of the git
    repository ``repo``), file by file: each stored file with the commit's blob, and each file of the
    commit stored unless a rule skips it (vendored, generated, not a regular file)."""
    repository = open_repository(repo)
    if repository is None:
        return False
    tree = {to_text(entry.path): entry for entry in repository.tree(commit)}
    with session(database_url) as conn:
        rows = conn.execute(sql(_HERE, "repository_view"), {"root": name}).fetchall()
        conn.commit()
    view = {str(path): bytes(blob) for path, blob in rows if isinstance(blob, bytes | memoryview)}
    if any(path not in tree or tree[path].blob != blob for path, blob in view.items()):
        return False
    missing = [entry for path, entry in tree.items() if path not in view]
    contents = repository.contents(entry.blob for entry in missing)
    return all(
        entry.skip is not None
        or VENDORED_DIRS.intersection(entry.path.split("/")[:-1])
        or is_generated(contents.get(entry.blob, b""))
        for entry in missing
    )
