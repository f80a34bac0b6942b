-- Roster identity store, PostgreSQL schema version 5: the values of each
-- user's and team's custom SCIM extension attributes (an Organization's
-- spec.extensionSchemas), as one jsonb object keyed by schema URN, e.g.
-- {"urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"costCenter": "4711"}};
-- '{}' when the user or team has none. Read it with jsonb operators:
-- extensions -> 'urn:…:acme:2.0:User' ->> 'costCenter'.
ALTER TABLE roster_users ADD COLUMN extensions jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE roster_teams ADD COLUMN extensions jsonb NOT NULL DEFAULT '{}'::jsonb;
