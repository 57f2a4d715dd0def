-- Write keys of the batching writers (src/service/batch.rs): a random key stored with every
-- chat message and radar event, so that after a batch fails (its commit may have happened,
-- e.g. the connection dropped before the reply) the writer can ask which items are stored
-- and retry only the others. Not indexed: looked up only after a failure, within the
-- conversations / salespeople of the batch and their recent rows.
alter table chat_message add column write_key bigint;
alter table action_log add column write_key bigint;
