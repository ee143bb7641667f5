-- Fewer index entries per certificate, as Postgres's migration 0008 (same queries, same schema).
--
-- The receipt log indexed every leaf by its certificate id, but only the leaf that names a
-- certificate first (accepted, refused, denied) needs to be found by it: the leaves that repeat
-- it (a delivery queued, acknowledged) carry the tracking id of the accepted leaf, and a query by
-- certificate finds them through `receipt_log_by_tracking_id`.
--
-- Deliveries were indexed by tracking id for one query, a submission's status, which now finds
-- a submission's deliveries through its `queued` leaves.
DROP INDEX receipt_log_by_certificate_id;
CREATE INDEX receipt_log_names_certificate ON receipt_log (certificate_id)
    WHERE kind NOT IN ('queued', 'acknowledged');
DROP INDEX deliveries_by_tracking_id;
