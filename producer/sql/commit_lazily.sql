-- This transaction's commit need not wait for the disk: what it writes (a repository row, created
-- again by the same statement if lost) is flushed by the next ordinary commit, before anything that
-- refers to it is durable.
SET LOCAL synchronous_commit TO off
