-- A storage's tablespace (made once, in the storage's directory) and a fresh database in it:
-- empty, or with psql variable template a copy of that loaded database, every file written
-- again into this tablespace by the server (tpcc_load_once).
-- psql variables: tablespace, location, database [, template]. Run on the database postgres.
SELECT NOT EXISTS (SELECT 1 FROM pg_tablespace WHERE spcname = :'tablespace') AS missing \gset
\if :missing
CREATE TABLESPACE :"tablespace" LOCATION :'location';
\endif
-- Sessions left in the old database would block its drop (DROP DATABASE ... WITH (FORCE) is
-- newer than some PostgreSQL-derived engines).
SELECT count(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity
    WHERE datname = :'database' AND pid <> pg_backend_pid() \gset
DROP DATABASE IF EXISTS :"database";
\if :{?template}
-- A template may have no other session while it is copied.
SELECT count(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity
    WHERE datname = :'template' AND pid <> pg_backend_pid() \gset
CREATE DATABASE :"database" TEMPLATE :"template" TABLESPACE :"tablespace";
\else
CREATE DATABASE :"database" TABLESPACE :"tablespace";
\endif
