-- Roster identity store, SQLite schema version 5: the values of each user's
-- and team's custom SCIM extension attributes (an Organization's
-- spec.extensionSchemas), as one JSON object keyed by schema URN, e.g.
-- {"urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"costCenter":"4711"}}.
-- Roster writes it in a canonical form (keys sorted, no blanks); '{}' when the
-- user or team has none. Read it with SQLite's JSON functions:
-- json_extract(extensions, '$."urn:…:acme:2.0:User".costCenter').
ALTER TABLE roster_users ADD COLUMN extensions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE roster_teams ADD COLUMN extensions TEXT NOT NULL DEFAULT '{}';
