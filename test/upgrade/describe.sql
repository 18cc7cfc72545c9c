-- describe.sql - a text description of everything the lstm extension owns, for comparing a
-- fresh install of the current version with an older version brought up by ALTER EXTENSION
-- UPDATE (test/t/004_upgrade.pl). One line per object or property, sorted.
WITH ext AS (SELECT oid, extnamespace FROM pg_catalog.pg_extension WHERE extname = 'lstm'),
members AS (
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, ext
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.refobjid = ext.oid AND d.deptype = 'e'),
tables AS (
    SELECT c.oid FROM pg_catalog.pg_class c JOIN members m
        ON m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND m.objid = c.oid
    WHERE c.relkind IN ('r', 'p'))
SELECT line FROM (
    -- functions, procedures and aggregates: their whole definition (an aggregate's
    -- PARALLEL label is only in proparallel, so it is printed for every function)
    SELECT 'function ' || p.oid::pg_catalog.regprocedure::text || ': ' ||
           CASE WHEN p.prokind = 'a' THEN
                    pg_catalog.format('aggregate sfunc=%s stype=%s final=%s modify=%s combine=%s',
                                      a.aggtransfn::regproc, a.aggtranstype::regtype,
                                      a.aggfinalfn::regproc, a.aggfinalmodify, a.aggcombinefn::regproc)
                ELSE pg_catalog.regexp_replace(pg_catalog.pg_get_functiondef(p.oid),
                                               'CREATE OR REPLACE', 'CREATE') END ||
           ' parallel=' || p.proparallel::text ||
           ' comment=' || COALESCE(pg_catalog.obj_description(p.oid, 'pg_proc'), '-') AS line
    FROM pg_catalog.pg_proc p
    JOIN members m ON m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND m.objid = p.oid
    LEFT JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
    UNION ALL
    -- types, casts, operators
    SELECT 'type ' || t.oid::regtype::text || ' in=' || t.typinput::text || ' out=' ||
           t.typoutput::text || ' recv=' || t.typreceive::text || ' send=' || t.typsend::text ||
           ' storage=' || t.typstorage::text || ' align=' || t.typalign::text ||
           ' comment=' || COALESCE(pg_catalog.obj_description(t.oid, 'pg_type'), '-')
    FROM pg_catalog.pg_type t
    JOIN members m ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND m.objid = t.oid
    UNION ALL
    SELECT 'cast ' || c.castsource::regtype::text || ' -> ' || c.casttarget::regtype::text ||
           ' via ' || c.castfunc::regprocedure::text || ' ' || c.castcontext::text
    FROM pg_catalog.pg_cast c
    JOIN members m ON m.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass AND m.objid = c.oid
    UNION ALL
    -- tables: columns with defaults, constraints, indexes, triggers, policies, RLS, storage
    -- parameters (reloptions, such as fillfactor), comments
    SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' ' ||
           pg_catalog.format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN
           ' not null' ELSE '' END || COALESCE(' default ' ||
           pg_catalog.pg_get_expr(d.adbin, d.adrelid), '') || ' comment=' ||
           COALESCE(pg_catalog.col_description(a.attrelid, a.attnum), '-')
    FROM pg_catalog.pg_attribute a JOIN tables t ON t.oid = a.attrelid
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint ' || c.conrelid::regclass::text || ' ' ||
           pg_catalog.pg_get_constraintdef(c.oid)
    FROM pg_catalog.pg_constraint c JOIN tables t ON t.oid = c.conrelid
    UNION ALL
    SELECT 'index ' || pg_catalog.regexp_replace(pg_catalog.pg_get_indexdef(i.indexrelid),
                                                 'INDEX \S+ ON', 'INDEX ON')
    FROM pg_catalog.pg_index i JOIN tables t ON t.oid = i.indrelid
    UNION ALL
    SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(g.oid)
    FROM pg_catalog.pg_trigger g JOIN tables t ON t.oid = g.tgrelid WHERE NOT g.tgisinternal
    UNION ALL
    SELECT 'policy ' || p.polrelid::regclass::text || ' ' || p.polname || ' ' || p.polcmd::text ||
           ' using=' || COALESCE(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-') ||
           ' check=' || COALESCE(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-')
    FROM pg_catalog.pg_policy p JOIN tables t ON t.oid = p.polrelid
    UNION ALL
    SELECT 'table ' || c.oid::regclass::text || ' rls=' || c.relrowsecurity::text ||
           ' force=' || c.relforcerowsecurity::text || ' options=' ||
           COALESCE(c.reloptions::text, '-') || ' comment=' ||
           COALESCE(pg_catalog.obj_description(c.oid, 'pg_class'), '-') || ' dumped=' ||
           (c.oid = ANY (e.extconfig))::text
    FROM pg_catalog.pg_class c JOIN tables t ON t.oid = c.oid, pg_catalog.pg_extension e
    WHERE e.extname = 'lstm'
    UNION ALL
    SELECT 'member ' || pg_catalog.pg_describe_object(m.classid, m.objid, 0) FROM members m
) AS description
ORDER BY line;
