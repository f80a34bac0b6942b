-- Roster identity store, PostgreSQL schema version 3: user_name_folded,
-- filled by Roster after migration 0002, is required and unique in an org.
-- Only rows inserted by hand can make this fail (Roster's own rows have ids
-- derived from the same folding); the error names the duplicate.
ALTER TABLE roster_users ALTER COLUMN user_name_folded SET NOT NULL;
CREATE UNIQUE INDEX roster_users_org_user_name_folded_key
    ON roster_users (org, user_name_folded);
