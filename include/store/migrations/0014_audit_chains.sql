-- The audit log as one hash chain per tenant (plus `_platform` for platform-wide actions), so tenants no longer
-- serialise on one lock; the row's time is inside the hash; the table's writer role may only INSERT; TRUNCATE
-- is refused like UPDATE and DELETE. Rows written before this migration keep their format-1 hashes in the
-- `_legacy` chain, in id order, and still verify.

ALTER TABLE ticketpilot.audit_log
    ADD COLUMN chain text NOT NULL DEFAULT '_legacy',
    ADD COLUMN seq   bigint,
    ADD COLUMN fmt   smallint NOT NULL DEFAULT 1;

ALTER TABLE ticketpilot.audit_log DISABLE TRIGGER audit_log_no_update;
WITH ordered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM ticketpilot.audit_log)
UPDATE ticketpilot.audit_log a SET seq = o.n FROM ordered o WHERE a.id = o.id;
ALTER TABLE ticketpilot.audit_log ENABLE TRIGGER audit_log_no_update;

ALTER TABLE ticketpilot.audit_log
    ALTER COLUMN chain DROP DEFAULT,
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN fmt SET DEFAULT 2,
    ALTER COLUMN at SET DEFAULT clock_timestamp(),
    ADD CONSTRAINT audit_log_chain_seq UNIQUE (chain, seq);

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON ticketpilot.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ticketpilot.audit_log_append_only();

-- Format 2: every field length-prefixed (no separator can be forged inside a field), the time in UTC to the
-- microsecond, details as jsonb's canonical text. include/store/audit/digest.py computes the same in Python.
CREATE FUNCTION ticketpilot.audit_digest(p_chain text, p_seq bigint, p_at timestamptz, p_actor text,
                                         p_action text, p_subject text, p_details jsonb, p_prev text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT encode(sha256(convert_to(string_agg(length(f)::text || ':' || f, '' ORDER BY n), 'UTF8')), 'hex')
    FROM unnest(ARRAY[p_chain, p_seq::text, to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                      p_actor, p_action, p_subject, p_details::text, p_prev]) WITH ORDINALITY AS t(f, n)
$$;

-- The chain's head, for the writer, which cannot SELECT the table.
CREATE FUNCTION ticketpilot.audit_head(p_chain text, OUT seq bigint, OUT hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT a.seq, a.hash FROM ticketpilot.audit_log a WHERE a.chain = p_chain ORDER BY a.seq DESC LIMIT 1
$$;

-- One round trip per append: the chain's lock (held to the caller's commit), its head, the digest, the row.
-- Runs as ticketpilot_audit_writer, which holds INSERT on the table and nothing else.
CREATE FUNCTION ticketpilot.audit_append(p_chain text, p_actor text, p_action text, p_subject text,
                                         p_details jsonb)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    v_head record;
    v_seq  bigint := 1;
    v_prev text := repeat('0', 64);
    v_at   timestamptz := clock_timestamp();
    v_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(727002, hashtext(p_chain));
    SELECT * INTO v_head FROM ticketpilot.audit_head(p_chain);
    IF v_head.seq IS NOT NULL THEN
        v_seq := v_head.seq + 1;
        v_prev := v_head.hash;
    END IF;
    v_hash := ticketpilot.audit_digest(p_chain, v_seq, v_at, p_actor, p_action, p_subject, p_details, v_prev);
    INSERT INTO ticketpilot.audit_log (chain, seq, at, actor, action, subject, details, prev_hash, hash, fmt)
    VALUES (p_chain, v_seq, v_at, p_actor, p_action, p_subject, p_details, v_prev, v_hash, 2);
    RETURN v_hash;
END $$;

-- The writer's grants, as a function: pg_restore --no-owner --no-privileges drops them, and a restore (or the
-- restore drill) calls this to put them back.
CREATE FUNCTION ticketpilot.audit_grant_writer() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ticketpilot_audit_writer') THEN
        CREATE ROLE ticketpilot_audit_writer NOLOGIN;
    END IF;
    REVOKE ALL ON ticketpilot.audit_log FROM PUBLIC;
    REVOKE ALL ON FUNCTION ticketpilot.audit_head(text) FROM PUBLIC;
    GRANT USAGE ON SCHEMA ticketpilot TO ticketpilot_audit_writer;
    GRANT INSERT ON ticketpilot.audit_log TO ticketpilot_audit_writer;
    GRANT USAGE ON SEQUENCE ticketpilot.audit_log_id_seq TO ticketpilot_audit_writer;
    GRANT EXECUTE ON FUNCTION ticketpilot.audit_head(text) TO ticketpilot_audit_writer;
    ALTER FUNCTION ticketpilot.audit_append(text, text, text, text, jsonb) OWNER TO ticketpilot_audit_writer;
END $$;
SELECT ticketpilot.audit_grant_writer();
