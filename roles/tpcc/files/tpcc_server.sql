-- What the role asks of the server before it changes anything: its version, whether the user
-- is a superuser (tablespaces need one), how many connections it takes (pgbench opens one per
-- terminal), and the tablespaces with their directories.
SELECT json_build_object(
    'version', version(),
    'max_connections', current_setting('max_connections')::integer,
    'connections', (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
    'superuser', (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
    'tablespaces', (SELECT coalesce(json_object_agg(spcname, pg_tablespace_location(oid)), '{}')
                    FROM pg_tablespace)
);
