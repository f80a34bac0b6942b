-- Roster identity store, SQLite schema version 2: userNames are unique as
-- Roster folds them (Go's strings.ToLower, naming.Fold), not as SQLite's
-- lower() does, which folds ASCII letters only: "ÉVA" and "éva" are one user
-- to Roster (one id) and were two to the index.
--
-- This migration adds the column and drops the lower() index; Roster then
-- fills the column for the existing rows (in Go, in the same transaction),
-- and migration 0003 makes it NOT NULL and unique.
ALTER TABLE roster_users ADD COLUMN user_name_folded TEXT;
DROP INDEX roster_users_org_lower_user_name_key;
