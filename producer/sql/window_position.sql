-- Where the producer of a run will go on from, once this window is committed (producer/resume.py).
UPDATE runs SET resume_offsets = %(offsets)s, batch_sequence = %(sequence)s WHERE id = %(run_id)s
