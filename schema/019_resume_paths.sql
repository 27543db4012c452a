-- A target read in part goes on after the last path its producer read, not after a count of files:
-- a listing is in the byte order of its paths, so a file added or deleted between a producer's
-- death and the resume moves nothing (producer/submission.py, `_resumed_at`). The values of
-- runs.resume_offsets are that path's stored form; a number (written before this release) is
-- still read as a count of files.
COMMENT ON COLUMN runs.resume_offsets IS
    'ordinal -> the last path read of each target read in part (stored form; a number: files read)';
