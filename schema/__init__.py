"""The schema: versioned migrations ``NNN_name.sql``, applied in order by ``parsefleet db migrate``
(parsefleet.plumbing.migrations). Installed as the package ``parsefleet.schema``."""
