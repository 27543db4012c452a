"""``parsefleet bench``: the fleet against the machine's limit, and the corpora it runs on."""
