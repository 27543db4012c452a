"""``parsefleet``: parse options, build settings, call one function in parsefleet.cli.commands, exit.

Exit codes: 0 done; 1 the run finished with failed files under --strict, or did not finish;
2 bad input or configuration; 3 a service is unavailable; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from parsefleet import __version__
from parsefleet.cli import commands, interrupts
from parsefleet.cli.index_commands import add_db_commands, add_index_commands
from parsefleet.cli.service_commands import add_service_commands
from parsefleet.contract.errors import (
    ConfigError,
    CorpusError,
    DeadLetterNotFound,
    InputError,
    ParsefleetError,
    RolloutNotFound,
    RunNotFound,
    ServiceUnavailable,
)
from parsefleet.contract.languages import LANGUAGES
from parsefleet.contract.names import ADVISED_WORKERS_KEY, METRIC_ADVISED_WORKERS, TELEMETRY_FLAG
from parsefleet.contract.settings import Settings
from parsefleet.reading.report import FILE_STATUSES, RunReport, render, render_files, render_repositories
from parsefleet.telemetry import rollout
from parsefleet.telemetry.cli_runs import record_cli_run

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "EXIT_INVALID", "EXIT_OK", "EXIT_SERVICE", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_SERVICE = 3
EXIT_INVALID = 4  # `parsefleet bench`: the measurement cannot be trusted (parsefleet.bench.validity)
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer whose reader went away
EXIT_INTERRUPTED = 130
# Commands whose duration and exit code go to cli_runs / cli_cmd_duration_ms (not the long-lived
# worker and console, nor bench and parity, which measure themselves).
_RECORDED = frozenset(
    {
        "run",
        "submit",
        "reindex",
        "status",
        "report",
        "cancel",
        "db",
        "find",
        "outline",
        "tags",
        "scale",
        "pause",
        "resume",
    }
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``parsefleet`` console script: nothing parsefleet creates is for other
    local users to read (umask 077), and a signal ends the command cleanly (cli.interrupts); both
    as they were again on return."""
    umask = os.umask(0o077)
    try:
        with interrupts.installed():
            return _main(argv)
    finally:
        os.umask(umask)


def _main(argv: Sequence[str] | None) -> int:
    started = time.perf_counter()
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(redis_url=args.redis_url, database_url=args.database_url, data_dir=args.data_dir)
    except ParsefleetError as exc:
        print(f"parsefleet: error: {exc}", file=sys.stderr)
        return _exit_code(exc)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        code = _handle(settings, args)
    except BrokenPipeError:  # stdout closed early (| head): not an error of ours, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    if args.command in _RECORDED:
        record_cli_run(settings, args.command, (time.perf_counter() - started) * 1000, code, ci=_ci(args))
    return code


def _handle(settings: Settings, args: argparse.Namespace) -> int:
    try:
        code: int = args.handler(settings, args)
    except KeyboardInterrupt as exc:
        interrupts.caught()
        print(f"parsefleet: interrupted ({exc})" if str(exc) else "parsefleet: interrupted", file=sys.stderr)
        return interrupts.exit_code(exc)
    except ParsefleetError as exc:
        print(f"parsefleet: error: {exc}", file=sys.stderr)
        return _exit_code(exc)
    return code


def _exit_code(exc: ParsefleetError) -> int:
    if isinstance(exc, ServiceUnavailable):
        return EXIT_SERVICE
    if isinstance(exc, InputError | ConfigError | RunNotFound | CorpusError | DeadLetterNotFound | RolloutNotFound):
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
    _add_reindex(sub, common)
    _add_worker(sub, common)
    _add_status(sub, common)
    _add_operations(sub, common)
    _add_report(sub, common)
    _add_cancel(sub, common)
    _add_config(sub, common)
    _add_bench(sub, common)
    _add_alerts(sub, common)
    _add_flag(sub, common)
    _add_telemetry(sub, common)
    _add_dead_letter(sub, common)
    _add_parity(sub, common)
    add_index_commands(sub, common)
    add_service_commands(sub, common)
    db = sub.add_parser("db", help="database administration").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", parents=[common], help="apply pending schema migrations").set_defaults(handler=_db_migrate)
    retention = db.add_parser("retention", parents=[common], help="drop measurements older than --keep")
    retention.add_argument("--keep", default="72h", help="window to keep: 90m, 72h, 3d (default 72h)")
    retention.set_defaults(handler=_db_retention)
    add_db_commands(db, common)
    return parser


def _run_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--from",
        dest="from_files",
        action="append",
        default=[],
        metavar="FILE",
        help="also the targets listed in FILE, one a line ('-': standard input; # comments)",
    )
    command.add_argument(
        "--resume", metavar="RUN_ID", help="go on with a run whose producer stopped (killed), instead of new targets"
    )
    command.add_argument(
        "--rev",
        help="the commit to index from each git repository (branch, tag, id; default: HEAD of a clean work tree)",
    )
    command.add_argument(
        "--name", help="the repository's name in the index (one target; default: a mirror's origin URL, else its path)"
    )
    history = command.add_mutually_exclusive_group()
    history.add_argument("--history", type=int, metavar="N", help="index each of the last N commits, oldest first")
    history.add_argument("--since", metavar="COMMIT", help="index each commit after COMMIT, oldest first")
    command.add_argument(
        "--priority",
        type=int,
        default=0,
        metavar="N",
        help="against other runs sending at the same time: a run outranked by a higher N keeps to a quarter of"
        " the pending-bytes budget (default 0)",
    )
    command.add_argument("--no-progress", action="store_true", help="no live progress line")
    command.add_argument("--json", metavar="FILE", help="also write the report as JSON ('-' for stdout)")
    command.add_argument(
        "--strict", action="store_true", help="exit 1 when any file or target failed; a bad --from line fails at once"
    )
    command.add_argument("--ci", action="store_true", default=None, help="count this as a CI run (default: $CI)")
    command.add_argument(
        "--retry-crashed",
        action="store_true",
        help="send again files that killed a worker before (default: skipped as crashed-before)",
    )
    command.add_argument(
        "--follow-hardlinks",
        action="store_true",
        help="read files that have more than one hard link (default: skipped as hardlink; docs/security.md)",
    )
    command.add_argument(
        "--include-vendored",
        action="store_true",
        help="parse vendor/, node_modules/ and third_party/ (default: skipped as vendored)",
    )


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser(
        "run", parents=[common], help="the main job: start services and workers, submit, wait, report"
    )
    command.add_argument(
        "targets", nargs="*", type=Path, help="repositories (default: the current directory, unless --from)"
    )
    command.add_argument("--workers", type=int, default=1, help="local worker processes (each one pool per CPU)")
    _run_options(command)
    command.set_defaults(handler=_run)


def _add_reindex(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser(
        "reindex", parents=[common], help="parse again the blobs an older parser version outlined (parsefleet status)"
    )
    command.add_argument("--language", choices=LANGUAGES, help="only this language")
    command.add_argument("--repository", help="only this repository (its name, root, or last component)")
    command.add_argument("--wait", action="store_true", help="wait for the run to finish and print its report")
    command.add_argument("--no-progress", action="store_true", help="no live progress line")
    command.add_argument("--json", metavar="FILE", help="also write the report as JSON ('-' for stdout)")
    command.add_argument("--strict", action="store_true", help="exit 1 when any file failed")
    command.add_argument("--ci", action="store_true", default=None, help="count this as a CI run (default: $CI)")
    command.set_defaults(handler=_reindex, rev=None, name=None, history=None, since=None)


def _reindex(settings: Settings, args: argparse.Namespace) -> int:
    report = commands.reindex(settings, args.language, args.repository, _options(args, wait=args.wait))
    if report is None:
        print("nothing to reindex: every outline is of the parser version in use")
        return EXIT_OK
    if not args.wait:
        print(f"submitted run {report.state.run_id}: {report.state.batches_total} batches")
        return EXIT_OK
    return _finish(report, args)


def _add_submit(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("submit", parents=[common], help="submit repositories to running workers")
    command.add_argument("targets", nargs="*", type=Path, help="repositories to parse (and/or --from FILE)")
    command.add_argument("--wait", action="store_true", help="wait for the run to finish and print its report")
    _run_options(command)
    command.set_defaults(handler=_submit)


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("worker", parents=[common], help="run a Celery parse worker (extra args go to celery)")
    command.add_argument("celery_args", nargs=argparse.REMAINDER, help="celery worker options, e.g. --concurrency 2")
    command.set_defaults(handler=_worker)


def _add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser(
        "status", parents=[common], help="queues, workers (alive, stalled, gone), runs in flight, pause, dead letters"
    )
    command.add_argument("--limit", type=int, default=5, help="runs to show")
    command.add_argument("--json", action="store_true", help="print JSON (with --watch: one object a line)")
    command.add_argument(
        "--watch",
        nargs="?",
        const="2s",
        metavar="EVERY",
        help="refresh in place until Ctrl-C, every EVERY (default 2s)",
    )
    command.set_defaults(handler=_status)


def _add_operations(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    scale = sub.add_parser("scale", help="scaling the fleet").add_subparsers(dest="scale_command", required=True)
    advise = scale.add_parser(
        "advise", parents=[common], help="workers needed to drain the backlog within a target, with the arithmetic"
    )
    advise.add_argument("--drain-within", help="target: 90s, 30m, 2h (default: PARSEFLEET_DRAIN_WITHIN_S)")
    advise.add_argument("--export", action="store_true", help="also publish it to Redis and statsd for autoscalers")
    advise.add_argument("--json", action="store_true", help="print JSON")
    advise.set_defaults(handler=_scale_advise)
    pause = sub.add_parser("pause", parents=[common], help="stop intake fleet-wide: workers finish what they hold")
    pause.set_defaults(handler=_pause)
    resume = sub.add_parser("resume", parents=[common], help="let the workers take batches again")
    resume.set_defaults(handler=_resume)
    probe = sub.add_parser(
        "worker-probe", parents=[common], help="exit 0 when this host's worker beats and is not stalled (liveness)"
    )
    probe.add_argument("--host", help="the host whose worker to check (default: this one)")
    probe.set_defaults(handler=_worker_probe)


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("report", parents=[common], help="the report of a run")
    command.add_argument("run_id", nargs="?", help="run id (default: the latest run)")
    command.add_argument("--json", action="store_true", help="print JSON")
    command.add_argument(
        "--files",
        action="append",
        choices=FILE_STATUSES,
        help="list the run's files whose outline is partial, fallback or failed (repeatable)",
    )
    command.add_argument(
        "--repositories", action="store_true", help="list the run's targets: pending, failed, sending or done"
    )
    command.set_defaults(handler=_report)


def _add_cancel(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("cancel", parents=[common], help="cancel a run: withdraw its queued batches")
    command.add_argument("run_id", help="run id (from `parsefleet status`)")
    command.set_defaults(handler=_cancel)


def _add_config(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("config", parents=[common], help="every setting and the value in effect")
    command.add_argument("--markdown", action="store_true", help="the table of every setting (docs/configuration.md)")
    command.set_defaults(handler=_config)


def _config(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.cli import configuration

    if args.markdown:
        sys.stdout.write(configuration.markdown())
    else:
        print(configuration.render(settings))
    return EXIT_OK


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("bench", parents=[common], help="measure the fleet against the machine's limit")
    command.add_argument(
        "--profile",
        default="ts2-200",
        help="ts2-200, large (from `make corpus`), tiny, hosts (1, 2, 3 worker hosts), reads (the console's"
        " API latency on the large store, with and without a fleet writing), nightly (large committed to git:"
        " nothing changed, and a commit changing 1%%, against a full run), history (incremental parsing over"
        " the last 50 commits of --repository) or bulk (large as 1,000 small repositories and one, against the"
        " same files as one repository)",
    )
    command.add_argument("--corpus-dir", type=Path, default=Path("corpus"), help="where `make corpus` wrote")
    command.add_argument(
        "--repository", type=Path, default=Path(), help="the git repository of --profile history (default: here)"
    )
    command.add_argument("--workers", type=int, help="pool processes per worker (default: one per CPU)")
    command.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    command.add_argument("--max-rss-mb", type=float, default=450.0, help="memory floor; breaking it exits 1")
    command.add_argument(
        "--max-efficiency", type=float, default=1.05, help="an efficiency above this makes the run invalid (exit 4)"
    )
    command.add_argument(
        "--max-limit-move",
        type=float,
        default=0.10,
        help="the limit moving more than this share between its measurements makes the run invalid (exit 4)",
    )
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


def _add_dead_letter(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    dead = sub.add_parser("dead-letter", help="batches no worker could process: list them, send them again")
    actions = dead.add_subparsers(dest="dead_letter_command", required=True)
    listing = actions.add_parser("list", parents=[common], help="every dead letter: id, time, batch, reason")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_dead_letter_list)
    replay = actions.add_parser("replay", parents=[common], help="send dead letters to the workers again")
    replay.add_argument("ids", nargs="*", metavar="ID", help="ids from `parsefleet dead-letter list`")
    replay.add_argument("--all", action="store_true", help="replay every dead letter")
    replay.set_defaults(handler=_dead_letter_replay)


def _add_flag(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    flag = sub.add_parser("flag", help="the Step 2 telemetry flag telemetry.v2.parser_cli (a percentage)")
    actions = flag.add_subparsers(dest="flag_command", required=True)
    get = actions.add_parser("get", parents=[common], help="print the flag")
    get.add_argument("--json", action="store_true", help="print JSON")
    get.set_defaults(handler=_flag_get)
    put = actions.add_parser("set", parents=[common], help="set the flag; workers follow within 10 s")
    put.add_argument("pct", metavar="PCT", help="percentage 0..100 of batches and commands with Step 2 figures")
    put.add_argument("--enable-step2", action="store_true", help="turn Step 2 on again after `telemetry revert`")
    put.set_defaults(handler=_flag_set)


def _add_telemetry(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    actions = sub.add_parser("telemetry", help="the Step 2 telemetry rollout").add_subparsers(
        dest="telemetry_command", required=True
    )
    ramp = actions.add_parser("ramp", parents=[common], help="ramp the flag 25 -> 75 -> 100%%, roll back on variance")
    ramp.add_argument("--steps", default="25,75,100", help="percentages in order (default 25,75,100)")
    ramp.add_argument("--hold", default="15m", help="hold per step before it may advance (default 15m)")
    ramp.add_argument("--baseline-window", default="1h", help="pre-ramp window of the baseline p95 (default 1h)")
    ramp.add_argument("--check-every", default="60s", help="check interval, at most 60s (default 60s)")
    ramp.add_argument("--breach-for", default="10m", help="variance beyond 7%% this long rolls back (default 10m)")
    ramp.add_argument("--give-up-after", default="2h", help="roll back when not done by then (default 2h)")
    ramp.add_argument("--no-snapshot", action="store_true", help="skip the snapshot before the first step")
    ramp.set_defaults(handler=_telemetry_ramp)
    rollback = actions.add_parser("rollback", parents=[common], help="set the flag to 0%% at once")
    rollback.set_defaults(handler=_telemetry_rollback)
    revert = actions.add_parser("revert", parents=[common], help="back to the Step 1 collectors entirely")
    revert.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    revert.add_argument("--drop-data", action="store_true", help="also delete Step 2 rows since the latest ramp")
    revert.set_defaults(handler=_telemetry_revert)
    shot = actions.add_parser("snapshot", parents=[common], help="pg_dump the telemetry tables (kept 72 h)")
    shot.set_defaults(handler=_telemetry_snapshot)
    variance = actions.add_parser("variance", parents=[common], help="validation report after go-live; exit 1 on fail")
    variance.add_argument("--at", choices=["1h", "12h", "24h", "48h"], help="window from go-live (default: to now)")
    variance.add_argument("--since", help="window start, ISO 8601 (instead of go-live)")
    variance.add_argument("--until", help="window end, ISO 8601 (default: now)")
    variance.add_argument("--json", action="store_true", help="print JSON")
    variance.set_defaults(handler=_telemetry_variance)
    reconcile = actions.add_parser("reconcile", parents=[common], help="emitted vs stored figures; exit 1 on a gap")
    reconcile.add_argument("--hours", type=int, default=24, help="hours back, the current one included (default 24)")
    reconcile.add_argument("--json", action="store_true", help="print JSON")
    reconcile.set_defaults(handler=_telemetry_reconcile)


def _ci(args: argparse.Namespace) -> bool:
    flag = getattr(args, "ci", None)
    return bool(flag) if flag is not None else os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _finish(report: RunReport, args: argparse.Namespace) -> int:
    if args.json != "-":  # with '-', stdout holds the JSON alone
        print(render(report))
    if args.json:
        commands.write_json(report.as_dict(), args.json)
    if not report.state.finished:
        return EXIT_FAILED
    failed = sum(item.failed for item in report.languages) + len(report.failed_targets)
    return EXIT_FAILED if args.strict and failed else EXIT_OK


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _options(args: argparse.Namespace, *, wait: bool, workers: int = 1) -> commands.RunOptions:
    return commands.RunOptions(
        ci=_ci(args),
        from_files=tuple(getattr(args, "from_files", ())),  # reindex has neither targets nor --resume
        strict=args.strict,
        resume=_run_id(getattr(args, "resume", None)),
        progress=not args.no_progress,
        wait=wait,
        workers=workers,
        say=_say,
        revision=args.rev,
        name=args.name,
        history=args.history,
        since=args.since,
        priority=getattr(args, "priority", 0),  # reindex has none
    )


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ConfigError("--workers must be 1 or more")
    if args.resume and (args.targets or args.from_files):
        raise InputError("--resume goes on with the run's own targets: give no targets or --from with it")
    targets = args.targets or ([] if args.from_files or args.resume else [Path.cwd()])
    settings = _with_run_options(settings, args)
    report = commands.run(settings, targets, _options(args, wait=True, workers=args.workers))
    return _finish(report, args)


def _submit(settings: Settings, args: argparse.Namespace) -> int:
    if args.resume and (args.targets or args.from_files):
        raise InputError("--resume goes on with the run's own targets: give no targets or --from with it")
    if not args.targets and not args.from_files and not args.resume:
        raise InputError("submit needs targets: paths, or --from FILE (or --resume RUN_ID)")
    settings = _with_run_options(settings, args)
    report = commands.submit(settings, args.targets, _options(args, wait=args.wait))
    if not args.wait:
        print(f"submitted run {report.state.run_id}: {report.state.batches_total} batches")
        return EXIT_OK
    return _finish(report, args)


def _with_run_options(settings: Settings, args: argparse.Namespace) -> Settings:
    return replace(
        settings,
        retry_crashed=settings.retry_crashed or args.retry_crashed,
        follow_hardlinks=settings.follow_hardlinks or args.follow_hardlinks,
        include_vendored=settings.include_vendored or args.include_vendored,
    )


def _run_id(value: str | None) -> str | None:
    """A run id as given, or InputError (exit 2) when it cannot be one."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InputError(f"not a run id: {value!r} (`parsefleet status` lists the latest runs)") from None


def _cancel(settings: Settings, args: argparse.Namespace) -> int:
    done = commands.cancel(settings, str(_run_id(args.run_id)))
    print(done.render())
    return EXIT_OK


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    celery_args = args.celery_args[1:] if args.celery_args[:1] == ["--"] else args.celery_args
    return commands.worker(settings, celery_args)


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.cli import fleet

    if args.limit < 0:
        raise ConfigError(f"--limit must be 0 or more, got {args.limit}")
    if args.watch is None:
        found = fleet.status(settings, args.limit)
        if args.json:
            commands.write_json(found.as_dict(), "-")
        else:
            print(found.render())
        return EXIT_OK
    every_s = fleet.parse_duration(args.watch, "--watch")
    if args.json:
        fleet.watch(settings, args.limit, every_s, lambda found: print(json.dumps(found.as_dict()), flush=True))
    else:
        fleet.watch(settings, args.limit, every_s, lambda found: fleet.write_screen(found.render()))
    return EXIT_OK


def _scale_advise(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.cli import fleet

    within_s = fleet.parse_duration(args.drain_within, "--drain-within") if args.drain_within else None
    advice = fleet.scale_advise(settings, within_s or settings.drain_within_s, export=args.export)
    if args.json:
        commands.write_json(advice.as_dict(), "-")
    else:
        print("\n".join(advice.lines()))
        if args.export:
            print(f"exported: {advice.workers} (Redis {ADVISED_WORKERS_KEY}, statsd {METRIC_ADVISED_WORKERS})")
    return EXIT_OK


def _pause(settings: Settings, _args: argparse.Namespace) -> int:
    from parsefleet.cli import fleet

    found = fleet.pause(settings)
    print(f"fleet paused by {found.by}: workers finish what they hold and take nothing more (parsefleet resume)")
    return EXIT_OK


def _resume(settings: Settings, _args: argparse.Namespace) -> int:
    from parsefleet.cli import fleet

    lifted = fleet.resume(settings)
    print("fleet resumed: workers take batches again" if lifted else "fleet was not paused")
    return EXIT_OK


def _worker_probe(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.cli import fleet

    live, why = fleet.worker_probe(settings, args.host)
    print(why, file=sys.stdout if live else sys.stderr)
    return EXIT_OK if live else EXIT_FAILED


def _report(settings: Settings, args: argparse.Namespace) -> int:
    if args.repositories:
        targets = commands.report_repositories(settings, _run_id(args.run_id))
        if args.json:
            commands.write_json([asdict(item) for item in targets], "-")
        else:
            print(render_repositories(targets))
        return EXIT_OK
    if args.files:
        found = commands.report_files(settings, _run_id(args.run_id), tuple(args.files))
        if args.json:
            commands.write_json([asdict(item) for item in found], "-")
        else:
            print(render_files(found))
        return EXIT_OK
    report = commands.report(settings, _run_id(args.run_id))
    if args.json:
        commands.write_json(report.as_dict(), "-")
    else:
        print(render(report))
    return EXIT_OK if report.state.finished else EXIT_FAILED


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from parsefleet.bench.runner import Floors, run_bench
    from parsefleet.bench.table import render as render_bench
    from parsefleet.bench.validity import Validity

    if args.workers is not None:
        settings = replace(settings, worker_concurrency=args.workers).validated()
    if args.profile in _PROFILES:
        return _bench_profile(settings, args)
    floors = Floors(max_rss_mb=args.max_rss_mb, max_cpu_share=settings.cpu_limit_pct / 100)
    validity = Validity(max_efficiency=args.max_efficiency, max_limit_move=args.max_limit_move)
    result = run_bench(settings, args.profile, args.corpus_dir, floors, validity)
    print(render_bench(result))
    if args.json:
        commands.write_json(result.as_dict(), args.json)
    if result.invalid:
        return EXIT_INVALID
    return EXIT_FAILED if result.breaches else EXIT_OK


def _bench_profile(settings: Settings, args: argparse.Namespace) -> int:
    """The profiles with a table of their own (``_PROFILES``)."""
    text, figures, passed = _PROFILES[args.profile](settings, args)
    print(text)
    if args.json:
        commands.write_json(figures, args.json)
    return EXIT_OK if passed else EXIT_FAILED


def _hosts_profile(settings: Settings, args: argparse.Namespace) -> tuple[str, object, bool]:
    from parsefleet.bench.hosts import render, run_hosts

    hosts = run_hosts(settings, args.corpus_dir)
    return render(hosts), hosts.as_dict(), True


def _reads_profile(settings: Settings, args: argparse.Namespace) -> tuple[str, object, bool]:
    from parsefleet.bench.reads import render, run_reads

    reads = run_reads(settings, args.corpus_dir)
    return render(reads), reads.as_dict(), True


def _nightly_profile(settings: Settings, args: argparse.Namespace) -> tuple[str, object, bool]:
    from parsefleet.bench.nightly import render, run_nightly

    nightly = run_nightly(settings, args.corpus_dir)
    return render(nightly), nightly.as_dict(), nightly.checks_hold


def _history_profile(settings: Settings, args: argparse.Namespace) -> tuple[str, object, bool]:
    from parsefleet.bench.incremental import render, run_history

    history = run_history(settings, args.repository)
    return render(history), history.as_dict(), history.all_equal


def _bulk_profile(settings: Settings, args: argparse.Namespace) -> tuple[str, object, bool]:
    from parsefleet.bench.bulk import render, run_bulk

    bulk = run_bulk(settings, args.corpus_dir)
    return render(bulk), bulk.as_dict(), True


_PROFILES = {
    "bulk": _bulk_profile,
    "hosts": _hosts_profile,
    "reads": _reads_profile,
    "nightly": _nightly_profile,
    "history": _history_profile,
}


def _parity(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.contract.errors import TargetNotFound
    from parsefleet.parity.comparison import compare_corpus, references
    from parsefleet.parity.comparison import render as render_parity

    if not args.corpus.is_dir():  # before building any reference program
        raise TargetNotFound(f"corpus directory not found: {args.corpus}")
    languages = args.language or LANGUAGES
    found, unavailable = references(settings, languages)  # builds the Go and Rust programs once
    report = compare_corpus(args.corpus, languages, found, unavailable)
    print(render_parity(report, max(args.show, 0)))
    if args.json:
        commands.write_json(report.as_dict(), args.json)
    return EXIT_OK if report.passes(args.min_agreement) else EXIT_FAILED


def _db_retention(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.telemetry.retention import parse_window

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


def _dead_letter_list(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.cli.dead_letters import list_entries

    found = list_entries(settings)
    if args.json:
        commands.write_json([entry.as_dict() for entry in found], "-")
    else:
        print("\n".join(entry.render() for entry in found) if found else "no dead letters")
    return EXIT_OK


def _dead_letter_replay(settings: Settings, args: argparse.Namespace) -> int:
    from parsefleet.cli.dead_letters import replay

    done = replay(settings, args.ids, replay_all=args.all)
    print(f"replayed {len(done.sent)}: {' '.join(done.sent)}" if done.sent else "replayed none")
    for entry_id, why in done.kept:
        print(f"kept {entry_id}: {why}")
    return EXIT_FAILED if done.kept else EXIT_OK


def _db_migrate(settings: Settings, args: argparse.Namespace) -> int:
    applied = commands.db_migrate(settings)
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return EXIT_OK


def _flag_get(settings: Settings, args: argparse.Namespace) -> int:
    state = rollout.flag_get(settings)
    if args.json:
        commands.write_json({"flag": TELEMETRY_FLAG, "pct": state.pct, "reverted": state.reverted}, "-")
    else:
        print(state.render())
    return EXIT_OK


def _flag_set(settings: Settings, args: argparse.Namespace) -> int:
    before, after, unrecorded = rollout.flag_set(settings, args.pct, enable_step2=args.enable_step2)
    print(f"{after.render()} (was {before.pct}%)")
    if unrecorded:
        print(f"parsefleet: warning: decision not recorded: {unrecorded}", file=sys.stderr)
    return EXIT_OK


def _telemetry_ramp(settings: Settings, args: argparse.Namespace) -> int:
    plan = rollout.ramp_plan(
        args.steps,
        hold=args.hold,
        baseline=args.baseline_window,
        check_every=args.check_every,
        breach_for=args.breach_for,
        give_up_after=args.give_up_after,
    )
    outcome = rollout.ramp(
        settings, plan, take_snapshot_first=not args.no_snapshot, echo=lambda x: print(x, flush=True)
    )
    print(f"ramp {outcome.ramp_id}: {outcome.status} at {outcome.pct}%")
    return EXIT_OK if outcome.status == "done" else EXIT_FAILED


def _telemetry_rollback(settings: Settings, _args: argparse.Namespace) -> int:
    before, unrecorded = rollout.rollback(settings)
    print(f"{TELEMETRY_FLAG} 0% (was {before.pct}%): rolled back")
    if unrecorded:
        print(f"parsefleet: warning: decision not recorded: {unrecorded}", file=sys.stderr)
    return EXIT_OK


def _telemetry_revert(settings: Settings, args: argparse.Namespace) -> int:
    plan = rollout.revert(settings, dry_run=args.dry_run, drop_data=args.drop_data)
    for step in plan.steps:
        print(("would " if args.dry_run else "done: ") + step)
    return EXIT_OK


def _telemetry_snapshot(settings: Settings, _args: argparse.Namespace) -> int:
    print(rollout.snapshot(settings).render())
    return EXIT_OK


def _telemetry_variance(settings: Settings, args: argparse.Namespace) -> int:
    if (args.at and (args.since or args.until)) or (args.until and not args.since):
        raise ConfigError("give --at, or --since (and optionally --until)")
    since = rollout.parse_time(args.since) if args.since else None
    until = rollout.parse_time(args.until) if args.until else None
    report = rollout.variance(settings, at=args.at, since=since, until=until)
    if args.json:
        commands.write_json(report.as_dict(), "-")
    else:
        print(report.render())
    return EXIT_OK if report.passed else EXIT_FAILED


def _telemetry_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    found = rollout.reconcile_hours(settings, args.hours)
    if args.json:
        commands.write_json(found.as_dict(), "-")
    else:
        print(found.render())
    return EXIT_FAILED if found.gaps else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
