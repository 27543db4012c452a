SELECT producer_step FROM runs WHERE id = %(run_id)s
