-- Repositories a reader names: by their root exactly (as stored: an absolute path or a name), by
-- the absolute path the name resolves to here, or by the root's last component (%(suffix)s is an
-- escaped LIKE pattern '%%/name').
SELECT id, root, (root = %(name)s OR root = %(resolved)s) AS exact
  FROM repositories
 WHERE root = %(name)s OR root = %(resolved)s OR root LIKE %(suffix)s
 ORDER BY exact DESC, root
