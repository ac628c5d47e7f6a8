/*
 * sync_fdw_capture: the row-level capture trigger of sync-fdw in C.
 *
 * It writes exactly the row the PL/pgSQL capture functions write
 * (sql/hop/capture.sql, hop/sqlgen.c): into sync_fdw_src.changes, change_id
 * from sync_fdw_src.change_seq, xid = pg_current_xact_id(), ts =
 * statement_timestamp(), the table's number, the operation and the row
 * images as record_out text (the new image for inserts and updates, the old
 * one for deletes; updates keep the old one too).
 *
 * Why C: a PL/pgSQL trigger's INSERT goes through SPI, which starts an
 * executor for every captured row (the change row's projection and its
 * functions looked up again each time, the plan cache checked, the column
 * output functions of record_out looked up afresh): ~69,000 instructions
 * per captured write, +48% of a single-row write.  Here the change row is
 * formed directly, inserted into the heap and its index, and record_out
 * keeps its per-column lookups across calls.
 *
 * Trigger arguments: the table's number in the change log, and optionally
 * "settings": the table has a column whose text follows the session's
 * settings (dates, intervals, floats), so the images are made under
 * DateStyle 'ISO, MDY', IntervalStyle 'postgres', extra_float_digits 1,
 * as the PL/pgSQL functions' SET clause does.
 *
 * Safety, as for the PL/pgSQL functions: nothing is looked up through the
 * caller's search_path (the log and its sequence are found by schema and
 * name), no privilege on the log is needed or checked (the extension
 * revokes EXECUTE from PUBLIC: only its owner attaches the trigger), and a
 * change log whose layout is not the expected one is an error, never a
 * silently different row.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/xid8.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(sync_fdw_capture_row);

/* The change log, found by name once and forgotten when either changes. */
static Oid log_oid = InvalidOid;
static Oid seq_oid = InvalidOid;
static bool callback_registered = false;

/* record_out of each captured row type, with its column lookups cached */
struct image_out {
	Oid type;
	FmgrInfo fi;
};
static struct image_out *outs = NULL;
static int nouts = 0, maxouts = 0;

static void forget(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == log_oid || relid == seq_oid) {
		log_oid = InvalidOid;
		seq_oid = InvalidOid;
	}
}

/* The change log's columns, in order: name and type. */
static const struct {
	const char *name;
	Oid type;
} log_columns[] = {
	{ "change_id", INT8OID }, { "xid", XID8OID }, { "ts", TIMESTAMPTZOID }, { "tbl", INT2OID },
	{ "op", CHAROID },	  { "img", TEXTOID }, { "old", TEXTOID },
};
#define NLOG ((int)lengthof(log_columns))

static void find_log(void)
{
	Oid ns = get_namespace_oid("sync_fdw_src", true);
	Oid rel = OidIsValid(ns) ? get_relname_relid("changes", ns) : InvalidOid;
	Oid seq = OidIsValid(ns) ? get_relname_relid("change_seq", ns) : InvalidOid;
	if (!OidIsValid(rel) || !OidIsValid(seq))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
				errmsg("sync-fdw capture: the change log sync_fdw_src.changes or its sequence is missing"),
				errhint("run \"sync-fdw capture install\" again, or remove the capture")));
	if (!callback_registered) {
		CacheRegisterRelcacheCallback(forget, (Datum)0);
		callback_registered = true;
	}
	log_oid = rel;
	seq_oid = seq;
}

/*
 * Open the change log, checking its layout (the relcache entry is checked,
 * which costs nothing next to the insert); *seq: its sequence.  The OIDs
 * are copied first: taking the lock processes invalidations, and any of
 * them (an ANALYZE of the log, a cache reset) may run forget() right here.
 */
static Relation open_log(Oid *seq)
{
	if (!OidIsValid(log_oid) || !OidIsValid(seq_oid))
		find_log();
	Oid rel_oid = log_oid;
	*seq = seq_oid;
	Relation rel = table_open(rel_oid, RowExclusiveLock);
	TupleDesc d = RelationGetDescr(rel);
	bool ok = rel->rd_rel->relkind == RELKIND_RELATION && rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
		  d->natts == NLOG;
	for (int i = 0; ok && i < NLOG; i++) {
		Form_pg_attribute a = TupleDescAttr(d, i);
		ok = !a->attisdropped && a->atttypid == log_columns[i].type &&
		     strcmp(NameStr(a->attname), log_columns[i].name) == 0;
	}
	if (!ok)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("sync-fdw capture: sync_fdw_src.changes does not have the layout this "
				       "trigger writes"),
				errhint("run \"sync-fdw capture install\" again, or remove the capture")));
	return rel;
}

static FmgrInfo *image_out_for(Oid type)
{
	for (int i = 0; i < nouts; i++)
		if (outs[i].type == type)
			return &outs[i].fi;
	if (nouts == maxouts) {
		int n = maxouts ? maxouts * 2 : 8;
		outs = outs ? repalloc(outs, n * sizeof *outs)
			    : MemoryContextAlloc(TopMemoryContext, n * sizeof *outs);
		maxouts = n;
	}
	outs[nouts].type = type;
	fmgr_info_cxt(F_RECORD_OUT, &outs[nouts].fi, TopMemoryContext);
	return &outs[nouts++].fi;
}

static text *image(HeapTuple tuple, TupleDesc desc)
{
	Datum row = heap_copy_tuple_as_datum(tuple, desc);
	return cstring_to_text(OutputFunctionCall(image_out_for(desc->tdtypeid), row));
}

static void insert_change(int16 tbl, char op, text *img, text *old)
{
	Oid seq;
	Relation rel = open_log(&seq);
	Datum values[NLOG];
	bool nulls[NLOG] = { false };

	values[0] = Int64GetDatum(nextval_internal(seq, false));
	values[1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	values[2] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
	values[3] = Int16GetDatum(tbl);
	values[4] = CharGetDatum(op);
	values[5] = PointerGetDatum(img);
	values[6] = old ? PointerGetDatum(old) : (Datum)0;
	nulls[6] = old == NULL;

	HeapTuple tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	simple_heap_insert(rel, tup);

	List *indexes = RelationGetIndexList(rel);
	ListCell *lc;
	foreach (lc, indexes) {
		Relation irel = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo *ii = BuildIndexInfo(irel);
		Datum iv[INDEX_MAX_KEYS];
		bool in[INDEX_MAX_KEYS];
		if (!ii->ii_ReadyForInserts) {	/* being built concurrently: as the executor does */
			index_close(irel, NoLock);
			continue;
		}
		if (ii->ii_Expressions != NIL || ii->ii_Predicate != NIL)
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					errmsg("sync-fdw capture: index \"%s\" of sync_fdw_src.changes has "
					       "expressions or a predicate, which this trigger does not maintain",
					       RelationGetRelationName(irel)),
					errhint("drop it, or install the capture with capture.function: plpgsql")));
		for (int k = 0; k < ii->ii_NumIndexAttrs; k++) {
			AttrNumber att = ii->ii_IndexAttrNumbers[k];
			iv[k] = values[att - 1];
			in[k] = nulls[att - 1];
		}
		index_insert(irel, iv, in, &tup->t_self, rel,
			     irel->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, ii);
		index_close(irel, NoLock);
	}
	list_free(indexes);
	heap_freetuple(tup);
	/* the locks stay until the transaction ends, as the executor's do */
	table_close(rel, NoLock);
}

Datum sync_fdw_capture_row(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("sync_fdw_capture_row: not called as a trigger")));
	TriggerData *td = (TriggerData *)fcinfo->context;
	Trigger *tg = td->tg_trigger;
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event) || tg->tgnargs < 1)
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("sync_fdw_capture_row: must be an AFTER ... FOR EACH ROW trigger with the "
				       "table's number as its argument")));
	int16 tbl = pg_strtoint16(tg->tgargs[0]);
	bool settings = tg->tgnargs > 1 && strcmp(tg->tgargs[1], "settings") == 0;

	char op;
	HeapTuple row, old = NULL;
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event)) {
		op = 'I';
		row = td->tg_trigtuple;
	} else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event)) {
		op = 'U';
		row = td->tg_newtuple;
		old = td->tg_trigtuple;
	} else if (TRIGGER_FIRED_BY_DELETE(td->tg_event)) {
		op = 'D';
		row = td->tg_trigtuple;
	} else {
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("sync_fdw_capture_row: fired by an operation it does not capture")));
	}

	TupleDesc desc = RelationGetDescr(td->tg_relation);
	int nest = -1;
	if (settings) {
		nest = NewGUCNestLevel();
		(void)set_config_option("datestyle", "ISO, MDY", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
					true, 0, false);
		(void)set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
					GUC_ACTION_SAVE, true, 0, false);
		(void)set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION,
					GUC_ACTION_SAVE, true, 0, false);
	}
	text *img = image(row, desc);
	text *oimg = old ? image(old, desc) : NULL;
	if (settings)
		AtEOXact_GUC(true, nest);

	insert_change(tbl, op, img, oimg);
	return PointerGetDatum(NULL);
}
