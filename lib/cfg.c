/*
 * cfg: YAML configuration through a table of keys, and a generic YAML tree
 * for configs whose shape is not fixed; see cfg.h for the contract.
 *
 * There is one parser.  cfg_doc_parse_string() turns libyaml's event stream
 * into a tree of struct cfg_node, refusing what a config file has no use for
 * and what would make "the value at line L" ambiguous: anchors and aliases,
 * duplicate keys, non-scalar keys, several documents in one stream.
 * cfg_load() walks that tree against the key table, so both kinds of config
 * report errors the same way, "path:line:column: message".
 *
 * Allocation failure aborts, as in buf.c: these programs cannot do anything
 * useful without memory, and a failure path per strdup would bury the logic.
 */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "buf.h"
#include "dsn.h"
#include "util.h"
#include "banned.h"

/* A configuration file larger than this is refused: it is a mistake (or
 * an attack on the parser), never a configuration. */
#define CFG_MAX_FILE (1024 * 1024)

/* Deeper nesting than this is refused; keeps node_free()'s recursion bounded. */
#define CFG_MAX_DEPTH 64


/* ---- small helpers ---------------------------------------------------- */

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p) {
		fputs("fatal: out of memory\n", stderr);
		abort();
	}
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) {
		fputs("fatal: out of memory\n", stderr);
		abort();
	}
	return p;
}

/*
 * Format "where:line:col: message" into err (where may be NULL: no prefix;
 * line 0: "where: message").  Always returns false.
 */
__attribute__((format(printf, 5, 0)))
static bool fail_v(struct cfg_error *err, const char *where, int line, int col,
		   const char *fmt, va_list ap)
{
	if (!err)
		return false;
	int n = 0;
	if (where && line > 0)
		n = snprintf(err->msg, sizeof err->msg, "%s:%d:%d: ", where, line, col);
	else if (where)
		n = snprintf(err->msg, sizeof err->msg, "%s: ", where);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof err->msg)
		return false;
	vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
	return false;
}

__attribute__((format(printf, 5, 6)))
static bool fail_at(struct cfg_error *err, const char *where, int line, int col,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(err, where, line, col, fmt, ap);
	va_end(ap);
	return false;
}

bool cfg_fail(struct cfg_error *err, const struct cfg_doc *doc,
	      const struct cfg_node *at, const char *fmt, ...)
{
	const char *where = doc && doc->path ? doc->path : "<input>";
	va_list ap;
	va_start(ap, fmt);
	fail_v(err, where, at ? at->line : 0, at ? at->column : 0, fmt, ap);
	va_end(ap);
	return false;
}

/* Append s as a quoted subject for a message: "http.lisen", escapes shown. */
static void add_quoted(struct buf *b, const char *s)
{
	buf_add_json_str(b, s, strlen(s));
}

/* libyaml marks are 0-based size_t; messages want 1-based int. */
static int mark_num(size_t zero_based)
{
	return zero_based >= (size_t)INT_MAX ? INT_MAX : (int)zero_based + 1;
}

/* ---- the YAML tree ---------------------------------------------------- */

static void node_free(struct cfg_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			node_free(n->keys[i]);
		node_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->scalar);
	free(n);
}

static const char *kind_name(enum cfg_node_kind kind)
{
	switch (kind) {
	case CFG_NODE_SCALAR: return "a scalar";
	case CFG_NODE_MAP: return "a mapping";
	case CFG_NODE_SEQ: return "a sequence";
	}
	return "a node";
}

/* A plain (unquoted, non-block) scalar that YAML reads as null. */
static bool node_is_null(const struct cfg_node *n)
{
	if (!n || n->kind != CFG_NODE_SCALAR || n->quoted)
		return false;
	const char *s = n->scalar;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const struct cfg_node *cfg_node_get(const struct cfg_node *map, const char *key)
{
	if (!map || map->kind != CFG_NODE_MAP || !key)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i]->scalar, key))
			return map->items[i];
	return NULL;
}

void cfg_doc_release(struct cfg_doc *doc)
{
	if (!doc)
		return;
	node_free(doc->root);
	free(doc->path);
	doc->root = NULL;
	doc->path = NULL;
}

struct frame {
	struct cfg_node *node;	/* the mapping or sequence being filled */
	struct cfg_node *key;	/* mapping: key waiting for its value, owned here */
	size_t cap;		/* allocated length of node->keys / node->items */
	size_t *seen;		/* mapping: open-addressed set of key indexes + 1 (0 free) */
	size_t nseen;		/* its slots, a power of two, at least twice node->n */
};

struct builder {
	struct cfg_doc *doc;
	struct cfg_error *err;
	struct frame stack[CFG_MAX_DEPTH];
	int depth;
	int ndocs;
	const char *text;	/* the input, to place reader errors */
	size_t len;
};

/*
 * The dotted path of a key about to be added to the innermost open mapping,
 * for messages: "tables.user.key", "cutover.servers[0].admin_url".
 */
static void key_path(const struct builder *bd, const char *key, struct buf *out)
{
	for (int i = 0; i + 1 < bd->depth; i++) {
		const struct cfg_node *n = bd->stack[i].node;
		if (!n->n)
			continue;
		if (n->kind == CFG_NODE_MAP) {
			if (out->len)
				buf_addc(out, '.');
			buf_adds(out, n->keys[n->n - 1]->scalar);
		} else {
			buf_addf(out, "[%zu]", n->n - 1);
		}
	}
	if (out->len)
		buf_addc(out, '.');
	buf_adds(out, key);
}

static size_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

/* The index of key among the frame's mapping's keys, or -1: one probe
 * sequence in a hash set, so a mapping of n keys is checked in O(n), not
 * O(n^2) (a 9 MB file took minutes). */
static long seen_find(const struct frame *f, const char *key)
{
	if (!f->nseen)
		return -1;
	for (size_t i = key_hash(key) & (f->nseen - 1);; i = (i + 1) & (f->nseen - 1)) {
		size_t v = f->seen[i];
		if (!v)
			return -1;
		if (!strcmp(f->node->keys[v - 1]->scalar, key))
			return (long)(v - 1);
	}
}

/* Record key index idx (keys[idx] set already); grows the set as needed. */
static void seen_add(struct frame *f, size_t idx)
{
	if (2 * (idx + 1) > f->nseen) {
		size_t n = f->nseen ? 2 * f->nseen : 16;
		free(f->seen);
		f->seen = xcalloc(n, sizeof *f->seen);
		f->nseen = n;
		for (size_t k = 0; k < idx; k++)
			seen_add(f, k);
	}
	size_t i = key_hash(f->node->keys[idx]->scalar) & (f->nseen - 1);
	while (f->seen[i])
		i = (i + 1) & (f->nseen - 1);
	f->seen[i] = idx + 1;
}

/*
 * Hang a new node under the innermost open collection (or make it the root).
 * Takes ownership of node, also on failure.
 */
static bool attach(struct builder *bd, struct cfg_node *node)
{
	if (bd->depth == 0) {
		bd->doc->root = node;
		return true;
	}
	struct frame *f = &bd->stack[bd->depth - 1];
	struct cfg_node *c = f->node;

	if (c->kind == CFG_NODE_MAP && !f->key) {
		if (node->kind != CFG_NODE_SCALAR) {
			cfg_fail(bd->err, bd->doc, node,
				 "invalid mapping key: expected a scalar, got %s",
				 kind_name(node->kind));
			node_free(node);
			return false;
		}
		long i = seen_find(f, node->scalar);
		if (i >= 0) {
			struct buf path = BUF_INIT;
			struct buf q = BUF_INIT;
			key_path(bd, node->scalar, &path);
			add_quoted(&q, buf_str(&path));
			cfg_fail(bd->err, bd->doc, node,
				 "duplicate key %s (first at line %d, column %d)",
				 buf_str(&q), c->keys[i]->line, c->keys[i]->column);
			buf_release(&q);
			buf_release(&path);
			node_free(node);
			return false;
		}
		f->key = node;
		return true;
	}

	if (c->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 4;
		c->items = xrealloc(c->items, f->cap * sizeof *c->items);
		if (c->kind == CFG_NODE_MAP)
			c->keys = xrealloc(c->keys, f->cap * sizeof *c->keys);
	}
	if (c->kind == CFG_NODE_MAP) {
		c->keys[c->n] = f->key;
		f->key = NULL;
		seen_add(f, c->n);
	}
	c->items[c->n++] = node;
	return true;
}

static struct cfg_node *node_new(enum cfg_node_kind kind, yaml_mark_t at)
{
	struct cfg_node *n = xcalloc(1, sizeof *n);
	n->kind = kind;
	n->line = mark_num(at.line);
	n->column = mark_num(at.column);
	return n;
}

static bool refuse_anchor(struct builder *bd, yaml_mark_t at)
{
	return fail_at(bd->err, bd->doc->path, mark_num(at.line), mark_num(at.column),
		       "anchors and aliases are not supported");
}

/* Open a mapping or sequence: attach it, then make it the innermost frame. */
static bool open_collection(struct builder *bd, enum cfg_node_kind kind,
			    const yaml_event_t *ev)
{
	if (bd->depth == CFG_MAX_DEPTH)
		return fail_at(bd->err, bd->doc->path, mark_num(ev->start_mark.line),
			       mark_num(ev->start_mark.column),
			       "nesting deeper than %d levels", CFG_MAX_DEPTH);
	struct cfg_node *n = node_new(kind, ev->start_mark);
	if (!attach(bd, n))
		return false;
	bd->stack[bd->depth++] = (struct frame){ .node = n };
	return true;
}

static bool add_scalar(struct builder *bd, const yaml_event_t *ev)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	if (memchr(text, '\0', len))
		return fail_at(bd->err, bd->doc->path, mark_num(ev->start_mark.line),
			       mark_num(ev->start_mark.column),
			       "scalar contains a NUL character");
	struct cfg_node *n = node_new(CFG_NODE_SCALAR, ev->start_mark);
	n->scalar = xstrndup(text, len);
	/*
	 * "Quoted" means any non-plain style, block scalars included: the
	 * point is that such a scalar is always a string, never null.
	 */
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	return attach(bd, n);
}

/* Handle one event; *done is set at the end of the stream. */
static bool handle_event(struct builder *bd, const yaml_event_t *ev, bool *done)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (bd->ndocs++ > 0)
			return fail_at(bd->err, bd->doc->path,
				       mark_num(ev->start_mark.line),
				       mark_num(ev->start_mark.column),
				       "expected a single YAML document, found a second one");
		return true;
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor)
			return refuse_anchor(bd, ev->start_mark);
		return open_collection(bd, CFG_NODE_MAP, ev);
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor)
			return refuse_anchor(bd, ev->start_mark);
		return open_collection(bd, CFG_NODE_SEQ, ev);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (bd->depth > 0) {
			struct frame *f = &bd->stack[--bd->depth];
			node_free(f->key);	/* libyaml always pairs keys; defensive */
			f->key = NULL;
			free(f->seen);
			f->seen = NULL;
			f->nseen = 0;
		}
		return true;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor)
			return refuse_anchor(bd, ev->start_mark);
		return add_scalar(bd, ev);
	case YAML_ALIAS_EVENT:
		return refuse_anchor(bd, ev->start_mark);
	case YAML_STREAM_END_EVENT:
		*done = true;
		return true;
	case YAML_NO_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return true;
	}
	return true;
}

/* Turn libyaml's error state into a message with its position. */
static bool parser_fail(struct builder *bd, const yaml_parser_t *p)
{
	const char *where = bd->doc->path;
	const char *problem = p->problem ? p->problem : "unknown error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return fail_at(bd->err, where, 0, 0, "out of memory while parsing YAML");
	case YAML_READER_ERROR: {
		/* libyaml gives a byte offset only; count lines and characters. */
		int line = 1, col = 1;
		for (size_t i = 0; i < p->problem_offset && i < bd->len; i++) {
			unsigned char c = (unsigned char)bd->text[i];
			if (c == '\n')
				line++, col = 1;
			else if ((c & 0xc0) != 0x80)
				col++;
		}
		if (p->problem_value != -1)
			return fail_at(bd->err, where, line, col, "invalid YAML: %s (#%X)",
				       problem, (unsigned)p->problem_value);
		return fail_at(bd->err, where, line, col, "invalid YAML: %s", problem);
	}
	default:
		break;
	}
	int line = mark_num(p->problem_mark.line);
	int col = mark_num(p->problem_mark.column);
	if (p->context)
		return fail_at(bd->err, where, line, col,
			       "invalid YAML: %s (%s at line %d, column %d)", problem,
			       p->context, mark_num(p->context_mark.line),
			       mark_num(p->context_mark.column));
	return fail_at(bd->err, where, line, col, "invalid YAML: %s", problem);
}

bool cfg_doc_parse_string(const char *text, size_t len, const char *path,
			  struct cfg_doc *doc, struct cfg_error *err)
{
	yaml_parser_t parser;
	bool parser_ready = false;
	bool ok = false;
	struct builder *bd = xcalloc(1, sizeof *bd);

	doc->root = NULL;
	doc->path = xstrdup(path ? path : "<string>");
	if (len > CFG_MAX_FILE) {
		fail_at(err, doc->path, 0, 0, "configuration is larger than %d KiB", CFG_MAX_FILE / 1024);
		goto out;
	}
	bd->doc = doc;
	bd->err = err;
	bd->text = text ? text : "";
	bd->len = text ? len : 0;

	if (!yaml_parser_initialize(&parser)) {
		fail_at(err, doc->path, 0, 0, "out of memory while parsing YAML");
		goto out;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)bd->text, bd->len);

	for (bool done = false; !done;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			parser_fail(bd, &parser);
			goto out;
		}
		bool handled = handle_event(bd, &ev, &done);
		yaml_event_delete(&ev);
		if (!handled)
			goto out;
	}
	ok = true;
out:
	for (int i = 0; i < bd->depth; i++) {
		node_free(bd->stack[i].key);
		free(bd->stack[i].seen);
	}
	free(bd);
	if (parser_ready)
		yaml_parser_delete(&parser);
	if (!ok)
		cfg_doc_release(doc);
	return ok;
}

/* Read a whole file into b; false with err filled when it cannot. */
static bool read_file(const char *path, struct buf *b, struct cfg_error *err)
{
	bool ok = false;
	FILE *f = fopen(path, "r");
	if (!f)
		return fail_at(err, NULL, 0, 0, "could not open \"%s\": %s", path,
			       strerror(errno));
	for (;;) {
		buf_grow(b, 8192);
		size_t got = fread(b->data + b->len, 1, b->cap - b->len - 1, f);
		b->len += got;
		b->data[b->len] = '\0';
		if (got == 0)
			break;
		if (b->len > CFG_MAX_FILE) {
			fail_at(err, NULL, 0, 0, "configuration file \"%s\" is larger than %d KiB"
				"\nhint: is it the right file?", path, CFG_MAX_FILE / 1024);
			goto out;
		}
	}
	if (ferror(f)) {
		fail_at(err, NULL, 0, 0, "could not read \"%s\": %s", path,
			strerror(errno));
		goto out;
	}
	ok = true;
out:
	fclose(f);
	return ok;
}

bool cfg_doc_parse(const char *path, struct cfg_doc *doc, struct cfg_error *err)
{
	struct buf text = BUF_INIT;
	bool ok = false;

	doc->root = NULL;
	doc->path = NULL;
	if (!path)
		return fail_at(err, NULL, 0, 0, "no configuration file given");
	if (!read_file(path, &text, err))
		goto out;
	ok = cfg_doc_parse_string(buf_str(&text), text.len, path, doc, err);
out:
	buf_release(&text);
	return ok;
}

/* ---- values ----------------------------------------------------------- */

bool cfg_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	if (!text)
		return false;
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (!strcasecmp(text, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(text, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

/*
 * Parse a decimal integer at the start of text: optional sign, then digits
 * (no leading blanks, unlike strtoll alone).  *end is where it stopped.
 */
static bool parse_leading_int(const char *text, int64_t *out, const char **end)
{
	const char *p = text;
	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	char *stop;
	errno = 0;
	long long v = strtoll(text, &stop, 10);
	if (errno == ERANGE)
		return false;
	*out = (int64_t)v;
	*end = stop;
	return true;
}

bool cfg_parse_int(const char *text, int64_t *out)
{
	const char *end;
	int64_t v;
	if (!text || !parse_leading_int(text, &v, &end) || *end)
		return false;
	*out = v;
	return true;
}

bool cfg_parse_millis(const char *text, int64_t *out)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	const char *end;
	int64_t v;
	if (!text || !parse_leading_int(text, &v, &end))
		return false;
	for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v > INT64_MAX / units[i].ms || v < INT64_MIN / units[i].ms)
			return false;
		*out = v * units[i].ms;
		return true;
	}
	return false;
}

/* Milliseconds in the largest unit that shows them exactly: "2s", "250ms". */
static void add_millis(struct buf *b, int64_t ms)
{
	if (ms != 0 && ms % 3600000 == 0)
		buf_addf(b, "%" PRId64 "h", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		buf_addf(b, "%" PRId64 "m", ms / 60000);
	else if (ms != 0 && ms % 1000 == 0)
		buf_addf(b, "%" PRId64 "s", ms / 1000);
	else
		buf_addf(b, "%" PRId64 "ms", ms);
}

static bool bounded(const struct cfg_key *k)
{
	return k->min != 0 || k->max != 0;
}

static bool in_bounds(const struct cfg_key *k, int64_t v)
{
	return !bounded(k) || (v >= k->min && v <= k->max);
}

static void *field_of(const struct cfg_key *k, void *settings)
{
	return (char *)settings + k->offset;
}

static const void *cfield_of(const struct cfg_key *k, const void *settings)
{
	return (const char *)settings + k->offset;
}

/*
 * Parse text as k's type and store it in settings; a string replaces (and
 * frees) the previous one.  False, with settings untouched, when the text is
 * not a valid value for k.
 */
static bool store(const struct cfg_key *k, const char *text, void *settings)
{
	void *field = field_of(k, settings);
	int64_t v;
	bool b;

	switch (k->type) {
	case CFG_STRING: {
		char **p = field;
		char *copy = xstrdup(text);
		free(*p);
		*p = copy;
		return true;
	}
	case CFG_INT:
		if (!cfg_parse_int(text, &v) || !in_bounds(k, v))
			return false;
		*(int64_t *)field = v;
		return true;
	case CFG_MILLIS:
		if (!cfg_parse_millis(text, &v) || !in_bounds(k, v))
			return false;
		*(int64_t *)field = v;
		return true;
	case CFG_BOOL:
		if (!cfg_parse_bool(text, &b))
			return false;
		*(bool *)field = b;
		return true;
	}
	return false;
}

/* "invalid value "abc" for "http.threads": expected an integer between 1 and 256" */
static void describe_invalid(struct buf *b, const struct cfg_key *k, const char *text)
{
	buf_adds(b, "invalid value ");
	if (text && !k->secret) {
		add_quoted(b, text);
		buf_addc(b, ' ');
	}
	buf_addf(b, "for \"%s.%s\": ", k->section, k->name);
	switch (k->type) {
	case CFG_STRING:
		buf_adds(b, "expected a string");
		break;
	case CFG_INT:
		buf_adds(b, "expected an integer");
		if (bounded(k))
			buf_addf(b, " between %" PRId64 " and %" PRId64, k->min, k->max);
		break;
	case CFG_BOOL:
		buf_adds(b, "expected a boolean (true/false, yes/no, on/off, 1/0)");
		break;
	case CFG_MILLIS:
		buf_adds(b, "expected a duration");
		if (bounded(k)) {
			buf_adds(b, " between ");
			add_millis(b, k->min);
			buf_adds(b, " and ");
			add_millis(b, k->max);
		}
		buf_adds(b, " such as \"250ms\", \"2s\", \"1m\" or \"1h\"");
		break;
	}
}

/* ---- the key table ---------------------------------------------------- */

static const struct cfg_key *find_key(const struct cfg_key *keys, size_t nkeys,
				      const char *section, const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (!strcmp(keys[i].section, section) &&
		    (!name || !strcmp(keys[i].name, name)))
			return &keys[i];
	return NULL;
}

/* Levenshtein distance, or SIZE_MAX for strings too long to bother with. */
static size_t edit_distance(const char *a, const char *b)
{
	enum { MAXLEN = 64 };
	size_t la = strlen(a), lb = strlen(b);
	size_t prev[MAXLEN + 1], cur[MAXLEN + 1];
	if (la > MAXLEN || lb > MAXLEN)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			cur[j] = del < ins ? del : ins;
			if (sub < cur[j])
				cur[j] = sub;
		}
		memcpy(prev, cur, (lb + 1) * sizeof *cur);
	}
	return prev[lb];
}

/*
 * Append "\nhint: did you mean "x"?" for the closest known name: within edit
 * distance 2 and less than half of its length ("htp" -> "http", but not
 * "foo" -> "log").  With section NULL the candidates are the sections;
 * otherwise the keys of that section, or a key of exactly that name in
 * another section ("http.dsn" -> "database.dsn").
 */
static void add_hint(struct buf *b, const struct cfg_key *keys, size_t nkeys,
		     const char *section, const char *name)
{
	struct buf best = BUF_INIT;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < nkeys; i++) {
		const char *cand = section ? keys[i].name : keys[i].section;
		size_t d;
		if (!section || !strcmp(keys[i].section, section)) {
			d = edit_distance(name, cand);
			if (d > 2 || 2 * d >= strlen(cand))
				continue;
		} else if (!strcmp(name, cand)) {
			d = 2;	/* right key, wrong section: below a near miss */
		} else {
			continue;
		}
		if (d >= best_d)
			continue;
		best_d = d;
		buf_reset(&best);
		if (section)
			buf_addf(&best, "%s.%s", keys[i].section, keys[i].name);
		else
			buf_adds(&best, keys[i].section);
	}
	if (best.len) {
		buf_adds(b, "\nhint: did you mean ");
		add_quoted(b, buf_str(&best));
		buf_adds(b, "?");
	}
	buf_release(&best);
}

/* Apply one section's mapping of the file to settings. */
static bool skipped(const char *const *skip, const char *name);

static bool apply_section(const struct cfg_key *keys, size_t nkeys,
			  const struct cfg_doc *doc, const char *section,
			  const struct cfg_node *map, const char *const *skip, void *settings,
			  struct cfg_error *err)
{
	struct buf msg = BUF_INIT, full = BUF_INIT;
	bool ok = false;

	for (size_t i = 0; i < map->n; i++) {
		const struct cfg_node *key = map->keys[i];
		const struct cfg_node *val = map->items[i];
		buf_reset(&full);
		buf_addf(&full, "%s.%s", section, key->scalar);
		if (skipped(skip, buf_str(&full)))
			continue;
		const struct cfg_key *k = find_key(keys, nkeys, section, key->scalar);

		buf_reset(&msg);
		if (!k) {
			buf_adds(&msg, "unknown key ");
			add_quoted(&msg, buf_str(&full));
			add_hint(&msg, keys, nkeys, section, key->scalar);
			cfg_fail(err, doc, key, "%s", buf_str(&msg));
			goto out;
		}
		if (val->kind != CFG_NODE_SCALAR) {
			cfg_fail(err, doc, val,
				 "invalid value for \"%s.%s\": expected a scalar, got %s",
				 k->section, k->name, kind_name(val->kind));
			goto out;
		}
		/* A null string is the empty string; for other types it is invalid. */
		const char *text = k->type == CFG_STRING && node_is_null(val) ? "" : val->scalar;
		if (!store(k, text, settings)) {
			describe_invalid(&msg, k, val->scalar);
			cfg_fail(err, doc, val, "%s", buf_str(&msg));
			goto out;
		}
	}
	ok = true;
out:
	buf_release(&msg);
	buf_release(&full);
	return ok;
}

static bool skipped(const char *const *skip, const char *name)
{
	for (; skip && *skip; skip++)
		if (strcmp(*skip, name) == 0)
			return true;
	return false;
}

/* True when skip names a key of section ("cutover.servers" for "cutover"). */
static bool skipped_within(const char *const *skip, const char *section)
{
	size_t n = strlen(section);
	for (; skip && *skip; skip++)
		if (strncmp(*skip, section, n) == 0 && (*skip)[n] == '.')
			return true;
	return false;
}

/* Apply the parsed file: a mapping of sections, each a mapping of scalars;
 * sections named in skip are left to the caller. */
static bool apply_doc(const struct cfg_key *keys, size_t nkeys,
		      const struct cfg_doc *doc, const char *const *skip, void *settings,
		      struct cfg_error *err)
{
	const struct cfg_node *root = doc->root;
	if (!root || node_is_null(root))
		return true;	/* empty file: defaults */
	if (root->kind != CFG_NODE_MAP)
		return cfg_fail(err, doc, root,
				"invalid configuration: expected a mapping of sections, got %s",
				kind_name(root->kind));

	for (size_t i = 0; i < root->n; i++) {
		const struct cfg_node *name = root->keys[i];
		const struct cfg_node *sec = root->items[i];

		if (skipped(skip, name->scalar))
			continue;
		if (!find_key(keys, nkeys, name->scalar, NULL) && !skipped_within(skip, name->scalar)) {
			struct buf msg = BUF_INIT;
			buf_adds(&msg, "unknown section ");
			add_quoted(&msg, name->scalar);
			add_hint(&msg, keys, nkeys, NULL, name->scalar);
			cfg_fail(err, doc, name, "%s", buf_str(&msg));
			buf_release(&msg);
			return false;
		}
		/* "http:" with every key commented out is an empty section. */
		if (node_is_null(sec))
			continue;
		if (sec->kind != CFG_NODE_MAP)
			return cfg_fail(err, doc, sec,
					"invalid section \"%s\": expected a mapping, got %s",
					name->scalar, kind_name(sec->kind));
		if (!apply_section(keys, nkeys, doc, name->scalar, sec, skip, settings, err))
			return false;
	}
	return true;
}

/* PREFIX_SECTION_NAME, upper-cased, '.' and '-' as '_'. */
static void env_name(struct buf *b, const char *prefix, const struct cfg_key *k)
{
	buf_addf(b, "%s_%s_%s", prefix, k->section, k->name);
	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];
		if (c == '.' || c == '-')
			b->data[i] = '_';
		else
			b->data[i] = (char)toupper((unsigned char)c);
	}
}

static bool apply_env(const struct cfg_key *keys, size_t nkeys, const char *prefix,
		      void *settings, struct cfg_error *err)
{
	struct buf name = BUF_INIT, where = BUF_INIT, msg = BUF_INIT;
	bool ok = false;

	for (size_t i = 0; i < nkeys; i++) {
		buf_reset(&name);
		env_name(&name, prefix, &keys[i]);
		const char *value = getenv(buf_str(&name));
		if (!value)
			continue;
		if (!store(&keys[i], value, settings)) {
			buf_addf(&where, "environment %s", buf_str(&name));
			describe_invalid(&msg, &keys[i], value);
			fail_at(err, buf_str(&where), 0, 0, "%s", buf_str(&msg));
			goto out;
		}
	}
	ok = true;
out:
	buf_release(&name);
	buf_release(&where);
	buf_release(&msg);
	return ok;
}

void cfg_env_overrides(const struct cfg_key *keys, size_t nkeys, const char *env_prefix,
		       struct buf *out)
{
	struct buf name = BUF_INIT;
	bool any = false;
	for (size_t i = 0; i < nkeys; i++) {
		buf_reset(&name);
		env_name(&name, env_prefix, &keys[i]);
		if (!getenv(buf_str(&name)))
			continue;
		buf_adds(out, any ? ", " : "");
		buf_adds(out, buf_str(&name));
		any = true;
	}
	buf_release(&name);
}

/* Store every key's default; false (with err) for a bad default. */
static bool apply_defaults(const struct cfg_key *keys, size_t nkeys, void *settings,
			   struct cfg_error *err)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (!keys[i].def || store(&keys[i], keys[i].def, settings))
			continue;
		/* A bad default is the program's bug, but still not a crash. */
		struct buf msg = BUF_INIT;
		buf_adds(&msg, "invalid default: ");
		describe_invalid(&msg, &keys[i], keys[i].def);
		fail_at(err, NULL, 0, 0, "%s", buf_str(&msg));
		buf_release(&msg);
		return false;
	}
	return true;
}

bool cfg_load(const struct cfg_key *keys, size_t nkeys, const char *path,
	      const char *env_prefix, void *settings, struct cfg_error *err)
{
	struct cfg_doc doc = { NULL, NULL };
	bool ok = false;

	if (!apply_defaults(keys, nkeys, settings, err))
		goto out;
	if (path) {
		if (!cfg_doc_parse(path, &doc, err))
			goto out;
		if (!apply_doc(keys, nkeys, &doc, NULL, settings, err))
			goto out;
	}
	if (env_prefix && !apply_env(keys, nkeys, env_prefix, settings, err))
		goto out;
	ok = true;
out:
	cfg_doc_release(&doc);
	return ok;
}

bool cfg_load_doc(const struct cfg_key *keys, size_t nkeys, const struct cfg_doc *doc,
		  const char *const *skip, const char *env_prefix, void *settings,
		  struct cfg_error *err)
{
	return apply_defaults(keys, nkeys, settings, err) &&
	       (!doc || apply_doc(keys, nkeys, doc, skip, settings, err)) &&
	       (!env_prefix || apply_env(keys, nkeys, env_prefix, settings, err));
}

size_t cfg_fixed_changes(const struct cfg_key *keys, size_t nkeys, const void *cur,
			 const void *next, struct buf *out)
{
	size_t n = 0;
	for (size_t i = 0; i < nkeys; i++) {
		const struct cfg_key *k = &keys[i];
		const void *a = cfield_of(k, cur), *b = cfield_of(k, next);
		bool same;
		if (k->reloadable)
			continue;
		switch (k->type) {
		case CFG_STRING: {
			const char *sa = *(char *const *)a, *sb = *(char *const *)b;
			same = strcmp(sa ? sa : "", sb ? sb : "") == 0;
			break;
		}
		case CFG_BOOL:
			same = *(const bool *)a == *(const bool *)b;
			break;
		default:
			same = *(const int64_t *)a == *(const int64_t *)b;
			break;
		}
		if (same)
			continue;
		buf_addf(out, "%s\"%s.%s\"", n ? ", " : "", k->section, k->name);
		n++;
	}
	return n;
}

void cfg_release(const struct cfg_key *keys, size_t nkeys, void *settings)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (keys[i].type != CFG_STRING)
			continue;
		char **p = field_of(&keys[i], settings);
		free(*p);
		*p = NULL;
	}
}

/* ---- printing --------------------------------------------------------- */

/* Append s as a YAML double-quoted scalar that reads back as s. */
static void add_yaml_quoted(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\t': buf_adds(b, "\\t"); break;
		case '\r': buf_adds(b, "\\r"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_addf(b, "\\x%02x", c);
			else
				buf_addc(b, (char)c);
		}
	}
	buf_addc(b, '"');
}

static void print_key(struct buf *b, const struct cfg_key *k, const void *settings)
{
	const void *field = cfield_of(k, settings);

	if (k->help)
		buf_addf(b, "  # %s\n", k->help);
	if (k->type == CFG_STRING && !*(char *const *)field) {
		/* Commented out: reading it back leaves the value unset too. */
		buf_addf(b, "  # %s: (not set)\n", k->name);
		return;
	}
	buf_addf(b, "  %s: ", k->name);
	if (k->secret) {
		buf_adds(b, "\"" DSN_MASK "\"\n");
		return;
	}
	switch (k->type) {
	case CFG_STRING: {
		struct buf masked = BUF_INIT;
		dsn_mask_text(*(char *const *)field, &masked);
		add_yaml_quoted(b, buf_str(&masked));
		buf_release(&masked);
		break;
	}
	case CFG_INT:
		buf_addf(b, "%" PRId64, *(const int64_t *)field);
		break;
	case CFG_MILLIS:
		add_millis(b, *(const int64_t *)field);
		break;
	case CFG_BOOL:
		buf_adds(b, *(const bool *)field ? "true" : "false");
		break;
	}
	buf_addc(b, '\n');
}

void cfg_print(const struct cfg_key *keys, size_t nkeys, const void *settings,
	       FILE *out)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < nkeys; i++) {
		if (find_key(keys, i, keys[i].section, NULL))
			continue;	/* section already printed */
		if (b.len)
			buf_addc(&b, '\n');
		buf_addf(&b, "%s:\n", keys[i].section);
		for (size_t j = i; j < nkeys; j++)
			if (!strcmp(keys[j].section, keys[i].section))
				print_key(&b, &keys[j], settings);
	}
	if (b.len)
		fwrite(b.data, 1, b.len, out);
	buf_release(&b);
}
