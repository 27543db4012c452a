SELECT ordinal, kind, name, qualified_name, parent_ordinal AS parent, start_line, end_line, visibility, from_macro
  FROM symbols
 WHERE blob_hash = %(blob_hash)s AND parser_version = %(parser_version)s
 ORDER BY ordinal
