date_trunc(%(unit)s, {column}, 'UTC')
