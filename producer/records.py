"""What the producer writes to PostgreSQL: the run, repositories, files, batches, skips, refusals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from common.batch import Batch, FileRef
from common.database import sql

__all__ = ["Failure", "Ledger"]

_HERE = Path(__file__).parent
Failure = tuple[FileRef, str, str]  # (file, kind, message)


class Ledger:
    """The producer's writes for one run, on one connection (each method commits)."""

    def __init__(self, conn: psycopg.Connection[tuple[object, ...]], run_id: str) -> None:
        self.conn = conn
        self.run_id = run_id

    def start(self, targets: Sequence[str], ci: bool) -> None:
        """Create the run record."""
        with self.conn.transaction():
            self.conn.execute(sql(_HERE, "start_run"), {"run_id": self.run_id, "targets": list(targets), "ci": ci})

    def repository_id(self, root: str) -> int:
        """Return the id of a repository, creating it on first sight."""
        with self.conn.transaction():
            row = self.conn.execute(sql(_HERE, "repository"), {"root": root}).fetchone()
        assert row is not None
        return int(str(row[0]))

    def known(self, parser_version: str, hashes: Iterable[bytes]) -> set[bytes]:
        """Return the hashes among ``hashes`` already outlined by ``parser_version``."""
        wanted = list(hashes)
        if not wanted:
            return set()
        rows = self.conn.execute(
            sql(_HERE, "known_blobs"), {"parser_version": parser_version, "hashes": wanted}
        ).fetchall()
        self.conn.commit()
        return {row[0] for row in rows if isinstance(row[0], bytes)}

    def record(self, files: Sequence[FileRef], batches: Sequence[Batch], failures: Sequence[Failure]) -> None:
        """Store one window of the producer's work in one transaction (bulk, with COPY)."""
        now = datetime.now(UTC)
        with self.conn.transaction():
            self.conn.execute(sql(_HERE, "files_stage"))
            with self.conn.cursor().copy(
                "COPY files_stage (repository_id, path, blob_hash, language, last_run_id) FROM STDIN"
            ) as copy:
                for ref in files:
                    copy.write_row((ref.repository_id, ref.path, ref.blob_hash, ref.language, self.run_id))
            self.conn.execute(sql(_HERE, "files_upsert"))
            with self.conn.cursor().copy(
                "COPY batches (id, run_id, language, files, size_bytes, enqueued_at) FROM STDIN"
            ) as copy:
                for batch in batches:
                    copy.write_row(
                        (batch.batch_id, self.run_id, batch.language, len(batch.files), batch.size_bytes, now)
                    )
            with self.conn.cursor().copy(
                "COPY parse_failures (time, run_id, repository_id, path, blob_hash, language, kind, message) FROM STDIN"
            ) as copy:
                for ref, kind, message in failures:
                    copy.write_row(
                        (
                            now,
                            self.run_id,
                            ref.repository_id,
                            ref.path,
                            ref.blob_hash or None,
                            ref.language,
                            kind,
                            message,
                        )
                    )

    def finish(self, batches_total: int, inputs: dict[str, tuple[int, int]], skips: dict[tuple[str, str], int]) -> None:
        """Store the run's input counts and skips, and mark it submitted."""
        with self.conn.transaction():
            with self.conn.cursor().copy("COPY run_inputs (run_id, language, seen, sent) FROM STDIN") as copy:
                for language, (seen, sent) in sorted(inputs.items()):
                    copy.write_row((self.run_id, language, seen, sent))
            with self.conn.cursor().copy("COPY run_skips (run_id, language, reason, files) FROM STDIN") as copy:
                for (language, reason), count in sorted(skips.items()):
                    copy.write_row((self.run_id, language, reason, count))
            self.conn.execute(sql(_HERE, "finish_submit"), {"run_id": self.run_id, "batches_total": batches_total})
