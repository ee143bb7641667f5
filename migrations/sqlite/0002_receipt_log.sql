-- The receipt log: one row per leaf of the Merkle tree (RFC 9162 hashing), its stored hashes,
-- and the checkpoints the hub signed. Rows are only ever inserted. Events of 0001's
-- receipt_events table are moved into the log by the hub at start-up (it computes the hashes).

CREATE TABLE receipt_log (
    idx BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    member TEXT NOT NULL,
    sender TEXT,
    receiver TEXT,
    tracking_id TEXT,
    certificate_id TEXT,
    agreement TEXT,
    delivery_id TEXT,
    -- The leaf's exact bytes (compact JSON); its hash is SHA-256(0x00 || entry).
    entry TEXT NOT NULL
);

CREATE INDEX receipt_log_by_tracking_id ON receipt_log (tracking_id);
CREATE INDEX receipt_log_by_certificate_id ON receipt_log (certificate_id);

-- Every leaf hash and every complete subtree's hash, by storage index (Go's sumdb/tlog layout).
CREATE TABLE log_hashes (
    idx BIGINT PRIMARY KEY,
    hash BLOB NOT NULL
);

CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL,
    signed_at BIGINT NOT NULL
);
