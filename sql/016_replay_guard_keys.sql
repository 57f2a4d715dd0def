-- The replay guard spends signatures in batches (src/auth/replay.rs): each claim carries the
-- batching writer's random write key, so after a batch whose reply was lost the guard can tell
-- which claims are its own (issue 9 item 11, the same recovery as sql/008).
alter table spent_signature add column write_key bigint;
