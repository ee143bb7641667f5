-- The hub's store: registry (members, agreements, profile versions), submissions with their
-- canonical form, one delivery per receiver, and receipt events. Times are Unix microseconds.

CREATE TABLE members (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE agreements (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every version ever stored; the one with the highest seq is current.
CREATE TABLE profiles (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    version TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (id, version)
);

CREATE TABLE submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tracking_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    agreement TEXT NOT NULL,
    certificate_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    sender_profile TEXT NOT NULL,
    original BLOB NOT NULL,
    canonical TEXT NOT NULL,
    receivers TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    UNIQUE (sender, idempotency_key)
);

-- seq orders each receiver's stream: it is assigned in commit order (one writer at a time).
CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    tracking_id TEXT NOT NULL REFERENCES submissions (tracking_id),
    receiver TEXT NOT NULL,
    profile TEXT NOT NULL,
    document BLOB NOT NULL,
    not_representable TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    acknowledged_at BIGINT
);

CREATE INDEX deliveries_pending ON deliveries (receiver, seq) WHERE state = 'pending';
CREATE INDEX deliveries_by_tracking_id ON deliveries (tracking_id);

CREATE TABLE receipt_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tracking_id TEXT NOT NULL,
    delivery_id TEXT,
    member TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    detail TEXT NOT NULL
);

CREATE INDEX receipt_events_by_tracking_id ON receipt_events (tracking_id);
