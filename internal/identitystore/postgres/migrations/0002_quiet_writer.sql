-- Roster's own membership writes are not announced: the controllers know what they wrote, and
-- announcing it made them re-read the team's members after every change they made (costly
-- for a 100,000-member team). Roster's connections set roster.writer = 'roster'; writes
-- from any other session (a DBA, another application) are announced as before.
CREATE OR REPLACE FUNCTION roster_team_members_notify() RETURNS trigger
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
