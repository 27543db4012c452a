-- File names are stored losslessly (parsefleet/contract/paths.py, to_text): the name itself when it
-- is UTF-8 without a backslash, else with each backslash doubled and each byte that is not UTF-8 as
-- \xNN. Rows written before held such names in a lossy form, where a non-UTF-8 name and its
-- look-alike (b'caf\xe9.py' and 'caf\xe9.py' literally) shared one row: they are dropped here, and
-- the next run of their repository writes them again (their blobs stay: nothing is parsed again).
DELETE FROM files WHERE strpos(path, '\') > 0;

COMMENT ON COLUMN files.path IS
    'relative to the repository root, ''/''-separated; lossless text form (parsefleet.contract.paths.to_text)';
COMMENT ON COLUMN parse_failures.path IS
    'relative to the repository root; lossless text form (parsefleet.contract.paths.to_text) since 008';
COMMENT ON COLUMN repositories.root IS
    'absolute path of the repository root; lossless text form (parsefleet.contract.paths.to_text) since 008';
