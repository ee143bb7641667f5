-- Chain of custody: the issuer's signature of a submission, and the hub's attestation of each
-- delivery (a signed note).
ALTER TABLE submissions ADD COLUMN issuer_signature BLOB;
ALTER TABLE submissions ADD COLUMN issuer_key TEXT;
ALTER TABLE deliveries ADD COLUMN attestation TEXT NOT NULL DEFAULT '';

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

-- Every leaf hash and every complete subtree's hash, by storage index (Go's sumdb/tlog
-- layout), in blocks: block k holds storage indexes 32k to 32k+31, 32 bytes each, in order
-- (the last block grows until full).
CREATE TABLE log_hash_blocks (
    block BIGINT PRIMARY KEY,
    hashes BLOB NOT NULL
);

CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL,
    signed_at BIGINT NOT NULL
);
