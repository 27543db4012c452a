"""Lookup time of `parsefleet find`'s query on a filled store: p50/p95 over names drawn from it.

    .venv/bin/python infra/dev/find-latency.py [--data-dir DIR | --database-url URL] [--samples 300]

Draws --samples distinct definition names from the store (seeded), then times find_definitions
(parsefleet.reading.definitions) for each: exact (the name as given), qualified (a qualified name),
and prefix (the first 3 characters, without case, as the console's search box sends them), each on
one warm connection, as the CLI and the console run it. Prints one line per mode: p50, p95, max in
ms, and the median number of rows found. The CLI's own process start (imports, connecting) is not in
these figures; `time parsefleet find NAME` shows it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from parsefleet.contract.settings import Settings
from parsefleet.plumbing.database import session
from parsefleet.reading.definitions import FindQuery, find_definitions
from parsefleet.services.endpoints import Services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    settings = Settings.from_env(data_dir=args.data_dir, database_url=args.database_url)
    with Services(settings, need_redis=False) as services, session(services.database_url) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT name) FROM symbols").fetchone()
        print(f"store: {rows[0]} symbols, {rows[1]} distinct names" if rows else "store: empty")
        names = [str(r[0]) for r in conn.execute("SELECT DISTINCT name FROM symbols ORDER BY 1")]
        qualified = [
            str(r[0])
            for r in conn.execute("SELECT DISTINCT qualified_name FROM symbols WHERE qualified_name <> name ORDER BY 1")
        ]
        conn.commit()
        pick = random.Random(20261203)
        modes = {
            "exact": [FindQuery(n) for n in pick.sample(names, min(args.samples, len(names)))],
            "qualified": [FindQuery(n) for n in pick.sample(qualified, min(args.samples, len(qualified)))],
            "prefix": [
                FindQuery(n[:3], prefix=True, ignore_case=True, limit=50)
                for n in pick.sample(names, min(args.samples, len(names)))
            ],
        }
        for mode, queries in modes.items():
            timings, found = [], []
            for query in queries:
                started = time.perf_counter()
                found.append(len(find_definitions(conn, query)))
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            p95 = timings[int(0.95 * (len(timings) - 1))]
            print(
                f"{mode:<9} n={len(timings)} p50 {statistics.median(timings):.2f} ms  p95 {p95:.2f} ms  "
                f"max {timings[-1]:.2f} ms  rows found (median) {statistics.median(found):g}"
            )


if __name__ == "__main__":
    main()
