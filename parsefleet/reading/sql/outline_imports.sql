SELECT module, name, alias, origin, line
  FROM imports
 WHERE blob_hash = %(blob_hash)s AND parser_version = %(parser_version)s
 ORDER BY ordinal
