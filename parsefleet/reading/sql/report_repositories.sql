-- What a run did to each repository it indexed: the commit, how it was compared with the store,
-- the files added, modified, deleted and renamed, the blobs sent and those already known.
SELECT r.root AS name, c.commit_id, c.mode, c.note, c.added, c.modified, c.deleted, c.renamed, c.sent, c.known
  FROM repository_commits c
  JOIN repositories r ON r.id = c.repository_id
 WHERE c.run_id = %(run_id)s
 ORDER BY c.seq
