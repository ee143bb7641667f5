-- Certificates, their canonical form and their translations are a few KiB each, so Postgres
-- compresses them when it stores them (TOAST). Its default method, pglz, took about a fifth of
-- the machine's CPU in the load test; lz4 compresses about as well for a fraction of the cost.
-- A server built without lz4 (or older than Postgres 14) keeps pglz: the hub works the same.
DO $$
BEGIN
    ALTER TABLE submissions
        ALTER COLUMN original SET COMPRESSION lz4,
        ALTER COLUMN canonical SET COMPRESSION lz4;
    ALTER TABLE deliveries
        ALTER COLUMN document SET COMPRESSION lz4,
        ALTER COLUMN attestation SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 compression is not available (%); large values stay pglz-compressed', SQLERRM;
END $$;
