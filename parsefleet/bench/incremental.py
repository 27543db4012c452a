"""``parsefleet bench --profile history``: what incremental parsing would save in history mode.

Over the last ``COMMITS`` first-parent commits of a real repository (``--repository``, default the
current directory: this repository's own history when run from a checkout or a mirror), every file that
a commit modified is outlined twice from its previous version's tree: as a worker does today (a
full parse, then the outline's extraction), and incrementally (``Tree.edit`` once per changed run
of lines, as difflib finds them: parsefleet.workers.languages.edits, then ``parse(new, old_tree)``,
then the same extraction). Both outlines must be equal, file by file, version by version. The saving
is the parse time saved over the whole outline time (parse + extraction), since extraction costs the
same either way. Then history mode itself runs end to end, ``--history COMMITS`` of the same
repository through the fleet, each on a fresh database: with the workers re-parsing as configured
(``reparse_languages``, Python by default: each file's versions travel in one batch, in commit
order) and with re-parsing off (``PARSEFLEET_REPARSE_LANGUAGES=""``), alternated, twice each.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from parsefleet.bench.fleet import fleet_run
from parsefleet.bench.runner import warmup_repo
from parsefleet.contract.errors import CorpusError
from parsefleet.contract.languages import language_for
from parsefleet.contract.settings import Settings
from parsefleet.plumbing.migrations import scratch_database
from parsefleet.producer.tree import GitRepository, open_repository
from parsefleet.services.endpoints import Services
from parsefleet.workers.languages import adapter_for
from parsefleet.workers.languages.edits import edits
from parsefleet.workers.limits import ParseBudget

__all__ = ["COMMITS", "HistoryResult", "LanguageSaving", "render", "run_history"]

COMMITS = 50
_BUDGET_S = 60.0
_OFF = {"PARSEFLEET_REPARSE_LANGUAGES": ""}
_ROUNDS = ("on", "off", "off", "on")  # alternated: a load that drifts weighs on both alike


@dataclass
class LanguageSaving:
    """One language's modified file versions, timed both ways (seconds, summed)."""

    versions: int = 0
    full_parse_s: float = 0.0
    incremental_parse_s: float = 0.0
    extract_s: float = 0.0
    equal: int = 0  # versions whose incremental outline equals the full one

    @property
    def saved_share(self) -> float:
        """Parse time saved over the whole outline time of a full parse."""
        whole = self.full_parse_s + self.extract_s
        return (self.full_parse_s - self.incremental_parse_s) / whole if whole else 0.0


@dataclass
class HistoryResult:
    """What the history profile measured."""

    repository: str
    commits: int
    languages: dict[str, LanguageSaving] = field(default_factory=dict)
    history_s: float = 0.0  # --history COMMITS end to end (listing before the run included), re-parsing on
    history_files: int = 0  # files the history run parsed
    history_runs_s: dict[str, list[float]] = field(default_factory=dict)  # "on"/"off": each run's seconds
    reparsed_languages: str = ""  # the workers' reparse_languages in the "on" runs

    @property
    def history_saved_share(self) -> float:
        """End to end: the share of the re-parse-off time that re-parsing saved (median runs)."""
        on, off = self.history_runs_s.get("on"), self.history_runs_s.get("off")
        if not on or not off:
            return 0.0
        return 1 - statistics.median(on) / statistics.median(off)

    @property
    def all_equal(self) -> bool:
        """Whether every incremental outline equals its full parse's."""
        return all(item.equal == item.versions for item in self.languages.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            **asdict(self),
            "all_equal": self.all_equal,
            "saved_share": {lang: item.saved_share for lang, item in self.languages.items()},
            "history_saved_share": self.history_saved_share,
        }


def run_history(settings: Settings, root: Path, *, commits: int = COMMITS) -> HistoryResult:
    """Measure the repository holding ``root`` (module docstring)."""
    repository = open_repository(root)
    if repository is None:
        raise CorpusError(f"{root}: the history profile needs a git repository (--repository)")
    history = repository.history(repository.resolve("HEAD"), count=commits + 1)
    result = HistoryResult(str(repository.root), len(history) - 1, reparsed_languages=settings.reparse_languages)
    for older, newer in itertools.pairwise(history):
        _measure_pair(repository, older, newer, result.languages)
    with tempfile.TemporaryDirectory(prefix="parsefleet-bench-history-") as scratch_dir:
        scratch = Path(scratch_dir)
        warmup = warmup_repo(scratch)
        with Services(settings) as services:
            for index, mode in enumerate(_ROUNDS):
                with scratch_database(services.database_url, "parsefleet_bench_history") as url:
                    env = _OFF if mode == "off" else None
                    run = fleet_run(
                        settings, services.redis_url, url, repository.root, warmup=warmup,
                        log_dir=scratch / f"logs-{index}", history=len(history) - 1, env=env,
                    )  # fmt: skip
                result.history_runs_s.setdefault(mode, []).append(run.seconds + run.listing_s)
                result.history_files = sum(int(row["files"]) for row in run.languages)
    result.history_s = statistics.median(result.history_runs_s["on"])
    return result


def _measure_pair(repository: GitRepository, older: str, newer: str, languages: dict[str, LanguageSaving]) -> None:
    changes = repository.changes(older, newer) or []
    modified = [change for change in changes if change.kind == "M" and change.entry is not None]
    if not modified:
        return
    old_tree = {entry.path: entry.blob for entry in repository.tree(older)}
    wanted = [(change.path, old_tree.get(change.path), change.entry.blob) for change in modified if change.entry]
    contents = repository.contents(blob for _path, old, new in wanted for blob in (old, new) if blob is not None)
    for path, old, new in wanted:
        language = language_for(path)
        if language is None or old is None or old not in contents or new not in contents:
            continue
        _measure_file(language, contents[old], contents[new], languages.setdefault(language, LanguageSaving()))


def _measure_file(language: str, old: bytes, new: bytes, saving: LanguageSaving) -> None:
    adapter = adapter_for(language)
    budget = ParseBudget(_BUDGET_S)
    previous = adapter.parse(old, budget)
    started = time.perf_counter()
    full_tree = adapter.parse(new, budget)
    full_s = time.perf_counter() - started
    started = time.perf_counter()
    full = adapter.extract(full_tree, new)
    extract_s = time.perf_counter() - started
    started = time.perf_counter()
    for edit in edits(old, new):
        edit.apply(previous)
    incremental_tree = adapter.parser.parse(new, previous)
    incremental_s = time.perf_counter() - started
    adapter.parser.reset()
    incremental = adapter.extract(incremental_tree, new)
    saving.versions += 1
    saving.full_parse_s += full_s
    saving.incremental_parse_s += incremental_s
    saving.extract_s += extract_s
    saving.equal += int(incremental == full)


def render(result: HistoryResult) -> str:
    """The figures as text."""
    lines = [f"history of {result.repository}: the last {result.commits} commits, each modified file outlined twice"]
    by_language: dict[str, LanguageSaving] = defaultdict(LanguageSaving, result.languages)
    for language in sorted(by_language):
        item = by_language[language]
        lines.append(
            f"  {language:<7} {item.versions:>5} versions  full parse {item.full_parse_s * 1000:8.1f} ms"
            f"  incremental {item.incremental_parse_s * 1000:8.1f} ms  extraction {item.extract_s * 1000:8.1f} ms"
            f"  saved {item.saved_share:6.1%} of the outline time  outlines equal {item.equal}/{item.versions}"
        )
    runs = {mode: ", ".join(f"{seconds:.2f}" for seconds in times) for mode, times in result.history_runs_s.items()}
    lines.append(
        f"  --history {result.commits} end to end, {result.history_files} files parsed:"
        f" re-parsing {result.reparsed_languages or 'nothing'} {runs.get('on', '-')} s,"
        f" re-parsing off {runs.get('off', '-')} s: saved {result.history_saved_share:.1%} (medians)"
    )
    return "\n".join(lines)
