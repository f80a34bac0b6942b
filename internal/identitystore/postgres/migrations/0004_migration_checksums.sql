-- Roster identity store, PostgreSQL schema version 4: each applied
-- migration's checksum (hex SHA-256 of its file) is recorded next to its
-- version, and Roster refuses to start on a database where an applied
-- migration's checksum differs from its own file's (the migration was edited
-- after it was applied). Roster fills the checksums of migrations applied
-- before this one from its embedded files, in the same transaction.
ALTER TABLE roster_schema_migrations ADD COLUMN checksum text NOT NULL DEFAULT '';
