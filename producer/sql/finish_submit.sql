UPDATE runs SET submitted_at = now(), batches_total = %(batches_total)s WHERE id = %(run_id)s
