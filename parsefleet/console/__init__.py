"""``parsefleet serve``: the web console and JSON API, read-only, on the reading queries of
parsefleet.reading (the ones the CLI uses, so the two cannot disagree)."""
