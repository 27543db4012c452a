-- One commit row for each repository of %(repository_ids)s (the figures of each in the arrays beside
-- it, in the same order), numbered in that order.
INSERT INTO repository_commits (repository_id, commit_id, run_id, mode, note, added, modified, deleted, renamed,
                                sent, known)
SELECT g.repository_id, g.commit_id, %(run_id)s, g.mode, g.note, g.added, g.modified, g.deleted, g.renamed,
       g.sent, g.known
  FROM unnest(%(repository_ids)s::bigint[], %(commit_ids)s::text[], %(modes)s::text[], %(notes)s::text[],
              %(added)s::integer[], %(modified)s::integer[], %(deleted)s::integer[], %(renamed)s::integer[],
              %(sent)s::integer[], %(known)s::integer[])
       WITH ORDINALITY AS g(repository_id, commit_id, mode, note, added, modified, deleted, renamed, sent, known, n)
 ORDER BY g.n
RETURNING repository_id, seq
