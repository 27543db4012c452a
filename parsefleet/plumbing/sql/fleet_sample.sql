-- One language's row of a fleet sample (plumbing/fleet.py, record_sample).
INSERT INTO fleet_samples (time, language, waiting, waiting_bytes, oldest_s, outstanding, workers_alive,
                           workers_stalled, paused, advised_workers)
VALUES (to_timestamp(%(at)s), %(language)s, %(waiting)s, %(waiting_bytes)s, %(oldest_s)s, %(outstanding)s,
        %(alive)s, %(stalled)s, %(paused)s, %(advised)s)
