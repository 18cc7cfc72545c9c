-- lstm 0.3 -> 0.4 upgrade script (ALTER EXTENSION lstm UPDATE TO '0.4').

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION lstm UPDATE TO '0.4'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- lstm_stream_states filled to half (fillfactor 50), as 0.4 creates it.
-- ---------------------------------------------------------------------------

-- The scoring trigger updates one row per series per statement (HOT updates):
-- half-full pages leave room for several new versions between prunings. The
-- setting applies to pages filled from now on; pages already full keep their
-- rows until VACUUM FULL or CLUSTER rewrites them.
ALTER TABLE @extschema@.lstm_stream_states SET (fillfactor = 50);
