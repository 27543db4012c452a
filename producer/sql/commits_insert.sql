INSERT INTO repository_commits (repository_id, commit_id, run_id, mode, note, added, modified, deleted, renamed,
                                sent, known)
VALUES (%(repository_id)s, %(commit_id)s, %(run_id)s, %(mode)s, %(note)s, %(added)s, %(modified)s, %(deleted)s,
        %(renamed)s, %(sent)s, %(known)s)
RETURNING seq
