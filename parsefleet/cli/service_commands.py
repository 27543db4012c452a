"""``parsefleet services stop``: the embedded Redis and PostgreSQL of a data directory, stopped when
no parsefleet process uses them (a command killed with SIGKILL leaves them running; the next command
on that directory would join them, and the last to leave would stop them)."""

from __future__ import annotations

import argparse

from parsefleet.contract.settings import Settings
from parsefleet.services.endpoints import stop_unused

__all__ = ["add_service_commands"]

_STOPPED = 0
_IN_USE = 1


def add_service_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``services stop``."""
    actions = sub.add_parser("services", help="the embedded Redis and PostgreSQL of the data directory")
    commands = actions.add_subparsers(dest="services_command", required=True)
    stop = commands.add_parser(
        "stop", parents=[common], help="stop them when no parsefleet process uses them (exit 1 when one does)"
    )
    stop.set_defaults(handler=_stop)


def _stop(settings: Settings, _args: argparse.Namespace) -> int:
    outcome = stop_unused(settings)
    where = settings.data_dir
    if outcome is None:
        print(f"no embedded services running in {where}")
        return _STOPPED
    if not outcome:
        print(f"the embedded services in {where} are in use by another parsefleet process: nothing stopped")
        return _IN_USE
    print(f"stopped the embedded services in {where}")
    return _STOPPED
