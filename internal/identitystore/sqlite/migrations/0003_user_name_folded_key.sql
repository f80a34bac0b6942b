-- Roster identity store, SQLite schema version 3: user_name_folded, filled
-- by Roster after migration 0002, is required and unique in an org. SQLite
-- cannot add NOT NULL to a column, so the table is rebuilt with the same
-- columns in the same order. Only rows inserted by hand can make the unique
-- index fail (Roster's own rows have ids derived from the same folding).
CREATE TABLE roster_users_v3 (
    org              TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    user_name        TEXT    NOT NULL,
    external_id      TEXT    NOT NULL DEFAULT '',
    display_name     TEXT    NOT NULL DEFAULT '',
    given_name       TEXT    NOT NULL DEFAULT '',
    family_name      TEXT    NOT NULL DEFAULT '',
    email            TEXT    NOT NULL DEFAULT '',
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    managed_by       TEXT    NOT NULL DEFAULT '',
    created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    user_name_folded TEXT    NOT NULL,
    PRIMARY KEY (org, id)
) WITHOUT ROWID;

INSERT INTO roster_users_v3 (org, id, user_name, external_id, display_name, given_name,
    family_name, email, active, managed_by, created_at, updated_at, user_name_folded)
SELECT org, id, user_name, external_id, display_name, given_name,
    family_name, email, active, managed_by, created_at, updated_at, user_name_folded
FROM roster_users;

DROP TABLE roster_users;
ALTER TABLE roster_users_v3 RENAME TO roster_users;

CREATE UNIQUE INDEX roster_users_org_user_name_folded_key
    ON roster_users (org, user_name_folded);
CREATE INDEX roster_users_org_external_id_idx
    ON roster_users (org, external_id) WHERE external_id <> '';
