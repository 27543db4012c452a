UPDATE runs SET producer_step = %(step)s WHERE id = %(run_id)s
