-- When the latest ramp started (NULL when none did).
SELECT max(time) FROM telemetry_decisions WHERE action = 'start'
