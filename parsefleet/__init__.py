"""parsefleet: a distributed parse job queue. This package holds the CLI and the orchestration
(embedded services, local workers, migrations, reports); ``producer`` and ``workers`` do the work.
"""

__version__ = "0.1.0"
