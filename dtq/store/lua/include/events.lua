-- The events the scripts count, in the lifetime totals ("<event>|<task name>") and the
-- per-minute activity ("<minute>:<event>"). dtq/events.py holds the same list for the readers;
-- tests/unit/test_formats.py checks that the two agree.
local EVENTS = {'enqueued', 'succeeded', 'failed', 'retried', 'dead', 'cancelled'}
