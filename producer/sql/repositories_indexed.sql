UPDATE repositories SET indexed_commit = %(commit_id)s, indexed_seq = %(seq)s, location = %(location)s
 WHERE id = %(repository_id)s
