-- Onramp's initial schema: orgs, users, sessions, settings, the onboarding
-- projection and step-event log, and the audit log.
--
-- Tables owned by a user carry (user_id, org_id) and reference
-- users (id, org_id), so a row can never belong to a user of another org.

CREATE TABLE orgs (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CONSTRAINT orgs_name_check CHECK (name <> ''),
    slug                text NOT NULL CONSTRAINT orgs_slug_check CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 63),
    required_steps      text[] NOT NULL DEFAULT '{}'
        CONSTRAINT orgs_required_steps_check CHECK (required_steps <@ ARRAY['account','calendar','profile','meeting','crm','availability','notifications','browser','apps','finish']),
    salesforce_org_wide boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orgs_slug_key UNIQUE (slug)
);

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid NOT NULL CONSTRAINT users_org_fkey REFERENCES orgs (id) ON DELETE CASCADE,
    email         text NOT NULL CONSTRAINT users_email_check CHECK (email <> '' AND email = lower(email)),
    name          text NOT NULL CONSTRAINT users_name_check CHECK (name <> ''),
    role          text NOT NULL CONSTRAINT users_role_check CHECK (role IN ('rep', 'admin', 'support')),
    status        text NOT NULL DEFAULT 'invited'
        CONSTRAINT users_status_check CHECK (status IN ('invited', 'onboarding', 'ready', 'disabled')),
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_id_org_key UNIQUE (id, org_id)
);
-- Login is by email alone, so emails are unique across orgs.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
-- The admin's rep list: reps of one org, by status, oldest first.
CREATE INDEX users_org_role_idx ON users (org_id, role, created_at);
CREATE INDEX users_org_status_idx ON users (org_id, status);

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY CONSTRAINT sessions_token_hash_check CHECK (length(token_hash) = 32),
    user_id    uuid NOT NULL,
    org_id     uuid NOT NULL,
    csrf_token text NOT NULL CONSTRAINT sessions_csrf_token_check CHECK (csrf_token <> ''),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sessions_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE photos (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL,
    user_id      uuid NOT NULL,
    content_type text NOT NULL CONSTRAINT photos_content_type_check CHECK (content_type IN ('image/jpeg', 'image/png')),
    width        integer NOT NULL CONSTRAINT photos_width_check CHECK (width > 0),
    height       integer NOT NULL CONSTRAINT photos_height_check CHECK (height > 0),
    data         bytea NOT NULL CONSTRAINT photos_data_check CHECK (length(data) > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT photos_id_org_key UNIQUE (id, org_id),
    CONSTRAINT photos_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
CREATE INDEX photos_user_idx ON photos (org_id, user_id);

CREATE TABLE profiles (
    user_id    uuid PRIMARY KEY,
    org_id     uuid NOT NULL,
    first_name text NOT NULL,
    last_name  text NOT NULL,
    title      text NOT NULL,
    photo_id   uuid,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT profiles_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE,
    -- The photo must be one of the same org.
    CONSTRAINT profiles_photo_fkey FOREIGN KEY (photo_id, org_id) REFERENCES photos (id, org_id)
);
CREATE INDEX profiles_org_idx ON profiles (org_id);

CREATE TABLE availability (
    user_id            uuid PRIMARY KEY,
    org_id             uuid NOT NULL,
    time_zone          text NOT NULL CONSTRAINT availability_time_zone_check CHECK (time_zone <> ''),
    weekly             jsonb NOT NULL CONSTRAINT availability_weekly_check CHECK (jsonb_typeof(weekly) = 'object'),
    min_notice_minutes integer NOT NULL CONSTRAINT availability_min_notice_check CHECK (min_notice_minutes BETWEEN 0 AND 43200),
    buffer_minutes     integer NOT NULL CONSTRAINT availability_buffer_check CHECK (buffer_minutes BETWEEN 0 AND 240),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT availability_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
CREATE INDEX availability_org_idx ON availability (org_id);

CREATE TABLE notification_prefs (
    user_id               uuid PRIMARY KEY,
    org_id                uuid NOT NULL,
    return_visitor_alerts boolean NOT NULL,
    sound                 text NOT NULL,
    voice_alerts          boolean NOT NULL,
    streams               jsonb NOT NULL CONSTRAINT notification_prefs_streams_check CHECK (jsonb_typeof(streams) = 'object'),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_prefs_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
CREATE INDEX notification_prefs_org_idx ON notification_prefs (org_id);

CREATE TABLE browser_permissions (
    user_id       uuid PRIMARY KEY,
    org_id        uuid NOT NULL,
    notifications text NOT NULL CONSTRAINT browser_permissions_notifications_check CHECK (notifications IN ('granted', 'denied', 'prompt')),
    camera        text NOT NULL CONSTRAINT browser_permissions_camera_check CHECK (camera IN ('granted', 'denied', 'prompt')),
    microphone    text NOT NULL CONSTRAINT browser_permissions_microphone_check CHECK (microphone IN ('granted', 'denied', 'prompt')),
    user_agent    text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT browser_permissions_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
CREATE INDEX browser_permissions_org_idx ON browser_permissions (org_id);

-- Admin-defined visitor streams (the built-in ones are in code).
CREATE TABLE streams (
    org_id     uuid NOT NULL CONSTRAINT streams_org_fkey REFERENCES orgs (id) ON DELETE CASCADE,
    key        text NOT NULL CONSTRAINT streams_key_check CHECK (
        key ~ '^[a-z][a-z0-9_]{0,39}$'
        AND key NOT IN ('waiting_for_rep', 'vip', 'high_intent', 'return_visitors')),
    name       text NOT NULL CONSTRAINT streams_name_check CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT streams_pkey PRIMARY KEY (org_id, key)
);

-- The onboarding projection: one row per rep, one per (rep, step).
CREATE TABLE onboardings (
    rep_id       uuid PRIMARY KEY,
    org_id       uuid NOT NULL,
    workflow_id  text NOT NULL,
    current_step text NOT NULL CONSTRAINT onboardings_current_step_check CHECK (
        current_step IN ('account','calendar','profile','meeting','crm','availability','notifications','browser','apps','finish')),
    finished     boolean NOT NULL DEFAULT false,
    last_seq     integer NOT NULL DEFAULT 0 CONSTRAINT onboardings_last_seq_check CHECK (last_seq >= 0),
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT onboardings_rep_fkey FOREIGN KEY (rep_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE,
    CONSTRAINT onboardings_finished_check CHECK (finished = (finished_at IS NOT NULL))
);
CREATE INDEX onboardings_org_idx ON onboardings (org_id, current_step);

CREATE TABLE onboarding_steps (
    rep_id       uuid NOT NULL,
    step         text NOT NULL CONSTRAINT onboarding_steps_step_check CHECK (
        step IN ('account','calendar','profile','meeting','crm','availability','notifications','browser','apps','finish')),
    org_id       uuid NOT NULL,
    position     integer NOT NULL CONSTRAINT onboarding_steps_position_check CHECK (position BETWEEN 0 AND 9),
    status       text NOT NULL CONSTRAINT onboarding_steps_status_check CHECK (
        status IN ('pending', 'in_progress', 'done', 'skipped', 'needs_action', 'stuck')),
    required     boolean NOT NULL,
    attempts     integer NOT NULL DEFAULT 0 CONSTRAINT onboarding_steps_attempts_check CHECK (attempts >= 0),
    last_error   text NOT NULL DEFAULT '',
    message      text NOT NULL DEFAULT '',
    started_at   timestamptz,
    completed_at timestamptz,
    updated_at   timestamptz NOT NULL,
    seq          integer NOT NULL CONSTRAINT onboarding_steps_seq_check CHECK (seq >= 0),
    CONSTRAINT onboarding_steps_pkey PRIMARY KEY (rep_id, step),
    CONSTRAINT onboarding_steps_rep_fkey FOREIGN KEY (rep_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
-- Who is stuck (support), who needs action (admins).
CREATE INDEX onboarding_steps_org_status_idx ON onboarding_steps (org_id, status);

CREATE TABLE onboarding_events (
    id          bigserial PRIMARY KEY,
    org_id      uuid NOT NULL,
    rep_id      uuid NOT NULL,
    seq         integer NOT NULL CONSTRAINT onboarding_events_seq_check CHECK (seq >= 0),
    step        text NOT NULL CONSTRAINT onboarding_events_step_check CHECK (
        step IN ('account','calendar','profile','meeting','crm','availability','notifications','browser','apps','finish')),
    from_status text NOT NULL DEFAULT '' CONSTRAINT onboarding_events_from_check CHECK (
        from_status IN ('', 'pending', 'in_progress', 'done', 'skipped', 'needs_action', 'stuck')),
    to_status   text NOT NULL CONSTRAINT onboarding_events_to_check CHECK (
        to_status IN ('pending', 'in_progress', 'done', 'skipped', 'needs_action', 'stuck')),
    error       text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    CONSTRAINT onboarding_events_rep_seq_key UNIQUE (rep_id, seq),
    CONSTRAINT onboarding_events_rep_fkey FOREIGN KEY (rep_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
CREATE INDEX onboarding_events_org_at_idx ON onboarding_events (org_id, at);

-- Every admin and support action. Kept when the actor is deleted.
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    org_id   uuid NOT NULL CONSTRAINT audit_log_org_fkey REFERENCES orgs (id) ON DELETE CASCADE,
    actor_id uuid,
    action   text NOT NULL CONSTRAINT audit_log_action_check CHECK (action <> ''),
    target   text NOT NULL DEFAULT '',
    detail   jsonb NOT NULL DEFAULT '{}',
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_org_at_idx ON audit_log (org_id, at DESC);
