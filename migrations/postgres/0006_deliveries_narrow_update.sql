-- An acknowledgement rewrites its delivery's row (state and time), and Postgres writes the whole
-- new row to the WAL and the table. Kept inline, a delivery's translated document, attestation
-- and not-representable list made that row about 2.5 KiB, so every acknowledgement copied them.
-- With a small TOAST target they live out of line (still lz4-compressed, migration 0003/0004)
-- and the row an acknowledgement rewrites holds pointers to them: about 250 bytes. Reads that
-- need the document fetch it from the TOAST table, which the hub does only for deliveries that
-- are no longer in its in-memory cache.
ALTER TABLE deliveries SET (toast_tuple_target = 256);
