time_bucket(%(width)s::interval, {column})
