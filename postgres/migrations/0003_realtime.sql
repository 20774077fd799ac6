-- Real-time notifications and chat (docs/REALTIME.md).
--
-- Everything shown live is first appended to a feed: a gapless, ordered
-- sequence per reader (user:<id>, org:<id>, conv:<id>). feed_heads holds
-- each feed's last seq; an append bumps it in the entry's transaction, so
-- concurrent appends to one feed are ordered by the head's row lock and a
-- rolled-back append gives its number back. A reader's position is then
-- one number per feed, and what it missed is seq > position.

CREATE TABLE feed_heads (
    feed   text PRIMARY KEY CONSTRAINT feed_heads_feed_check CHECK (feed ~ '^(user|org|conv):[0-9a-f-]{36}$'),
    org_id uuid NOT NULL CONSTRAINT feed_heads_org_fkey REFERENCES orgs (id) ON DELETE CASCADE,
    seq    bigint NOT NULL CONSTRAINT feed_heads_seq_check CHECK (seq > 0)
);

CREATE TABLE feed_entries (
    feed   text NOT NULL,
    seq    bigint NOT NULL,
    org_id uuid NOT NULL CONSTRAINT feed_entries_org_fkey REFERENCES orgs (id) ON DELETE CASCADE,
    type   text NOT NULL CONSTRAINT feed_entries_type_check CHECK (type <> ''),
    rep_id uuid, -- the rep the entry is about, if any
    data   jsonb NOT NULL,
    at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feed_entries_pkey PRIMARY KEY (feed, seq)
);
-- Pruning by age.
CREATE INDEX feed_entries_at_idx ON feed_entries (at);

-- onramp_feed_append appends one entry and returns its seq, or NULL when
-- the feed belongs to another org (nothing is written then). The entry's
-- time is the database's (its transaction's start), what retention counts
-- from; pruning removes a prefix of each feed, never a hole.
CREATE FUNCTION onramp_feed_append(p_feed text, p_org uuid, p_type text, p_rep uuid, p_data jsonb)
RETURNS bigint LANGUAGE sql AS $$
    WITH h AS (
        INSERT INTO feed_heads AS f (feed, org_id, seq) VALUES (p_feed, p_org, 1)
        ON CONFLICT (feed) DO UPDATE SET seq = f.seq + 1 WHERE f.org_id = EXCLUDED.org_id
        RETURNING seq)
    INSERT INTO feed_entries (feed, seq, org_id, type, rep_id, data, at)
    SELECT p_feed, h.seq, p_org, p_type, p_rep, p_data, now() FROM h
    RETURNING seq
$$;

-- Admin-defined streams get rules on visitor events' fields.
ALTER TABLE streams ADD COLUMN rules jsonb NOT NULL DEFAULT '[]'
    CONSTRAINT streams_rules_check CHECK (jsonb_typeof(rules) = 'array');

-- Per-org API keys for the visitor-events API, stored as SHA-256 hashes.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL CONSTRAINT api_keys_org_fkey REFERENCES orgs (id) ON DELETE CASCADE,
    name         text NOT NULL CONSTRAINT api_keys_name_check CHECK (name <> ''),
    key_hash     bytea NOT NULL CONSTRAINT api_keys_key_hash_check CHECK (length(key_hash) = 32),
    hint         text NOT NULL, -- the key's last characters, to tell keys apart
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at);

-- Visitor events received, by the sender's ID: sending one again is a
-- no-op for as long as it is kept (the feeds' retention).
CREATE TABLE visitor_events (
    org_id      uuid NOT NULL CONSTRAINT visitor_events_org_fkey REFERENCES orgs (id) ON DELETE CASCADE,
    event_id    text NOT NULL,
    type        text NOT NULL,
    visitor_id  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT visitor_events_pkey PRIMARY KEY (org_id, event_id)
);
CREATE INDEX visitor_events_received_idx ON visitor_events (received_at);

-- Chat: one conversation between a visitor (holding its token) and the rep
-- who accepted it.
CREATE TABLE conversations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL CONSTRAINT conversations_org_fkey REFERENCES orgs (id) ON DELETE CASCADE,
    visitor_id   text NOT NULL,
    visitor_name text NOT NULL DEFAULT '',
    token_hash   bytea NOT NULL CONSTRAINT conversations_token_hash_check CHECK (length(token_hash) = 32),
    state        text NOT NULL DEFAULT 'waiting'
        CONSTRAINT conversations_state_check CHECK (state IN ('waiting', 'active', 'ended')),
    rep_id       uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    accepted_at  timestamptz,
    ended_at     timestamptz,
    escalated_at timestamptz,
    CONSTRAINT conversations_token_hash_key UNIQUE (token_hash),
    CONSTRAINT conversations_rep_fkey FOREIGN KEY (rep_id, org_id) REFERENCES users (id, org_id) ON DELETE SET NULL (rep_id)
);
CREATE INDEX conversations_org_state_idx ON conversations (org_id, state, created_at);
CREATE INDEX conversations_waiting_idx ON conversations (created_at) WHERE state = 'waiting' AND escalated_at IS NULL;

CREATE TABLE chat_messages (
    id              bigserial PRIMARY KEY,
    conversation_id uuid NOT NULL CONSTRAINT chat_messages_conversation_fkey REFERENCES conversations (id) ON DELETE CASCADE,
    sender          text NOT NULL CONSTRAINT chat_messages_sender_check CHECK (sender IN ('visitor', 'rep')),
    rep_id          uuid,
    text            text NOT NULL CONSTRAINT chat_messages_text_check CHECK (text <> ''),
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_conversation_idx ON chat_messages (conversation_id, id);

-- Mobile devices registered for push (by the mobile app's sign-in).
CREATE TABLE push_devices (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id     uuid NOT NULL,
    user_id    uuid NOT NULL,
    platform   text NOT NULL CONSTRAINT push_devices_platform_check CHECK (platform IN ('ios', 'android')),
    token      text NOT NULL CONSTRAINT push_devices_token_check CHECK (token <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT push_devices_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
CREATE INDEX push_devices_user_idx ON push_devices (user_id) WHERE revoked_at IS NULL;
