/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * conntrack-tools' commands over JSON-RPC (-L -D -F -C -S, -E through
 * conntrack_events), the tunables (conntrack_config_set/get) and their
 * part of the saved configuration.
 *
 * Listing and deleting walk the tables in chunks: one call looks at a
 * bounded number of slots and returns a cursor to go on from, so a table of
 * millions never holds the management thread (or its other clients) for
 * long, and the workers are never stopped at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <rte_cycles.h>

#include "pgt_conntrack_priv.h"
#include "pgt_inet.h"
#include "pgt_rpc.h"

/* Slots looked at per call of a listing or deletion. */
#define CHUNK_SLOTS	65536
/* Events kept for listeners, and how long a silent listener keeps
 * the workers posting them. */
#define EVENT_BUF	8192
#define LISTENER_TIMEOUT_S 5
#define MAX_WORDS	64


/* Formatting, as conntrack -L prints */

static const char *
proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case 132:
		return "sctp";
	case 33:
		return "dccp";
	case 136:
		return "udplite";
	case 47:
		return "gre";
	default:
		return "unknown";
	}
}

int
pgt_ct_parse_proto(const char *s, uint8_t *proto)
{
	static const uint8_t known[] = { IPPROTO_TCP, IPPROTO_UDP,
		IPPROTO_ICMP, 132, 33, 136, 47 };
	unsigned long v;
	unsigned int i;
	char *end;

	for (i = 0; i < RTE_DIM(known); i++)
		if (strcasecmp(s, proto_name(known[i])) == 0) {
			*proto = known[i];
			return 0;
		}
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v > 255)
		return -EINVAL;
	*proto = (uint8_t)v;
	return 0;
}

static void
format_tuple(FILE *f, const struct pgt_ct_tuple *t)
{
	char a[PGT_INET_ADDRSTRLEN], b[PGT_INET_ADDRSTRLEN];

	fprintf(f, "src=%s dst=%s ", pgt_inet_format_addr(t->src, a, sizeof(a)),
		pgt_inet_format_addr(t->dst, b, sizeof(b)));
	switch (t->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case 132:
	case 33:
	case 136:
		fprintf(f, "sport=%u dport=%u ", t->sport, t->dport);
		break;
	case IPPROTO_ICMP:
		fprintf(f, "type=%u code=%u id=%u ", t->dport >> 8,
			t->dport & 0xff, t->sport);
		break;
	default:
		break;
	}
}

/* One line without its end; @p timeout_s < 0: none (destroy events). */
static void
format_conn(FILE *f, const struct pgt_ct_tuple *tuple, uint32_t status,
	uint8_t tcp_state, uint32_t mark, uint32_t id, int64_t timeout_s,
	bool extended, bool with_id)
{
	if (extended)
		fprintf(f, "%-8s %u ", "ipv4", 2);
	fprintf(f, "%-8s %u ", proto_name(tuple[0].proto), tuple[0].proto);
	if (timeout_s >= 0)
		fprintf(f, "%" PRId64 " ", timeout_s);
	if (tuple[0].proto == IPPROTO_TCP)
		fprintf(f, "%s ", pgt_ct_tcp_state_name(tcp_state));
	format_tuple(f, &tuple[0]);
	if (!(status & PGT_CT_S_SEEN_REPLY))
		fputs("[UNREPLIED] ", f);
	format_tuple(f, &tuple[1]);
	if (status & PGT_CT_S_ASSURED)
		fputs("[ASSURED] ", f);
	fprintf(f, "mark=%u use=1", mark);
	if (with_id)
		fprintf(f, " id=%u", id);
}

void
pgt_ct_format(FILE *f, const struct pgt_ct_conn *c, int64_t timeout_s,
	bool extended, bool with_id)
{
	format_conn(f, c->tuple, c->status, c->tcp.state, c->mark, c->id,
		timeout_s, extended, with_id);
}

/* conntrack's options */

struct addr_filter {
	uint32_t addr, mask;
	bool set;
};

struct ct_filter {
	struct addr_filter addr[4];	/* orig src, orig dst, reply src/dst */
	int32_t port[4];		/* -1: any; same order */
	int16_t proto;			/* -1: any */
	int16_t tcp_state;		/* -1: any */
	uint32_t mark, mark_mask;
	bool has_mark;
	uint32_t status_set;		/* -u: these bits set */
	bool status_unset;		/* -u UNSET: no status bit */
	bool src_nat, dst_nat, any_nat;
	bool extended, with_id;
	uint8_t event_mask;		/* -e: bit per event type */
};

enum ct_cmd_kind { CMD_LIST, CMD_DELETE, CMD_FLUSH, CMD_COUNT, CMD_STATS,
	CMD_EVENTS };

static int
parse_addr_filter(struct addr_filter *a, const char *s, struct pgt_rpc_err *err)
{
	uint8_t len = 32;

	if (strchr(s, '/') != NULL) {
		if (pgt_inet_parse_prefix(s, true, &a->addr, &len) != 0)
			goto bad;
	} else if (pgt_inet_parse_addr(s, &a->addr) != 0) {
		goto bad;
	}
	a->mask = pgt_inet_mask(len);
	a->addr &= a->mask;
	a->set = true;
	return 0;
bad:
	return pgt_rpc_errorf(err, -EINVAL, "'%s' is not an IPv4 address",
		s);
}

static int
parse_port(int32_t *p, const char *s, struct pgt_rpc_err *err)
{
	unsigned long v;
	char *end;

	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v > UINT16_MAX)
		return pgt_rpc_errorf(err, -EINVAL, "'%s' is not a port", s);
	*p = (int32_t)v;
	return 0;
}

/* A word of a comma-separated list and the bits it stands for. */
struct list_word {
	const char *name;
	uint32_t bits;
};

/* OR into *mask the bits of each word of the list @p s (case ignored).
 * @return 0, or -EINVAL for an empty list or an unknown word. */
static int
parse_list(const char *s, const struct list_word *words, uint32_t *mask)
{
	char buf[128], *tok, *save;
	unsigned int i;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	*mask = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
			tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; words[i].name != NULL; i++)
			if (strcasecmp(tok, words[i].name) == 0)
				break;
		if (words[i].name == NULL)
			return -EINVAL;
		*mask |= words[i].bits;
	}
	return 0;
}

/* -u UNSET: none of the status bits. */
#define STATUS_UNSET (1u << 31)

static int
parse_status(struct ct_filter *f, const char *s, struct pgt_rpc_err *err)
{
	static const struct list_word words[] = {
		{ "ASSURED", PGT_CT_S_ASSURED },
		{ "SEEN_REPLY", PGT_CT_S_SEEN_REPLY },
		{ "EXPECTED", PGT_CT_S_EXPECTED }, { "UNSET", STATUS_UNSET },
		{ NULL, 0 },
	};
	uint32_t mask;

	if (parse_list(s, words, &mask) != 0)
		return pgt_rpc_errorf(err, -EINVAL,
			"-u: '%s' is not a list of ASSURED, SEEN_REPLY, EXPECTED, UNSET",
			s);
	f->status_set |= mask & ~STATUS_UNSET;
	f->status_unset |= (mask & STATUS_UNSET) != 0;
	return 0;
}

static int
parse_tcp_state(struct ct_filter *f, const char *s, struct pgt_rpc_err *err)
{
	uint8_t i;

	for (i = PGT_TCP_SYN_SENT; i < PGT_TCP_STATE_MAX; i++)
		if (strcasecmp(s, pgt_ct_tcp_state_name(i)) == 0) {
			f->tcp_state = i;
			return 0;
		}
	return pgt_rpc_errorf(err, -EINVAL, "--state: '%s' is not a TCP state",
		s);
}

static int
parse_events(struct ct_filter *f, const char *s, struct pgt_rpc_err *err)
{
	static const struct list_word words[] = {
		{ "NEW", 1u << PGT_CT_EVENT_NEW },
		{ "UPDATES", 1u << PGT_CT_EVENT_UPDATE },
		{ "DESTROY", 1u << PGT_CT_EVENT_DESTROY }, { "ALL", 0x7 },
		{ NULL, 0 },
	};
	uint32_t mask;

	if (parse_list(s, words, &mask) != 0)
		return pgt_rpc_errorf(err, -EINVAL,
			"-e: '%s' is not a list of NEW, UPDATES, DESTROY, ALL", s);
	f->event_mask = (uint8_t)mask;
	return 0;
}

static int
parse_output(struct ct_filter *f, const char *s, struct pgt_rpc_err *err)
{
	static const struct list_word words[] = {
		{ "extended", 1 }, { "id", 2 }, { NULL, 0 },
	};
	uint32_t mask;

	if (parse_list(s, words, &mask) != 0)
		return pgt_rpc_errorf(err, -EINVAL,
			"-o: '%s': pktgate prints 'extended' and 'id' only", s);
	f->extended |= (mask & 1) != 0;
	f->with_id |= (mask & 2) != 0;
	return 0;
}

/* The options taking one argument, and what each sets. */
enum opt_id { O_SRC, O_DST, O_RSRC, O_RDST, O_SPORT, O_DPORT, O_RSPORT,
	O_RDPORT, O_PROTO, O_MARK, O_STATUS, O_STATE, O_FAMILY, O_OUTPUT,
	O_EVENTS };

static const struct {
	const char *name[3];
	enum opt_id id;
} arg_opts[] = {
	{ { "-s", "--src", "--orig-src" }, O_SRC },
	{ { "-d", "--dst", "--orig-dst" }, O_DST },
	{ { "-r", "--reply-src", NULL }, O_RSRC },
	{ { "-q", "--reply-dst", NULL }, O_RDST },
	{ { "--sport", "--orig-port-src", NULL }, O_SPORT },
	{ { "--dport", "--orig-port-dst", NULL }, O_DPORT },
	{ { "--reply-port-src", NULL, NULL }, O_RSPORT },
	{ { "--reply-port-dst", NULL, NULL }, O_RDPORT },
	{ { "-p", "--proto", NULL }, O_PROTO },
	{ { "-m", "--mark", NULL }, O_MARK },
	{ { "-u", "--status", NULL }, O_STATUS },
	{ { "--state", NULL, NULL }, O_STATE },
	{ { "-f", "--family", NULL }, O_FAMILY },
	{ { "-o", "--output", NULL }, O_OUTPUT },
	{ { "-e", "--event-mask", NULL }, O_EVENTS },
};

static int
set_opt(struct ct_filter *f, enum opt_id id, const char *v,
	struct pgt_rpc_err *err)
{
	uint8_t proto;
	char *end;

	switch (id) {
	case O_SRC:
	case O_DST:
	case O_RSRC:
	case O_RDST:
		return parse_addr_filter(&f->addr[id - O_SRC], v, err);
	case O_SPORT:
	case O_DPORT:
	case O_RSPORT:
	case O_RDPORT:
		return parse_port(&f->port[id - O_SPORT], v, err);
	case O_PROTO:
		if (pgt_ct_parse_proto(v, &proto) != 0)
			return pgt_rpc_errorf(err, -EINVAL,
				"-p: '%s' is not a protocol", v);
		f->proto = proto;
		return 0;
	case O_MARK:
		f->mark = (uint32_t)strtoul(v, &end, 0);
		f->mark_mask = UINT32_MAX;
		if (*end == '/')
			f->mark_mask = (uint32_t)strtoul(end + 1, &end, 0);
		if (*v == '\0' || *end != '\0')
			return pgt_rpc_errorf(err, -EINVAL,
				"-m: '%s' is not MARK[/MASK]", v);
		f->has_mark = true;
		return 0;
	case O_STATUS:
		return parse_status(f, v, err);
	case O_STATE:
		return parse_tcp_state(f, v, err);
	case O_FAMILY:
		if (strcmp(v, "ipv4") != 0)
			return pgt_rpc_errorf(err, -EINVAL,
				"-f %s: pktgate tracks ipv4 only", v);
		return 0;
	case O_OUTPUT:
		return parse_output(f, v, err);
	case O_EVENTS:
		return parse_events(f, v, err);
	}
	return -EINVAL;
}

static int
parse_command(char **w, int n, enum ct_cmd_kind *kind, struct ct_filter *f,
	struct pgt_rpc_err *err)
{
	static const struct {
		const char *s, *l;
		enum ct_cmd_kind kind;
	} cmds[] = {
		{ "-L", "--dump", CMD_LIST }, { "-D", "--delete", CMD_DELETE },
		{ "-F", "--flush", CMD_FLUSH }, { "-C", "--count", CMD_COUNT },
		{ "-S", "--stats", CMD_STATS }, { "-E", "--event", CMD_EVENTS },
	};
	unsigned int i, k;
	bool have_cmd = false;
	int j;

	memset(f, 0, sizeof(*f));
	f->proto = -1;
	f->tcp_state = -1;
	for (i = 0; i < 4; i++)
		f->port[i] = -1;
	f->event_mask = 0x7;
	for (j = 0; j < n; j++) {
		for (i = 0; i < RTE_DIM(cmds); i++)
			if (strcmp(w[j], cmds[i].s) == 0 ||
					strcmp(w[j], cmds[i].l) == 0)
				break;
		if (i < RTE_DIM(cmds)) {
			if (have_cmd)
				return pgt_rpc_errorf(err, -EINVAL,
					"only one command at a time");
			have_cmd = true;
			*kind = cmds[i].kind;
			/* -L conntrack: the only table pktgate has. */
			if (j + 1 < n && strcmp(w[j + 1], "conntrack") == 0)
				j++;
			continue;
		}
		if (strcmp(w[j], "-n") == 0 || strcmp(w[j], "--src-nat") == 0) {
			f->src_nat = true;
			continue;
		}
		if (strcmp(w[j], "-g") == 0 || strcmp(w[j], "--dst-nat") == 0) {
			f->dst_nat = true;
			continue;
		}
		if (strcmp(w[j], "-j") == 0 || strcmp(w[j], "--any-nat") == 0) {
			f->any_nat = true;
			continue;
		}
		for (i = 0; i < RTE_DIM(arg_opts); i++) {
			for (k = 0; k < 3 && arg_opts[i].name[k] != NULL; k++)
				if (strcmp(w[j], arg_opts[i].name[k]) == 0)
					break;
			if (k < 3 && arg_opts[i].name[k] != NULL)
				break;
		}
		if (i == RTE_DIM(arg_opts))
			return pgt_rpc_errorf(err, -EINVAL,
				"'%s': not an option pktgate's conntrack knows (commands: -L -D -F -C -S -E; -G -I -U -R are not supported)",
				w[j]);
		if (j + 1 == n)
			return pgt_rpc_errorf(err, -EINVAL,
				"%s needs a value", w[j]);
		if (set_opt(f, arg_opts[i].id, w[++j], err) != 0)
			return -EINVAL;
	}
	if (!have_cmd)
		return pgt_rpc_errorf(err, -EINVAL,
			"no command: give -L, -D, -F, -C, -S or -E");
	return 0;
}

static bool
filter_match(const struct ct_filter *f, const struct pgt_ct_tuple *t,
	uint32_t status, uint8_t tcp_state, uint32_t mark)
{
	static const uint8_t which[4][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 },
		{ 1, 1 } };	/* tuple, src(0)/dst(1) */
	const struct pgt_ct_tuple *x;
	unsigned int i;
	uint32_t a;
	uint16_t p;

	if (f->proto >= 0 && t[0].proto != f->proto)
		return false;
	for (i = 0; i < 4; i++) {
		x = &t[which[i][0]];
		a = which[i][1] ? x->dst : x->src;
		p = which[i][1] ? x->dport : x->sport;
		if (f->addr[i].set && (a & f->addr[i].mask) != f->addr[i].addr)
			return false;
		if (f->port[i] >= 0 && p != f->port[i])
			return false;
	}
	if (f->tcp_state >= 0 && (t[0].proto != IPPROTO_TCP ||
			tcp_state != f->tcp_state))
		return false;
	if (f->has_mark && (mark & f->mark_mask) != f->mark)
		return false;
	if ((status & f->status_set) != f->status_set)
		return false;
	if (f->status_unset && (status & (PGT_CT_S_ASSURED |
			PGT_CT_S_SEEN_REPLY | PGT_CT_S_EXPECTED)))
		return false;
	if (f->src_nat && !(status & PGT_CT_S_SRC_NAT))
		return false;
	if (f->dst_nat && !(status & PGT_CT_S_DST_NAT))
		return false;
	if (f->any_nat && !(status & PGT_CT_S_NAT_MASK))
		return false;
	return true;
}

/* Split @p text at blanks into at most MAX_WORDS words (in @p buf). */
static int
split_words(const char *text, char *buf, size_t size, char **w,
	struct pgt_rpc_err *err)
{
	char *save, *tok;
	int n = 0;

	if (strlen(text) >= size)
		return pgt_rpc_errorf(err, -EINVAL, "command too long");
	strcpy(buf, text);
	for (tok = strtok_r(buf, " \t\n", &save); tok != NULL;
			tok = strtok_r(NULL, " \t\n", &save)) {
		if (n == MAX_WORDS)
			return pgt_rpc_errorf(err, -EINVAL, "too many words");
		w[n++] = tok;
	}
	/* "conntrack -L" works as well as "-L". */
	if (n > 0 && strcmp(w[0], "conntrack") == 0) {
		memmove(w, w + 1, sizeof(*w) * (size_t)--n);
	}
	return n;
}

/* conntrack */

struct conntrack_args {
	const char *command;
	uint32_t cursor;
	bool has_cursor;
	bool structured;
	bool has_structured;
};

static json_t *
tuple_json(const struct pgt_ct_tuple *t)
{
	char a[PGT_INET_ADDRSTRLEN], b[PGT_INET_ADDRSTRLEN];
	json_t *o = json_pack("{s:s, s:s}",
		"src", pgt_inet_format_addr(t->src, a, sizeof(a)),
		"dst", pgt_inet_format_addr(t->dst, b, sizeof(b)));

	if (t->proto == IPPROTO_ICMP) {
		json_object_set_new(o, "type", json_integer(t->dport >> 8));
		json_object_set_new(o, "code", json_integer(t->dport & 0xff));
		json_object_set_new(o, "id", json_integer(t->sport));
	} else if (t->sport != 0 || t->dport != 0) {
		json_object_set_new(o, "sport", json_integer(t->sport));
		json_object_set_new(o, "dport", json_integer(t->dport));
	}
	return o;
}

/* One connection as conntrack -L -o json would have it: both tuples. */
static json_t *
conn_json(const struct pgt_ct_snapshot *s)
{
	const struct pgt_ct_conn *c = &s->c;
	json_t *o = json_pack("{s:s, s:i, s:I, s:o, s:o, s:b, s:b, s:I, s:I,"
		" s:i}",
		"proto", proto_name(c->tuple[0].proto),
		"protonum", c->tuple[0].proto,
		"timeout", (json_int_t)s->timeout_s,
		"original", tuple_json(&c->tuple[0]),
		"reply", tuple_json(&c->tuple[1]),
		"seen_reply", (c->status & PGT_CT_S_SEEN_REPLY) != 0,
		"assured", (c->status & PGT_CT_S_ASSURED) != 0,
		"mark", (json_int_t)c->mark,
		"id", (json_int_t)c->id,
		"worker", (int)s->worker);

	if (c->tuple[0].proto == IPPROTO_TCP)
		json_object_set_new(o, "state", json_string(
			pgt_ct_tcp_state_name(c->tcp.state)));
	return o;
}

/* Walk slots from @p cursor for -L or -D; result has output and the
 * cursor to continue from (none when done). */
static int
walk(const struct ct_filter *f, bool delete, bool structured, uint32_t cursor,
	json_t **result, struct pgt_rpc_err *err)
{
	json_t *conns;
	uint32_t cap = pgt_ct_slots(), end, shown = 0;
	uint64_t total = (uint64_t)cap * pgt_ct_nb_workers();
	struct pgt_ct_snapshot s;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int rc;

	if (cursor > total)
		return pgt_rpc_errorf(err, -EINVAL, "cursor %u is past the end",
			cursor);
	out = open_memstream(&text, &len);
	if (out == NULL)
		return -ENOMEM;
	conns = structured ? json_array() : NULL;
	end = (uint32_t)RTE_MIN((uint64_t)cursor + CHUNK_SLOTS, total);
	for (; cursor < end; cursor++) {
		rc = pgt_ct_snapshot(cursor / cap, cursor % cap, &s);
		if (rc != 0 || !filter_match(f, s.c.tuple, s.c.status,
				s.c.tcp.state, s.c.mark))
			continue;
		if (delete && pgt_ct_delete(s.worker, s.idx, s.c.id) != 0)
			break;	/* ring full: go on from here next call */
		if (structured) {
			json_array_append_new(conns, conn_json(&s));
		} else {
			pgt_ct_format(out, &s.c, s.timeout_s, f->extended,
				f->with_id);
			fputc('\n', out);
		}
		shown++;
	}
	fclose(out);
	*result = json_pack("{s:s, s:i}", "output", text, "entries", shown);
	free(text);
	if (*result == NULL) {
		json_decref(conns);
		return -ENOMEM;
	}
	if (structured)
		json_object_set_new(*result, "connections", conns);
	if (cursor < total)
		json_object_set_new(*result, "cursor", json_integer(cursor));
	return 0;
}

static int
stats_text(json_t **result)
{
	unsigned int w, s;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		return -ENOMEM;
	for (w = 0; w < pgt_ct_nb_workers(); w++) {
		fprintf(out, "cpu=%-4u\t", w);
		for (s = 0; s < PGT_CT_STAT_MAX; s++)
			fprintf(out, "%s=%" PRIu64 " ", pgt_ct_stat_name(s),
				pgt_ct_stat(w, s));
		fputc('\n', out);
	}
	fclose(out);
	*result = json_pack("{s:s}", "output", text);
	free(text);
	return *result == NULL ? -ENOMEM : 0;
}

static int
rpc_conntrack(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct conntrack_args *a = argp;
	char buf[1024], *w[MAX_WORDS];
	enum ct_cmd_kind kind = CMD_LIST;
	struct ct_filter f;
	int n, rc;

	n = split_words(a->command, buf, sizeof(buf), w, err);
	if (n < 0)
		return n;
	if (parse_command(w, n, &kind, &f, err) != 0)
		return -EINVAL;
	switch (kind) {
	case CMD_LIST:
	case CMD_DELETE:
		return walk(&f, kind == CMD_DELETE, a->structured,
			a->has_cursor ? a->cursor : 0,
			result, err);
	case CMD_FLUSH:
		rc = pgt_ct_flush();
		if (rc != 0)
			return pgt_rpc_errorf(err, rc,
				"the workers are busy with earlier commands; try again");
		*result = json_pack("{s:s}", "output", "");
		return 0;
	case CMD_COUNT:
		*result = json_pack("{s:o}", "output", json_sprintf("%u\n",
			pgt_ct_count()));
		return *result == NULL ? -ENOMEM : 0;
	case CMD_STATS:
		return stats_text(result);
	case CMD_EVENTS:
		return pgt_rpc_errorf(err, -EINVAL,
			"-E is a stream: call conntrack_events repeatedly (pktgatectl conntrack -E does)");
	}
	return -EINVAL;
}

static const struct pgt_rpc_param conntrack_params[] = {
	PGT_RPC_PARAM(struct conntrack_args, command, PGT_RPC_TEXT, true,
		"conntrack-tools' arguments: -L|-D [filters] [-o extended,id], -F, -C, -S; filters -s -d -r -q -p --sport --dport --reply-port-src --reply-port-dst -m -u --state -n -g -j"),
	PGT_RPC_PARAM_OPT(struct conntrack_args, cursor, PGT_RPC_U32,
		"for -L and -D: where the previous call stopped (its \"cursor\")"),
	PGT_RPC_PARAM_OPT(struct conntrack_args, structured, PGT_RPC_BOOL,
		"for -L and -D: the connections as JSON objects (\"connections\") instead of text lines"),
};

PGT_RPC_METHOD(conntrack_method, "conntrack",
	"Connection table in conntrack-tools' terms; -L and -D return one chunk and a \"cursor\" to continue from until it is absent",
	conntrack_params, struct conntrack_args, rpc_conntrack);

/* Events */

struct event_line {
	uint64_t seq;
	struct pgt_ct_event ev;
};

static struct event_line *event_buf;
static uint64_t event_next_seq = 1;	/* seq of the next event stored */
static uint64_t last_listen_tsc;

void
pgt_ct_poll(void)
{
	struct pgt_ct_event ev[64];
	unsigned int n, i;
	uint64_t now;

	if (!pgt_ct_events_on || pgt_ct_tables == NULL)
		return;
	now = rte_get_tsc_cycles();
	if (now - last_listen_tsc > LISTENER_TIMEOUT_S * rte_get_tsc_hz()) {
		/* Nobody is listening any more: stop the workers posting. */
		pgt_ct_events_enable(false);
		return;
	}
	do {
		n = pgt_ct_events_take(ev, RTE_DIM(ev));
		for (i = 0; i < n; i++) {
			event_buf[event_next_seq % EVENT_BUF] =
				(struct event_line){ .seq = event_next_seq,
				.ev = ev[i] };
			event_next_seq++;
		}
	} while (n == RTE_DIM(ev));
}

struct events_args {
	const char *command;
	bool has_command;
	uint32_t since_hi, since_lo;
	bool has_since_hi, has_since_lo;
};

static int
rpc_conntrack_events(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	static const char *const names[] = { "[NEW]", "[UPDATE]", "[DESTROY]" };
	struct events_args *a = argp;
	char buf[1024], *w[MAX_WORDS];
	enum ct_cmd_kind kind = CMD_EVENTS;
	uint64_t since, first, s;
	struct event_line *l;
	struct ct_filter f;
	char *text = NULL;
	size_t len = 0;
	uint64_t lost = 0;
	FILE *out;
	int n;

	n = split_words(a->has_command ? a->command : "-E", buf, sizeof(buf),
		w, err);
	if (n < 0)
		return n;
	if (parse_command(w, n, &kind, &f, err) != 0)
		return -EINVAL;
	if (kind != CMD_EVENTS)
		return pgt_rpc_errorf(err, -EINVAL,
			"conntrack_events takes -E and its filters");
	if (event_buf == NULL) {
		event_buf = calloc(EVENT_BUF, sizeof(*event_buf));
		if (event_buf == NULL)
			return -ENOMEM;
	}
	last_listen_tsc = rte_get_tsc_cycles();
	if (!pgt_ct_events_on)
		pgt_ct_events_enable(true);
	pgt_ct_poll();
	/* No "since": start from now. */
	since = a->has_since_lo ? ((uint64_t)a->since_hi << 32 | a->since_lo) :
		event_next_seq;
	first = event_next_seq > EVENT_BUF ? event_next_seq - EVENT_BUF : 1;
	if (since < first) {
		lost = first - since;
		since = first;
	}
	out = open_memstream(&text, &len);
	if (out == NULL)
		return -ENOMEM;
	for (s = since; s < event_next_seq; s++) {
		l = &event_buf[s % EVENT_BUF];
		if (!(f.event_mask & (1u << l->ev.type)) ||
				!filter_match(&f, l->ev.tuple, l->ev.status,
				l->ev.tcp_state, l->ev.mark))
			continue;
		fprintf(out, "%9s ", names[l->ev.type]);
		format_conn(out, l->ev.tuple, l->ev.status, l->ev.tcp_state,
			l->ev.mark, l->ev.id, l->ev.type == PGT_CT_EVENT_DESTROY ?
			-1 : l->ev.timeout_s, f.extended, f.with_id);
		fputc('\n', out);
	}
	fclose(out);
	*result = json_pack("{s:s, s:I, s:I, s:I}", "output", text,
		"next_hi", (json_int_t)(event_next_seq >> 32),
		"next_lo", (json_int_t)(event_next_seq & UINT32_MAX),
		"lost", (json_int_t)lost);
	free(text);
	return *result == NULL ? -ENOMEM : 0;
}

static const struct pgt_rpc_param events_params[] = {
	PGT_RPC_PARAM_OPT(struct events_args, command, PGT_RPC_TEXT,
		"-E with filters as conntrack takes them, e.g. \"-E -e NEW,DESTROY -p tcp\""),
	PGT_RPC_PARAM_OPT(struct events_args, since_hi, PGT_RPC_U32,
		"high 32 bits of the previous answer's position"),
	PGT_RPC_PARAM_OPT(struct events_args, since_lo, PGT_RPC_U32,
		"low 32 bits of the previous answer's position (absent: from now)"),
};

PGT_RPC_METHOD(conntrack_events_method, "conntrack_events",
	"Connection events (NEW, UPDATE, DESTROY) since a position; poll it with the returned next_hi/next_lo (events are gathered while someone polled in the last 5 s)",
	events_params, struct events_args, rpc_conntrack_events);

/* Tunables */

struct config_args {
	uint32_t max;
	bool has_max;
#define X(e, n, d) uint32_t n; bool has_##n;
	PGT_CT_TIMEOUT_LIST(X)
#undef X
	bool tcp_be_liberal, has_tcp_be_liberal;
	bool tcp_loose, has_tcp_loose;
	uint32_t tcp_max_retrans;
	bool has_tcp_max_retrans;
};

/* Ten years: longer makes no sense and would overflow TSC arithmetic. */
#define TIMEOUT_MAX (10u * 365 * 86400)

static int
rpc_conntrack_config_set(void *argp, json_t **result,
	struct pgt_rpc_err *err)
{
	struct config_args *a = argp;

	RTE_SET_USED(result);
	if (a->has_max && a->max > pgt_ct_capacity())
		return pgt_rpc_errorf(err, -ERANGE,
			"max %u is above the %u connections allocated at start (--conntrack-max)",
			a->max, pgt_ct_capacity());
	if (a->has_max)
		pgt_ct_set_max(a->max);
#define X(e, n, d) \
	if (a->has_##n) \
		__atomic_store_n(&pgt_ct_cfg.timeout[PGT_CT_TO_##e], a->n, \
			__ATOMIC_RELAXED);
	PGT_CT_TIMEOUT_LIST(X)
#undef X
	if (a->has_tcp_be_liberal)
		pgt_ct_cfg.tcp_be_liberal = a->tcp_be_liberal;
	if (a->has_tcp_loose)
		pgt_ct_cfg.tcp_loose = a->tcp_loose;
	if (a->has_tcp_max_retrans)
		pgt_ct_cfg.tcp_max_retrans = (uint8_t)a->tcp_max_retrans;
	return 0;
}

static const struct pgt_rpc_param config_params[] = {
	PGT_RPC_PARAM_U32(struct config_args, max, 1, UINT32_MAX,
		"most connections, all workers (nf_conntrack_max); at most what --conntrack-max allocated"),
#define X(e, n, d) PGT_RPC_PARAM_U32(struct config_args, n, 1, TIMEOUT_MAX, \
		"seconds (default " #d ")"),
	PGT_CT_TIMEOUT_LIST(X)
#undef X
	PGT_RPC_PARAM_OPT(struct config_args, tcp_be_liberal, PGT_RPC_BOOL,
		"only out-of-window RSTs are INVALID (default false)"),
	PGT_RPC_PARAM_OPT(struct config_args, tcp_loose, PGT_RPC_BOOL,
		"pick up TCP connections mid-stream (default true)"),
	PGT_RPC_PARAM_U32(struct config_args, tcp_max_retrans, 1, 255,
		"retransmissions before tcp_timeout_max_retrans applies (default 3)"),
};

PGT_RPC_METHOD(conntrack_config_set_method, "conntrack_config_set",
	"Set connection tracking tunables (Linux's nf_conntrack_* sysctls); applies to the next packet of each connection",
	config_params, struct config_args, rpc_conntrack_config_set);

static json_t *
config_json(bool changed_only)
{
	json_t *o = json_object();
	unsigned int t;

	if (!changed_only || pgt_ct_cfg.max != pgt_ct_capacity())
		json_object_set_new(o, "max", json_integer(pgt_ct_cfg.max));
	for (t = 0; t < PGT_CT_TO_MAX; t++)
		if (!changed_only || pgt_ct_cfg.timeout[t] !=
				pgt_ct_timeout_default(t))
			json_object_set_new(o, pgt_ct_timeout_name(t),
				json_integer(pgt_ct_cfg.timeout[t]));
	if (!changed_only || pgt_ct_cfg.tcp_be_liberal)
		json_object_set_new(o, "tcp_be_liberal",
			json_boolean(pgt_ct_cfg.tcp_be_liberal));
	if (!changed_only || !pgt_ct_cfg.tcp_loose)
		json_object_set_new(o, "tcp_loose",
			json_boolean(pgt_ct_cfg.tcp_loose));
	if (!changed_only || pgt_ct_cfg.tcp_max_retrans != 3)
		json_object_set_new(o, "tcp_max_retrans",
			json_integer(pgt_ct_cfg.tcp_max_retrans));
	return o;
}

static int
rpc_conntrack_config_get(void *argp, json_t **result,
	struct pgt_rpc_err *err)
{
	RTE_SET_USED(argp);
	RTE_SET_USED(err);
	*result = config_json(false);
	json_object_set_new(*result, "count", json_integer(pgt_ct_count()));
	json_object_set_new(*result, "capacity",
		json_integer(pgt_ct_capacity()));
	return 0;
}

PGT_RPC_METHOD_NOARGS(conntrack_config_get_method, "conntrack_config_get",
	"Connection tracking tunables, the number of connections and the capacity allocated",
	rpc_conntrack_config_get);

/*
 * conntrack_stats_get: conntrack -S as numbers, per worker and summed, for
 * the metrics exporters and scripts that should not parse the text form.
 */
static int
rpc_conntrack_stats_get(void *argp, json_t **result,
	struct pgt_rpc_err *err)
{
	uint64_t total[PGT_CT_STAT_MAX] = { 0 }, v;
	json_t *workers = json_array(), *o, *sum = json_object();
	unsigned int w, s;

	RTE_SET_USED(argp);
	RTE_SET_USED(err);
	for (w = 0; w < pgt_ct_nb_workers(); w++) {
		o = json_object();
		for (s = 0; s < PGT_CT_STAT_MAX; s++) {
			v = pgt_ct_stat(w, s);
			total[s] += v;
			json_object_set_new(o, pgt_ct_stat_name(s),
				json_integer((json_int_t)v));
		}
		json_array_append_new(workers, o);
	}
	for (s = 0; s < PGT_CT_STAT_MAX; s++)
		json_object_set_new(sum, pgt_ct_stat_name(s),
			json_integer((json_int_t)total[s]));
	*result = json_pack("{s:i, s:i, s:o, s:o}", "count", pgt_ct_count(),
		"max", pgt_ct_cfg.max, "total", sum, "workers", workers);
	return 0;
}

PGT_RPC_METHOD_NOARGS(conntrack_stats_get_method, "conntrack_stats_get",
	"Connections now, the limit, and the statistics of conntrack -S per worker and summed",
	rpc_conntrack_stats_get);

static void
save_config(json_t *calls)
{
	json_t *o = config_json(true);

	if (json_object_size(o) == 0) {
		json_decref(o);
		return;
	}
	pgt_rpc_save_call(calls, "conntrack_config_set", o);
}

/* What a fresh start has: conntrack_config_set's every value. */
static json_t *
config_defaults(void)
{
	json_t *o = json_pack("{s:i, s:b, s:b, s:i}", "max",
		(json_int_t)pgt_ct_capacity(), "tcp_be_liberal", false,
		"tcp_loose", true, "tcp_max_retrans", 3);
	unsigned int t;

	for (t = 0; t < PGT_CT_TO_MAX; t++)
		json_object_set_new(o, pgt_ct_timeout_name(t),
			json_integer(pgt_ct_timeout_default(t)));
	return o;
}

static int
plan_config(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	RTE_SET_USED(err);
	pgt_rpc_plan_setting("conntrack_config_set", config_defaults(),
		running, wanted, phase, plan);
	return 0;
}

static const char *const conntrack_methods[] = { "conntrack_config_set",
	NULL };
static struct pgt_rpc_saver conntrack_saver = { .order = 50,
	.save = save_config, .methods = conntrack_methods,
	.plan = plan_config };
PGT_RPC_REGISTER_SAVER(conntrack_saver);
