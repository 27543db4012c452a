"""Measurements over time: the Step 2 flag ``telemetry.v2.parser_cli`` and its rollout (ramp,
rollback, revert, snapshot, variance, reconciliation), per-command figures, alerts, retention."""
