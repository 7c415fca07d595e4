/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Matches on the packet itself: -m comment, mark, length, ttl, pkttype,
 * iprange (libxt_comment, libxt_mark, libxt_length, libipt_ttl,
 * libxt_pkttype, libxt_iprange), and connmark, which is mark's option on
 * the packet's connection (libxt_connmark).
 */
#include <errno.h>
#include <string.h>


#include "pgt_inet.h"
#include "pgt_ruleset.h"

/* comment */

#define COMMENT_MAX 256

struct comment_data {
	char text[COMMENT_MAX];
};

static int
comment_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct comment_data *d = data;

	if (strlen(args[0]) >= COMMENT_MAX)
		return pgt_rs_errorf(err, "--comment: longer than %u characters",
			COMMENT_MAX - 1);
	strcpy(d->text, args[0]);
	return 0;
}

static void
comment_print(const void *data, FILE *f)
{
	fputs(" --comment ", f);
	pgt_rs_print_quoted(f, ((const struct comment_data *)data)->text);
}

static void
comment_list(const void *data, FILE *f)
{
	fprintf(f, " /* %s */", ((const struct comment_data *)data)->text);
}

static const struct pgt_rs_opt comment_opts[] = {
	{ "comment", 1, false },
	{ NULL, 0, false },
};

static struct pgt_match_ops comment_ops = {
	.name = "comment", .size = sizeof(struct comment_data),
	.opts = comment_opts, .parse = comment_parse, .print = comment_print,
	.list = comment_list,
};
PGT_MATCH_REGISTER(comment_ops);

/* mark, and connmark: the same option on the packet's connection. */

struct mark_data {
	uint32_t value, mask;
	bool inv, set;
};

static int
mark_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct mark_data *d = data;

	if (pgt_rs_parse_mark(args[0], &d->value, &d->mask) != 0)
		return pgt_rs_errorf(err, "--mark: '%s' is not value[/mask]",
			args[0]);
	d->inv = inv;
	d->set = true;
	return 0;
}

static int
mark_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (!((struct mark_data *)data)->set)
		return pgt_rs_errorf(err, "-m mark needs --mark");
	return 0;
}

static int
connmark_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (!((struct mark_data *)data)->set)
		return pgt_rs_errorf(err, "-m connmark needs --mark");
	return 0;
}

static void
print_value_mask(const struct mark_data *d, FILE *f)
{
	fprintf(f, " 0x%x", d->value);
	if (d->mask != UINT32_MAX)
		fprintf(f, "/0x%x", d->mask);
}

static void
mark_print(const void *data, FILE *f)
{
	const struct mark_data *d = data;

	fprintf(f, "%s --mark", d->inv ? " !" : "");
	print_value_mask(d, f);
}

static void
mark_list(const void *data, FILE *f)
{
	const struct mark_data *d = data;

	fprintf(f, " mark match%s", d->inv ? " !" : "");
	print_value_mask(d, f);
}

static void
connmark_list(const void *data, FILE *f)
{
	const struct mark_data *d = data;

	fprintf(f, " connmark match %s", d->inv ? "!" : "");
	print_value_mask(d, f);
}

static bool
mark_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct mark_data *d = data;

	return ((p->meta->mark & d->mask) == d->value) != d->inv;
}

/* xt_connmark: a packet without a connection never matches, negated or
 * not. */
static bool
connmark_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct mark_data *d = data;

	if (p->ct == NULL)
		return false;
	return ((p->ct->mark & d->mask) == d->value) != d->inv;
}

static const struct pgt_rs_opt mark_opts[] = {
	{ "mark", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops mark_ops = {
	.name = "mark", .size = sizeof(struct mark_data), .opts = mark_opts,
	.parse = mark_parse, .finish = mark_finish, .print = mark_print,
	.list = mark_list, .match = mark_match,
};
PGT_MATCH_REGISTER(mark_ops);

static struct pgt_match_ops connmark_ops = {
	.name = "connmark", .size = sizeof(struct mark_data), .opts = mark_opts,
	.parse = mark_parse, .finish = connmark_finish, .print = mark_print,
	.list = connmark_list, .match = connmark_match, .conntrack = true,
};
PGT_MATCH_REGISTER(connmark_ops);

/* length: the IP datagram's length, as Linux's length match. */

struct length_data {
	uint16_t lo, hi;
	bool inv, set;
};

static int
length_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct length_data *d = data;
	uint32_t lo, hi;
	char buf[32], *colon;

	if (strlen(args[0]) >= sizeof(buf))
		goto bad;
	strcpy(buf, args[0]);
	colon = strchr(buf, ':');
	if (colon != NULL)
		*colon = '\0';
	lo = 0;
	hi = 65535;
	if (buf[0] != '\0' && pgt_rs_parse_u32(buf, 0, 65535, &lo) != 0)
		goto bad;
	if (colon == NULL)
		hi = lo;
	else if (colon[1] != '\0' &&
			pgt_rs_parse_u32(colon + 1, 0, 65535, &hi) != 0)
		goto bad;
	if (lo > hi)
		goto bad;
	d->lo = (uint16_t)lo;
	d->hi = (uint16_t)hi;
	d->inv = inv;
	d->set = true;
	return 0;
bad:
	return pgt_rs_errorf(err, "--length: '%s' is not a length or min:max",
		args[0]);
}

static int
length_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (!((struct length_data *)data)->set)
		return pgt_rs_errorf(err, "-m length needs --length");
	return 0;
}

static void
length_print(const void *data, FILE *f)
{
	const struct length_data *d = data;

	fprintf(f, "%s --length ", d->inv ? " !" : "");
	pgt_rs_print_port_range(f, d->lo, d->hi);
}

static void
length_list(const void *data, FILE *f)
{
	const struct length_data *d = data;

	fprintf(f, " length %s", d->inv ? "!" : "");
	pgt_rs_print_port_range(f, d->lo, d->hi);
}

static bool
length_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct length_data *d = data;

	return (p->ip_len >= d->lo && p->ip_len <= d->hi) != d->inv;
}

static const struct pgt_rs_opt length_opts[] = {
	{ "length", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops length_ops = {
	.name = "length", .size = sizeof(struct length_data),
	.opts = length_opts, .parse = length_parse, .finish = length_finish,
	.print = length_print, .list = length_list, .match = length_match,
};
PGT_MATCH_REGISTER(length_ops);

/* ttl */

enum ttl_op { TTL_EQ = 1, TTL_NE, TTL_LT, TTL_GT };

struct ttl_data {
	uint8_t op, value;
};

static int
ttl_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct ttl_data *d = data;
	uint32_t v;

	if (d->op != 0)
		return pgt_rs_errorf(err, "-m ttl takes one comparison");
	if (pgt_rs_parse_u32(args[0], 0, 255, &v) != 0)
		return pgt_rs_errorf(err, "--%s: '%s' is not a TTL 0-255", opt,
			args[0]);
	d->value = (uint8_t)v;
	if (strcmp(opt, "ttl-eq") == 0)
		d->op = inv ? TTL_NE : TTL_EQ;
	else
		d->op = strcmp(opt, "ttl-lt") == 0 ? TTL_LT : TTL_GT;
	return 0;
}

static int
ttl_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (((struct ttl_data *)data)->op == 0)
		return pgt_rs_errorf(err,
			"-m ttl needs --ttl-eq, --ttl-lt or --ttl-gt");
	return 0;
}

static void
ttl_print(const void *data, FILE *f)
{
	const struct ttl_data *d = data;
	static const char *const ops[] = {
		[TTL_EQ] = " --ttl-eq", [TTL_NE] = " ! --ttl-eq",
		[TTL_LT] = " --ttl-lt", [TTL_GT] = " --ttl-gt",
	};

	fprintf(f, "%s %u", ops[d->op], d->value);
}

static void
ttl_list(const void *data, FILE *f)
{
	const struct ttl_data *d = data;
	static const char *const ops[] = {
		[TTL_EQ] = "==", [TTL_NE] = "!=", [TTL_LT] = "<",
		[TTL_GT] = ">",
	};

	fprintf(f, " TTL match TTL %s %u", ops[d->op], d->value);
}

static bool
ttl_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct ttl_data *d = data;
	uint8_t ttl = p->ip->time_to_live;

	switch (d->op) {
	case TTL_EQ:
		return ttl == d->value;
	case TTL_NE:
		return ttl != d->value;
	case TTL_LT:
		return ttl < d->value;
	default:
		return ttl > d->value;
	}
}

static const struct pgt_rs_opt ttl_opts[] = {
	{ "ttl-eq", 1, true }, { "ttl-lt", 1, false }, { "ttl-gt", 1, false },
	{ NULL, 0, false },
};

static struct pgt_match_ops ttl_ops = {
	.name = "ttl", .size = sizeof(struct ttl_data), .opts = ttl_opts,
	.parse = ttl_parse, .finish = ttl_finish, .print = ttl_print,
	.list = ttl_list,
	.match = ttl_match,
};
PGT_MATCH_REGISTER(ttl_ops);

/* pkttype: how the frame was addressed at layer 2. */

enum pkt_type { PT_UNICAST = 1, PT_BROADCAST, PT_MULTICAST };

struct pkttype_data {
	uint8_t type;
	bool inv;
};

static const char *const pkt_type_names[] = {
	[PT_UNICAST] = "unicast", [PT_BROADCAST] = "broadcast",
	[PT_MULTICAST] = "multicast",
};

static int
pkttype_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct pkttype_data *d = data;
	uint8_t t;

	for (t = PT_UNICAST; t <= PT_MULTICAST; t++)
		if (strcasecmp(args[0], pkt_type_names[t]) == 0) {
			d->type = t;
			d->inv = inv;
			return 0;
		}
	return pgt_rs_errorf(err,
		"--pkt-type: '%s' is not unicast, broadcast or multicast",
		args[0]);
}

static int
pkttype_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (((struct pkttype_data *)data)->type == 0)
		return pgt_rs_errorf(err, "-m pkttype needs --pkt-type");
	return 0;
}

static void
pkttype_print(const void *data, FILE *f)
{
	const struct pkttype_data *d = data;

	fprintf(f, "%s --pkt-type %s", d->inv ? " !" : "",
		pkt_type_names[d->type]);
}

static void
pkttype_list(const void *data, FILE *f)
{
	const struct pkttype_data *d = data;

	fprintf(f, " PKTTYPE %s= %s", d->inv ? "!" : "",
		pkt_type_names[d->type]);
}

static bool
pkttype_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct pkttype_data *d = data;
	uint8_t t;

	if (p->meta->l2_bcast)
		t = PT_BROADCAST;
	else if (pgt_inet_is_multicast(p->dst))
		t = PT_MULTICAST;
	else
		t = PT_UNICAST;
	return (t == d->type) != d->inv;
}

static const struct pgt_rs_opt pkttype_opts[] = {
	{ "pkt-type", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops pkttype_ops = {
	.name = "pkttype", .size = sizeof(struct pkttype_data),
	.opts = pkttype_opts, .parse = pkttype_parse,
	.finish = pkttype_finish, .print = pkttype_print, .list = pkttype_list,
	.match = pkttype_match,
};
PGT_MATCH_REGISTER(pkttype_ops);

/* iprange */

struct iprange_data {
	uint32_t src[2], dst[2];
	bool has_src, has_dst, inv_src, inv_dst;
};

static int
iprange_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct iprange_data *d = data;
	bool src = strcmp(opt, "src-range") == 0;
	uint32_t *r = src ? d->src : d->dst;
	char buf[40], *dash;

	if (strlen(args[0]) >= sizeof(buf))
		goto bad;
	strcpy(buf, args[0]);
	dash = strchr(buf, '-');
	if (dash != NULL)
		*dash = '\0';
	if (pgt_inet_parse_addr(buf, &r[0]) != 0)
		goto bad;
	r[1] = r[0];
	if (dash != NULL && pgt_inet_parse_addr(dash + 1, &r[1]) != 0)
		goto bad;
	if (r[0] > r[1])
		goto bad;
	if (src) {
		d->has_src = true;
		d->inv_src = inv;
	} else {
		d->has_dst = true;
		d->inv_dst = inv;
	}
	return 0;
bad:
	return pgt_rs_errorf(err, "--%s: '%s' is not an address range a[-b]",
		opt, args[0]);
}

static int
iprange_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	const struct iprange_data *d = data;

	if (!d->has_src && !d->has_dst)
		return pgt_rs_errorf(err,
			"-m iprange needs --src-range or --dst-range");
	return 0;
}

static void
print_range(FILE *f, const char *opt, const uint32_t *r, bool inv)
{
	char a[PGT_INET_ADDRSTRLEN], b[PGT_INET_ADDRSTRLEN];

	fprintf(f, "%s --%s %s-%s", inv ? " !" : "", opt,
		pgt_inet_format_addr(r[0], a, sizeof(a)),
		pgt_inet_format_addr(r[1], b, sizeof(b)));
}

static void
iprange_print(const void *data, FILE *f)
{
	const struct iprange_data *d = data;

	if (d->has_src)
		print_range(f, "src-range", d->src, d->inv_src);
	if (d->has_dst)
		print_range(f, "dst-range", d->dst, d->inv_dst);
}

static void
list_range(FILE *f, const char *what, const uint32_t *r, bool inv)
{
	char a[PGT_INET_ADDRSTRLEN], b[PGT_INET_ADDRSTRLEN];

	fprintf(f, " %s IP range %s%s-%s", what, inv ? "! " : "",
		pgt_inet_format_addr(r[0], a, sizeof(a)),
		pgt_inet_format_addr(r[1], b, sizeof(b)));
}

static void
iprange_list(const void *data, FILE *f)
{
	const struct iprange_data *d = data;

	if (d->has_src)
		list_range(f, "source", d->src, d->inv_src);
	if (d->has_dst)
		list_range(f, "destination", d->dst, d->inv_dst);
}

static bool
iprange_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct iprange_data *d = data;
	uint32_t a;

	if (d->has_src) {
		a = p->src;
		if ((a >= d->src[0] && a <= d->src[1]) == d->inv_src)
			return false;
	}
	if (d->has_dst) {
		a = p->dst;
		if ((a >= d->dst[0] && a <= d->dst[1]) == d->inv_dst)
			return false;
	}
	return true;
}

static const struct pgt_rs_opt iprange_opts[] = {
	{ "src-range", 1, true }, { "dst-range", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops iprange_ops = {
	.name = "iprange", .size = sizeof(struct iprange_data),
	.opts = iprange_opts, .parse = iprange_parse,
	.finish = iprange_finish, .print = iprange_print, .list = iprange_list,
	.match = iprange_match,
};
PGT_MATCH_REGISTER(iprange_ops);
