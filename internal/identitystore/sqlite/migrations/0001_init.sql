-- Roster identity store, SQLite schema version 1.
-- The same tables and columns as the PostgreSQL schema; docs/identity-store.md
-- describes them. SQLite has no boolean or timestamp types:
--   active     INTEGER 1 or 0
--   *_at       TEXT, UTC ISO 8601 with microseconds, e.g. 2026-01-02T15:04:05.123456Z
-- Text compares bytewise (BINARY collation), so ids sort as ObserveMembers
-- promises. lower() folds ASCII letters only.

CREATE TABLE roster_users (
    org          TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    user_name    TEXT    NOT NULL,
    external_id  TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL DEFAULT '',
    given_name   TEXT    NOT NULL DEFAULT '',
    family_name  TEXT    NOT NULL DEFAULT '',
    email        TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    managed_by   TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (org, id)
) WITHOUT ROWID;

CREATE UNIQUE INDEX roster_users_org_lower_user_name_key
    ON roster_users (org, lower(user_name));
CREATE INDEX roster_users_org_external_id_idx
    ON roster_users (org, external_id) WHERE external_id <> '';

CREATE TABLE roster_teams (
    org          TEXT NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    external_id  TEXT NOT NULL DEFAULT '',
    managed_by   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (org, id)
) WITHOUT ROWID;

-- No foreign keys: a membership can be written before its user or team row.
CREATE TABLE roster_team_members (
    org        TEXT NOT NULL,
    team_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (org, team_id, user_id)
) WITHOUT ROWID;

CREATE INDEX roster_team_members_org_user_id_idx
    ON roster_team_members (org, user_id);
