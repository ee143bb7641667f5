-- Fewer index entries per certificate (SQLite: migration 0003). Every index entry a submission
-- adds is written and WAL-logged inside its batch's transaction, on the path every batch waits on.
--
-- The receipt log indexed every leaf by its certificate id, but only the leaf that names a
-- certificate first (accepted, refused, denied) needs to be found by it: the leaves that repeat
-- it (a delivery queued, acknowledged) carry the tracking id of the accepted leaf, and a query by
-- certificate finds them through `receipt_log_by_tracking_id`. So one entry a submission
-- instead of one a leaf (three, for one receiver).
--
-- Deliveries were indexed by tracking id for one query, a submission's status, and an
-- acknowledgement rewrote that entry too (its update cannot be HOT). The status now finds a
-- submission's deliveries through its `queued` leaves. Two entries a delivery fewer.
DROP INDEX receipt_log_by_certificate_id;
CREATE INDEX receipt_log_names_certificate ON receipt_log (certificate_id)
    WHERE kind NOT IN ('queued', 'acknowledged');
DROP INDEX deliveries_by_tracking_id;
