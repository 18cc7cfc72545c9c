/*
 * extension.c - where the installed extension lives: its schema (from
 * pg_extension), and the quoted, schema-qualified names of its relations.
 */
#include "catalog/extension.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "rewrite/rowsecurity.h"
#include "utils/rel.h"

/* The schema the extension was created in (pg_extension.extnamespace). */
Oid lstm_extension_schema(void)
{
    Oid ext = get_extension_oid("lstm", false);
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    SysScanDesc scan;
    HeapTuple tuple;
    Oid schema = InvalidOid;

    ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
    scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
    tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple))
        schema = ((Form_pg_extension)GETSTRUCT(tuple))->extnamespace;
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    if (!OidIsValid(schema))
        elog(ERROR, "extension lstm has no schema");
    return schema;
}

/* Quoted, schema-qualified name of one of the extension's own relations. */
char *lstm_extension_relation(const char *relname)
{
    char *schema = get_namespace_name(lstm_extension_schema());
    return psprintf("%s.%s", quote_identifier(schema), quote_identifier(relname));
}

/* Quoted, schema-qualified name of one of the extension's own functions. */
char *lstm_extension_function(const char *name)
{
    return lstm_extension_relation(name);
}

/* Are rel's row-level security policies exactly the n named ones? */
bool lstm_policies_are_own(Relation rel, const char *const *names, int n)
{
    ListCell *cell;
    int count = 0;

    if (rel->rd_rsdesc == NULL)
        return false;
    foreach (cell, rel->rd_rsdesc->policies) {
        RowSecurityPolicy *policy = (RowSecurityPolicy *)lfirst(cell);
        bool known = false;
        for (int i = 0; i < n; i++)
            known = known || strcmp(policy->policy_name, names[i]) == 0;
        if (!known)
            return false;
        count++;
    }
    return count == n;
}
