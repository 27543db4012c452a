-- The committed counts of a run, per language: ('seen' | 'sent' | 'skipped' | 'refused', language,
-- reason or kind, files).
SELECT 'seen', language, '', seen FROM run_inputs WHERE run_id = %(run_id)s
UNION ALL SELECT 'sent', language, '', sent FROM run_inputs WHERE run_id = %(run_id)s
UNION ALL SELECT 'skipped', language, reason, files FROM run_skips WHERE run_id = %(run_id)s
UNION ALL SELECT 'refused', language, kind, count(*)::int FROM parse_failures
           WHERE run_id = %(run_id)s AND batch_id IS NULL GROUP BY language, kind
