"""``parsefleet``: parse options, build settings, call one function in parsefleet.commands, exit.

Exit codes: 0 done; 1 the run finished with failed files under --strict, or did not finish;
2 bad input or configuration; 3 a service is unavailable; 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from common.errors import (
    ConfigError,
    CorpusError,
    InputError,
    ParsefleetError,
    RunNotFound,
    ServiceUnavailable,
)
from common.languages import LANGUAGES
from common.settings import Settings
from parsefleet import __version__, commands
from parsefleet.report import RunReport, render
from parsefleet.telemetry import record_cli_run

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "EXIT_OK", "EXIT_SERVICE", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_SERVICE = 3
EXIT_INTERRUPTED = 130
# Commands whose duration and exit code go to cli_runs / cli_cmd_duration_ms (not the long-lived
# worker, nor bench and parity, which measure themselves).
_RECORDED = frozenset({"run", "submit", "status", "report", "db"})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``parsefleet`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("PARSEFLEET_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env(redis_url=args.redis_url, database_url=args.database_url, data_dir=args.data_dir)
    except ParsefleetError as exc:
        print(f"parsefleet: error: {exc}", file=sys.stderr)
        return _exit_code(exc)
    started = time.perf_counter()
    code = _handle(settings, args)
    if args.command in _RECORDED:
        record_cli_run(settings, args.command, (time.perf_counter() - started) * 1000, code, ci=_ci(args))
    return code


def _handle(settings: Settings, args: argparse.Namespace) -> int:
    try:
        code: int = args.handler(settings, args)
    except KeyboardInterrupt:
        print("parsefleet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ParsefleetError as exc:
        print(f"parsefleet: error: {exc}", file=sys.stderr)
        return _exit_code(exc)
    return code


def _exit_code(exc: ParsefleetError) -> int:
    if isinstance(exc, ServiceUnavailable):
        return EXIT_SERVICE
    if isinstance(exc, InputError | ConfigError | RunNotFound | CorpusError):
        return EXIT_INPUT
    return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parsefleet", description="A distributed parse job queue.")
    parser.add_argument("--version", action="version", version=f"parsefleet {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--redis-url", help="Redis URL (env PARSEFLEET_REDIS_URL; default: embedded)")
    common.add_argument("--database-url", help="PostgreSQL URL (env PARSEFLEET_DATABASE_URL; default: embedded)")
    common.add_argument(
        "--data-dir", type=Path, help="data directory of the embedded services (env PARSEFLEET_DATA_DIR)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub, common)
    _add_submit(sub, common)
    _add_worker(sub, common)
    _add_status(sub, common)
    _add_report(sub, common)
    _add_bench(sub, common)
    _add_alerts(sub, common)
    _add_parity(sub, common)
    db = sub.add_parser("db", help="database administration").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", parents=[common], help="apply pending schema migrations").set_defaults(handler=_db_migrate)
    retention = db.add_parser("retention", parents=[common], help="drop measurements older than --keep")
    retention.add_argument("--keep", default="72h", help="window to keep: 90m, 72h, 3d (default 72h)")
    retention.set_defaults(handler=_db_retention)
    return parser


def _run_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-progress", action="store_true", help="no live progress line")
    command.add_argument("--json", metavar="FILE", help="also write the report as JSON ('-' for stdout)")
    command.add_argument("--strict", action="store_true", help="exit 1 when any file failed")
    command.add_argument("--ci", action="store_true", default=None, help="count this as a CI run (default: $CI)")


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser(
        "run", parents=[common], help="the main job: start services and workers, submit, wait, report"
    )
    command.add_argument("targets", nargs="*", type=Path, help="repositories (default: the current directory)")
    command.add_argument("--workers", type=int, default=1, help="local worker processes (each one pool per CPU)")
    _run_options(command)
    command.set_defaults(handler=_run)


def _add_submit(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("submit", parents=[common], help="submit repositories to running workers")
    command.add_argument("targets", nargs="+", type=Path, help="repositories to parse")
    command.add_argument("--wait", action="store_true", help="wait for the run to finish and print its report")
    _run_options(command)
    command.set_defaults(handler=_submit)


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("worker", parents=[common], help="run a Celery parse worker (extra args go to celery)")
    command.add_argument("celery_args", nargs=argparse.REMAINDER, help="celery worker options, e.g. --concurrency 2")
    command.set_defaults(handler=_worker)


def _add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("status", parents=[common], help="queue depths, dead letters, latest runs")
    command.add_argument("--limit", type=int, default=5, help="runs to show")
    command.add_argument("--json", action="store_true", help="print JSON")
    command.set_defaults(handler=_status)


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("report", parents=[common], help="the report of a run")
    command.add_argument("run_id", nargs="?", help="run id (default: the latest run)")
    command.add_argument("--json", action="store_true", help="print JSON")
    command.set_defaults(handler=_report)


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("bench", parents=[common], help="measure the fleet against the machine's limit")
    command.add_argument("--profile", default="ts2-200", help="ts2-200, large (from `make corpus`) or tiny")
    command.add_argument("--corpus-dir", type=Path, default=Path("corpus"), help="where `make corpus` wrote")
    command.add_argument("--workers", type=int, help="pool processes per worker (default: one per CPU)")
    command.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    command.add_argument("--max-rss-mb", type=float, default=450.0, help="memory floor; breaking it exits 1")
    command.set_defaults(handler=_bench)


def _add_parity(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("parity", parents=[common], help="compare tree-sitter outlines with a reference parser")
    command.add_argument("corpus", type=Path, help="directory of source files (searched recursively)")
    command.add_argument(
        "--language", action="append", choices=LANGUAGES, help="language to compare (repeatable; default: all)"
    )
    command.add_argument("--json", metavar="FILE", help="also write the report as JSON ('-' for stdout)")
    command.add_argument("--show", type=int, default=5, help="examples shown per disagreement cause")
    command.add_argument(
        "--min-agreement", type=float, default=0.995, help="exit 1 when a compared language agrees less"
    )
    command.set_defaults(handler=_parity)


def _add_alerts(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    alerts = sub.add_parser("alerts", help="alert rules").add_subparsers(dest="alerts_command", required=True)
    check = alerts.add_parser("check", parents=[common], help="evaluate the alert rules; exit 1 when one fires")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=_alerts_check)


def _ci(args: argparse.Namespace) -> bool:
    flag = getattr(args, "ci", None)
    return bool(flag) if flag is not None else os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _finish(report: RunReport, args: argparse.Namespace) -> int:
    print(render(report))
    if args.json:
        commands.write_json(report.as_dict(), args.json)
    if not report.state.finished:
        return EXIT_FAILED
    failed = sum(item.failed for item in report.languages)
    return EXIT_FAILED if args.strict and failed else EXIT_OK


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ConfigError("--workers must be 1 or more")
    targets = args.targets or [Path.cwd()]
    report = commands.run(settings, targets, workers=args.workers, progress=not args.no_progress, ci=_ci(args))
    return _finish(report, args)


def _submit(settings: Settings, args: argparse.Namespace) -> int:
    report = commands.submit(settings, args.targets, wait=args.wait, progress=not args.no_progress, ci=_ci(args))
    if not args.wait:
        print(f"submitted run {report.state.run_id}: {report.state.batches_total} batches")
        return EXIT_OK
    return _finish(report, args)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    celery_args = args.celery_args[1:] if args.celery_args[:1] == ["--"] else args.celery_args
    return commands.worker(settings, celery_args)


def _status(settings: Settings, args: argparse.Namespace) -> int:
    fleet = commands.status(settings, args.limit)
    if args.json:
        commands.write_json(fleet.as_dict(), "-")
    else:
        print(fleet.render())
    return EXIT_OK


def _report(settings: Settings, args: argparse.Namespace) -> int:
    report = commands.report(settings, args.run_id)
    if args.json:
        commands.write_json(report.as_dict(), "-")
    else:
        print(render(report))
    return EXIT_OK


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from parsefleet.bench.runner import Floors, run_bench
    from parsefleet.bench.table import render as render_bench

    if args.workers is not None:
        settings = replace(settings, worker_concurrency=args.workers).validated()
    floors = Floors(max_rss_mb=args.max_rss_mb, max_cpu_share=settings.cpu_limit_pct / 100)
    result = run_bench(settings, args.profile, args.corpus_dir, floors)
    print(render_bench(result))
    if args.json:
        commands.write_json(result.as_dict(), args.json)
    return EXIT_FAILED if result.breaches else EXIT_OK


def _parity(_settings: Settings, args: argparse.Namespace) -> int:
    from workers.languages.parity import compare_corpus
    from workers.languages.parity import render as render_parity

    report = compare_corpus(args.corpus, args.language or LANGUAGES)
    print(render_parity(report, max(args.show, 0)))
    if args.json:
        commands.write_json(report.as_dict(), args.json)
    return EXIT_OK if report.passes(args.min_agreement) else EXIT_FAILED


def _db_retention(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.retention import parse_window

    done = commands.db_retention(settings, parse_window(args.keep))
    print(f"retention ({done.method}, keep {args.keep}): " + ", ".join(f"{t} {n}" for t, n in done.removed.items()))
    return EXIT_OK


def _alerts_check(settings: Settings, args: argparse.Namespace) -> int:
    found = commands.alerts(settings)
    if args.json:
        commands.write_json([alert.as_dict() for alert in found], "-")
    for alert in [] if args.json else found:
        value = "no data" if alert.value is None else f"{alert.value:g}"
        print(f"{'FIRING' if alert.firing else 'ok':<7}{alert.name} {alert.threshold:g}: {value}")
    return EXIT_FAILED if any(alert.firing for alert in found) else EXIT_OK


def _db_migrate(settings: Settings, args: argparse.Namespace) -> int:
    applied = commands.db_migrate(settings)
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
