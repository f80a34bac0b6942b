-- Roster identity store, PostgreSQL schema version 2: userNames are unique
-- as Roster folds them, not as lower() does.
--
-- lower() folds by the database's locale: only ASCII under the C locale, and
-- context-sensitively under ICU (a final capital sigma becomes "ς"). Roster
-- names every user by a digest of its own folding (Go's strings.ToLower,
-- naming.Fold), so a unique index on lower(user_name) refused users Roster
-- holds apart and let through rows Roster holds to be one user. The folded
-- name is therefore computed by Roster and stored in user_name_folded.
--
-- This migration adds the column and drops the lower() index; Roster then
-- fills the column for the existing rows (in Go, in the same transaction),
-- and migration 0003 makes it NOT NULL and unique.
ALTER TABLE roster_users ADD COLUMN user_name_folded text;
DROP INDEX roster_users_org_lower_user_name_key;
