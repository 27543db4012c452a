-- Files parsed per minute per language (sum of batch sizes in files). Floor under TS2-200: 200 files/min.
SELECT date_bin('1 minute', finished_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS time,
       language AS metric,
       sum(files) AS files
  FROM batch_results
 WHERE files > 0 AND finished_at >= now() - interval '24 hours'
 GROUP BY 1, 2
 ORDER BY 1, 2
