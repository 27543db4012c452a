-- Each repository of %(repository_ids)s now holds the commit (and commit row) beside it, read from
-- the location beside it.
UPDATE repositories r SET indexed_commit = g.commit_id, indexed_seq = g.seq, location = g.location
  FROM unnest(%(repository_ids)s::bigint[], %(commit_ids)s::text[], %(seqs)s::bigint[], %(locations)s::text[])
       AS g(repository_id, commit_id, seq, location)
 WHERE r.id = g.repository_id
