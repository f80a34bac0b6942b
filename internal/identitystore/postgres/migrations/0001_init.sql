-- Roster identity store, PostgreSQL schema version 1.
-- This schema is a contract for the applications that read it:
-- docs/identity-store.md describes every table and column.
--
-- Id columns use the "C" collation so that they sort bytewise, the order
-- ObserveMembers promises, straight from the primary key index.

CREATE TABLE roster_users (
    org          text COLLATE "C" NOT NULL,
    id           text COLLATE "C" NOT NULL,
    user_name    text             NOT NULL,
    external_id  text             NOT NULL DEFAULT '',
    display_name text             NOT NULL DEFAULT '',
    given_name   text             NOT NULL DEFAULT '',
    family_name  text             NOT NULL DEFAULT '',
    email        text             NOT NULL DEFAULT '',
    active       boolean          NOT NULL DEFAULT true,
    managed_by   text             NOT NULL DEFAULT '',
    created_at   timestamptz      NOT NULL DEFAULT now(),
    updated_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (org, id)
);

-- userName is unique within an org, ignoring case.
CREATE UNIQUE INDEX roster_users_org_lower_user_name_key
    ON roster_users (org, lower(user_name));
CREATE INDEX roster_users_org_external_id_idx
    ON roster_users (org, external_id) WHERE external_id <> '';

CREATE TABLE roster_teams (
    org          text COLLATE "C" NOT NULL,
    id           text COLLATE "C" NOT NULL,
    display_name text             NOT NULL DEFAULT '',
    external_id  text             NOT NULL DEFAULT '',
    managed_by   text             NOT NULL DEFAULT '',
    created_at   timestamptz      NOT NULL DEFAULT now(),
    updated_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (org, id)
);

-- No foreign keys to roster_users or roster_teams: Roster's controllers run
-- independently, so a membership can be written before its user or team row.
-- Join with roster_users to list only provisioned members.
CREATE TABLE roster_team_members (
    org        text COLLATE "C" NOT NULL,
    team_id    text COLLATE "C" NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    created_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (org, team_id, user_id)
);

-- The teams of a user; also what DeleteUser uses.
CREATE INDEX roster_team_members_org_user_id_idx
    ON roster_team_members (org, user_id);

-- Every change to memberships, including one made by hand, is announced on
-- the channel roster_team_members: one notification per changed team and
-- statement, payload {"org": ..., "team_id": ...}; an empty payload after
-- TRUNCATE means "any team". Roster's own writes are not announced: its
-- controllers know what they wrote, and would otherwise re-read a team's
-- members after every change they made. Roster's connections set
-- roster.writer = 'roster'; any other session is announced.
CREATE FUNCTION roster_team_members_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('roster.writer', true), '') = 'roster' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('roster_team_members', json_build_object('org', t.org, 'team_id', t.team_id)::text)
        FROM (SELECT DISTINCT n.org, n.team_id FROM new_rows n) AS t;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('roster_team_members', json_build_object('org', t.org, 'team_id', t.team_id)::text)
        FROM (SELECT DISTINCT o.org, o.team_id FROM old_rows o) AS t;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM pg_notify('roster_team_members', json_build_object('org', t.org, 'team_id', t.team_id)::text)
        FROM (SELECT o.org, o.team_id FROM old_rows o
              UNION
              SELECT n.org, n.team_id FROM new_rows n) AS t;
    ELSE
        PERFORM pg_notify('roster_team_members', '');
    END IF;
    RETURN NULL;
END
$$;

-- Statement-level triggers: a batch of 1,000 members sends one notification.
CREATE TRIGGER roster_team_members_notify_insert
    AFTER INSERT ON roster_team_members
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION roster_team_members_notify();
CREATE TRIGGER roster_team_members_notify_delete
    AFTER DELETE ON roster_team_members
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION roster_team_members_notify();
CREATE TRIGGER roster_team_members_notify_update
    AFTER UPDATE ON roster_team_members
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION roster_team_members_notify();
CREATE TRIGGER roster_team_members_notify_truncate
    AFTER TRUNCATE ON roster_team_members
    FOR EACH STATEMENT EXECUTE FUNCTION roster_team_members_notify();
