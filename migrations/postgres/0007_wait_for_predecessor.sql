-- A batch waits for the batch it was hashed on even when that one's call has not started yet.
--
-- In 0005 a call waited on its predecessor's ticket, which the predecessor takes as its call
-- starts. Under load the database sometimes started the later call first: it found the ticket
-- free, the log short, and failed (OH003), and the hub sent it again once the predecessor had
-- committed (`hub_batches_sent_again` in the load test: up to 2% of batches with two in flight,
-- 36–42% with three). Now the later call waits until the predecessor's last leaf is
-- there, so it is written once. The function is otherwise 0005's.
CREATE OR REPLACE FUNCTION originhub_write_batch(
    p_expected_log_size BIGINT,
    p_read_block BIGINT[], p_read_offset INT[], p_read_hash BYTEA[],
    p_write_lock BIGINT,
    p_ticket_space INT, p_ticket INT, p_after_ticket INT,
    p_s_tracking_id TEXT[], p_s_sender TEXT[], p_s_agreement TEXT[], p_s_certificate_id TEXT[],
    p_s_idempotency_key TEXT[], p_s_content_hash TEXT[], p_s_sender_profile TEXT[],
    p_s_original BYTEA[], p_s_canonical TEXT[], p_s_receivers TEXT[], p_s_accepted_at BIGINT[],
    p_s_issuer_signature BYTEA[], p_s_issuer_key TEXT[],
    p_ack_ids TEXT[], p_acked_at BIGINT,
    p_l_idx BIGINT[], p_l_kind TEXT[], p_l_at BIGINT[], p_l_member TEXT[], p_l_sender TEXT[],
    p_l_receiver TEXT[], p_l_tracking_id TEXT[], p_l_certificate_id TEXT[], p_l_agreement TEXT[],
    p_l_delivery_id TEXT[], p_l_entry TEXT[],
    p_b_block BIGINT[], p_b_hashes BYTEA[],
    p_d_delivery_id TEXT[], p_d_tracking_id TEXT[], p_d_receiver TEXT[], p_d_profile TEXT[],
    p_d_document BYTEA[], p_d_not_representable TEXT[], p_d_created_at BIGINT[],
    p_d_attestation TEXT[]
) RETURNS TABLE (out_seq BIGINT, out_delivery_id TEXT)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict error
DECLARE
    changed BIGINT;
    deadline TIMESTAMPTZ;
    found_size BIGINT;
    last_seq BIGINT;
BEGIN
    -- The batch's ticket, held until it commits: the batch the hub hashed next, on this one's
    -- head, waits for it, so it does not take the write lock first. It waits before it locks
    -- any row: a batch that started first and locked a row (an acknowledged delivery, an
    -- idempotency key) its predecessor also needs would otherwise wait for that predecessor
    -- while the predecessor waits for it.
    PERFORM pg_advisory_xact_lock(p_ticket_space, p_ticket);
    -- Then it waits for its predecessor's commit. The predecessor's ticket is taken only once
    -- the database runs its call, which may be after this one starts: so wait on that ticket
    -- (a shared lock, let go at once, so the predecessor can still take it), and if the
    -- predecessor's last leaf is still missing, it has not started: sleep a millisecond and
    -- wait again. After 200 ms it goes on and the log check below finds the log short, as when
    -- the predecessor failed.
    IF p_after_ticket IS NOT NULL THEN
        deadline := clock_timestamp() + interval '200 milliseconds';
        LOOP
            PERFORM pg_advisory_lock_shared(p_ticket_space, p_after_ticket);
            PERFORM pg_advisory_unlock_shared(p_ticket_space, p_after_ticket);
            EXIT WHEN p_expected_log_size IS NULL OR p_expected_log_size = 0
                OR EXISTS (SELECT 1 FROM receipt_log WHERE idx = p_expected_log_size - 1)
                OR clock_timestamp() > deadline;
            PERFORM pg_sleep(0.001);
        END LOOP;
    END IF;

    INSERT INTO submissions (tracking_id, sender, agreement, certificate_id, idempotency_key,
        content_hash, sender_profile, original, canonical, receivers, accepted_at,
        issuer_signature, issuer_key)
    SELECT * FROM UNNEST(p_s_tracking_id, p_s_sender, p_s_agreement, p_s_certificate_id,
        p_s_idempotency_key, p_s_content_hash, p_s_sender_profile, p_s_original, p_s_canonical,
        p_s_receivers, p_s_accepted_at, p_s_issuer_signature, p_s_issuer_key)
    ON CONFLICT (sender, idempotency_key) DO NOTHING;
    GET DIAGNOSTICS changed = ROW_COUNT;
    IF changed <> cardinality(p_s_tracking_id) THEN
        RAISE EXCEPTION 'originhub: an idempotency key of the batch is taken'
            USING ERRCODE = 'OH001';
    END IF;

    UPDATE deliveries SET state = 'acknowledged', acknowledged_at = p_acked_at
    WHERE state <> 'acknowledged' AND delivery_id = ANY (p_ack_ids);
    GET DIAGNOSTICS changed = ROW_COUNT;
    IF changed <> cardinality(p_ack_ids) THEN
        RAISE EXCEPTION 'originhub: a delivery of the batch is acknowledged already'
            USING ERRCODE = 'OH002';
    END IF;

    PERFORM pg_advisory_xact_lock(p_write_lock);
    IF p_expected_log_size IS NOT NULL THEN
        SELECT COALESCE(MAX(idx) + 1, 0) INTO found_size FROM receipt_log;
        IF found_size <> p_expected_log_size THEN
            RAISE EXCEPTION 'originhub: the receipt log has % leaves, not %', found_size,
                p_expected_log_size USING ERRCODE = 'OH003';
        END IF;
        -- p_read_offset: the hash's byte offset in its block, from 1.
        IF EXISTS (
            SELECT 1 FROM UNNEST(p_read_block, p_read_offset, p_read_hash) AS r(block, pos, hash)
            LEFT JOIN log_hash_blocks b ON b.block = r.block
            WHERE substring(b.hashes FROM r.pos FOR 32) IS DISTINCT FROM r.hash
        ) THEN
            RAISE EXCEPTION 'originhub: the receipt log''s frontier is not the one assumed'
                USING ERRCODE = 'OH003';
        END IF;
    END IF;
    SELECT COALESCE(MAX(seq), 0) INTO last_seq FROM deliveries;

    INSERT INTO receipt_log (idx, kind, at, member, sender, receiver, tracking_id,
        certificate_id, agreement, delivery_id, entry)
    SELECT * FROM UNNEST(p_l_idx, p_l_kind, p_l_at, p_l_member, p_l_sender, p_l_receiver,
        p_l_tracking_id, p_l_certificate_id, p_l_agreement, p_l_delivery_id, p_l_entry);
    INSERT INTO log_hash_blocks (block, hashes)
    SELECT * FROM UNNEST(p_b_block, p_b_hashes)
    ON CONFLICT (block) DO UPDATE SET hashes = excluded.hashes;

    RETURN QUERY
    WITH created AS (
        INSERT INTO deliveries (delivery_id, tracking_id, receiver, profile, document,
            not_representable, state, created_at, attestation)
        SELECT d, t, r, p, doc, nr, 'pending', c, a
        FROM UNNEST(p_d_delivery_id, p_d_tracking_id, p_d_receiver, p_d_profile, p_d_document,
            p_d_not_representable, p_d_created_at, p_d_attestation) AS x(d, t, r, p, doc, nr, c, a)
        RETURNING deliveries.seq, deliveries.delivery_id
    )
    SELECT * FROM created;
    RETURN QUERY SELECT last_seq, NULL::TEXT;
END
$$;
