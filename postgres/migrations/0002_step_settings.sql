-- Each step one unit: the settings of every step live in one table, one
-- row per (rep, step), as the JSON of the step's own settings type. A new
-- step with settings then needs no table, column or store code of its own.
-- Profile photos are staged until the profile that shows them is saved.
-- The step lists hard-coded in CHECKs are replaced by a check of the key's
-- form: the valid keys are the Go step table's (onramp.StepKey.Valid),
-- checked by the store before every write, so a new step needs no
-- migration either.

ALTER TABLE photos ADD CONSTRAINT photos_id_org_user_key UNIQUE (id, org_id, user_id);

CREATE TABLE rep_settings (
    user_id    uuid NOT NULL,
    org_id     uuid NOT NULL,
    step       text NOT NULL CONSTRAINT rep_settings_step_check CHECK (step ~ '^[a-z][a-z_]{0,39}$'),
    data       jsonb NOT NULL CONSTRAINT rep_settings_data_check CHECK (jsonb_typeof(data) = 'object'),
    -- The photo the settings show (the profile's), so that it is kept, is
    -- of the same org and rep, and exists when the settings are saved.
    photo_id   uuid,
    updated_at timestamptz NOT NULL,
    CONSTRAINT rep_settings_pkey PRIMARY KEY (user_id, step),
    CONSTRAINT rep_settings_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE,
    CONSTRAINT rep_settings_photo_fkey FOREIGN KEY (photo_id, org_id, user_id) REFERENCES photos (id, org_id, user_id)
);
CREATE INDEX rep_settings_org_step_idx ON rep_settings (org_id, step);

-- A profile keeps its photo when the photo is the rep's own (the only kind
-- the first release could save); otherwise it is kept without one.
INSERT INTO rep_settings (user_id, org_id, step, data, photo_id, updated_at)
SELECT p.user_id, p.org_id, 'profile',
       jsonb_build_object('first_name', p.first_name, 'last_name', p.last_name, 'title', p.title, 'photo_id', coalesce(f.id::text, '')),
       f.id, p.updated_at
FROM profiles p
LEFT JOIN photos f ON f.id = p.photo_id AND f.org_id = p.org_id AND f.user_id = p.user_id;

INSERT INTO rep_settings (user_id, org_id, step, data, updated_at)
SELECT user_id, org_id, 'availability',
       jsonb_build_object('time_zone', time_zone, 'weekly', weekly, 'min_notice_minutes', min_notice_minutes, 'buffer_minutes', buffer_minutes),
       updated_at
FROM availability;

INSERT INTO rep_settings (user_id, org_id, step, data, updated_at)
SELECT user_id, org_id, 'notifications',
       jsonb_build_object('return_visitor_alerts', return_visitor_alerts, 'sound', sound, 'voice_alerts', voice_alerts, 'streams', streams),
       updated_at
FROM notification_prefs;

INSERT INTO rep_settings (user_id, org_id, step, data, updated_at)
SELECT user_id, org_id, 'browser',
       jsonb_build_object('notifications', notifications, 'camera', camera, 'microphone', microphone, 'user_agent', user_agent),
       updated_at
FROM browser_permissions;

DROP TABLE profiles, availability, notification_prefs, browser_permissions;

-- Uploads waiting for their profile to be saved. Never served; deleted
-- when their profile is saved (the photo moves to photos) or when stale.
CREATE TABLE photo_uploads (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL,
    user_id      uuid NOT NULL,
    content_type text NOT NULL CONSTRAINT photo_uploads_content_type_check CHECK (content_type IN ('image/jpeg', 'image/png')),
    width        integer NOT NULL CONSTRAINT photo_uploads_width_check CHECK (width > 0),
    height       integer NOT NULL CONSTRAINT photo_uploads_height_check CHECK (height > 0),
    data         bytea NOT NULL CONSTRAINT photo_uploads_data_check CHECK (length(data) > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT photo_uploads_user_fkey FOREIGN KEY (user_id, org_id) REFERENCES users (id, org_id) ON DELETE CASCADE
);
CREATE INDEX photo_uploads_user_idx ON photo_uploads (user_id, created_at);
CREATE INDEX photo_uploads_created_idx ON photo_uploads (created_at);

-- Photos no profile shows were uploads whose step was never saved, or
-- replaced ones: they were served publicly by mistake. They become staged
-- uploads (not served), so that a profile save that is stuck now still
-- finds its photo when support retries it; the 7-day clean-up removes the
-- rest.
INSERT INTO photo_uploads (id, org_id, user_id, content_type, width, height, data, created_at)
SELECT f.id, f.org_id, f.user_id, f.content_type, f.width, f.height, f.data, f.created_at
FROM photos f WHERE NOT EXISTS (SELECT 1 FROM rep_settings r WHERE r.photo_id = f.id);
DELETE FROM photos f WHERE NOT EXISTS (SELECT 1 FROM rep_settings r WHERE r.photo_id = f.id);

-- An org may not require a step its reps cannot complete: in this release
-- the integration steps (calendar, meeting, crm, apps) can only be skipped,
-- so an org of the first release that required one of them, whose reps
-- could never finish, has it optional again.
UPDATE orgs SET required_steps = ARRAY(
    SELECT k FROM unnest(required_steps) AS k WHERE k NOT IN ('calendar', 'meeting', 'crm', 'apps'))
WHERE required_steps && ARRAY['calendar', 'meeting', 'crm', 'apps'];

-- Step keys: checked by form, the list is the code's.
ALTER TABLE orgs DROP CONSTRAINT orgs_required_steps_check;
ALTER TABLE onboardings DROP CONSTRAINT onboardings_current_step_check,
    ADD CONSTRAINT onboardings_current_step_check CHECK (current_step ~ '^[a-z][a-z_]{0,39}$');
ALTER TABLE onboarding_steps DROP CONSTRAINT onboarding_steps_step_check,
    ADD CONSTRAINT onboarding_steps_step_check CHECK (step ~ '^[a-z][a-z_]{0,39}$'),
    DROP CONSTRAINT onboarding_steps_position_check,
    ADD CONSTRAINT onboarding_steps_position_check CHECK (position >= 0);
ALTER TABLE onboarding_events DROP CONSTRAINT onboarding_events_step_check,
    ADD CONSTRAINT onboarding_events_step_check CHECK (step ~ '^[a-z][a-z_]{0,39}$');

-- The connected calendar's zone, so a closed onboarding still checks the
-- rep's zone against it.
ALTER TABLE onboardings ADD COLUMN calendar_time_zone text NOT NULL DEFAULT '';

-- Reps whose onboarding has recorded nothing yet (created, workflow maybe
-- not started): found by the reconciler that starts them.
CREATE INDEX onboardings_unstarted_idx ON onboardings (updated_at) WHERE last_seq = 0;

-- onramp_rep_in_org fails the transaction it runs in (as a foreign-key
-- violation, so the store reports "not found") unless the rep is a user of
-- the org. Batches that upsert a rep's rows start with it: an upsert that
-- finds a row of the rep does not check the row's foreign key, so it alone
-- could not tell another org's request from a no-op.
CREATE FUNCTION onramp_rep_in_org(rep uuid, org uuid) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = rep AND org_id = org) THEN
        RAISE EXCEPTION 'user % is not in org %', rep, org
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'onramp_rep_in_org';
    END IF;
END
$$;
