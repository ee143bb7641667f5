-- The other values that reach Postgres's compression threshold in a large row: the list of
-- canonical fields a receiver's profile cannot hold (about 1 KiB per delivery) and the receipt
-- log's leaves. Still compressed with pglz after 0003, they took about 1% of the machine's CPU
-- in the load test. As in 0003, a server without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE deliveries
        ALTER COLUMN not_representable SET COMPRESSION lz4;
    ALTER TABLE receipt_log
        ALTER COLUMN entry SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 compression is not available (%); these values stay pglz-compressed', SQLERRM;
END $$;
