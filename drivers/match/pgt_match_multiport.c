/* SPDX-License-Identifier: BSD-3-Clause */
/* -m multiport --sports/--dports/--ports (libxt_multiport, revision 1). */
#include <errno.h>
#include <string.h>

#include "pgt_ruleset.h"

/* iptables' limit: 15 ports, a range counting as two. */
#define MAX_PORTS 15

enum mp_dir { MP_SRC = 1, MP_DST, MP_ANY };

struct mp_data {
	uint8_t dir;
	uint8_t count;		/* ranges */
	bool inv;
	uint16_t lo[MAX_PORTS], hi[MAX_PORTS];
};

static int
mp_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct mp_data *d = data;
	char buf[256], *tok, *save;
	unsigned int slots = 0;

	if (d->dir != 0)
		return pgt_rs_errorf(err,
			"-m multiport takes one of --sports, --dports, --ports");
	d->dir = strcmp(opt, "sports") == 0 || strcmp(opt, "source-ports") == 0 ?
		MP_SRC : strcmp(opt, "ports") == 0 ? MP_ANY : MP_DST;
	d->inv = inv;
	if (strlen(args[0]) >= sizeof(buf))
		return pgt_rs_errorf(err, "--%s: list too long", opt);
	strcpy(buf, args[0]);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
			tok = strtok_r(NULL, ",", &save)) {
		slots += strchr(tok, ':') != NULL ? 2 : 1;
		if (slots > MAX_PORTS)
			return pgt_rs_errorf(err,
				"--%s: more than %u ports (a range counts as two)",
				opt, MAX_PORTS);
		/* Unlike --dport, a multiport range has both ends, in
		 * increasing order (libxt_multiport). */
		if (pgt_rs_parse_port_range(tok, &d->lo[d->count],
				&d->hi[d->count]) != 0 || tok[0] == ':' ||
				tok[strlen(tok) - 1] == ':' ||
				(strchr(tok, ':') != NULL &&
				 d->lo[d->count] >= d->hi[d->count]))
			return pgt_rs_errorf(err,
				"--%s: invalid port or range '%s'", opt, tok);
		d->count++;
	}
	if (d->count == 0)
		return pgt_rs_errorf(err, "--%s: no port given", opt);
	return 0;
}

static int
mp_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	const struct mp_data *d = data;

	if (d->dir == 0)
		return pgt_rs_errorf(err,
			"-m multiport needs --sports, --dports or --ports");
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != 132 &&
			proto != 136)
		return pgt_rs_errorf(err,
			"-m multiport needs -p tcp, udp, sctp or udplite");
	return 0;
}

static void
mp_print(const void *data, FILE *f)
{
	const struct mp_data *d = data;
	unsigned int i;

	fprintf(f, "%s --%s ", d->inv ? " !" : "",
		d->dir == MP_SRC ? "sports" : d->dir == MP_DST ? "dports" :
		"ports");
	for (i = 0; i < d->count; i++) {
		if (i > 0)
			fputc(',', f);
		pgt_rs_print_port_range(f, d->lo[i], d->hi[i]);
	}
}

static void
mp_list(const void *data, FILE *f)
{
	const struct mp_data *d = data;
	unsigned int i;

	fprintf(f, " multiport %s %s", d->dir == MP_SRC ? "sports" :
		d->dir == MP_DST ? "dports" : "ports", d->inv ? " !" : "");
	for (i = 0; i < d->count; i++) {
		if (i > 0)
			fputc(',', f);
		pgt_rs_print_port_range(f, d->lo[i], d->hi[i]);
	}
}

static bool
mp_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct mp_data *d = data;
	unsigned int i;
	bool hit = false;

	if (p->l4 == NULL || p->l4_len < 4)
		return false;
	for (i = 0; i < d->count && !hit; i++)
		hit = ((d->dir != MP_DST && p->sport >= d->lo[i] &&
			p->sport <= d->hi[i]) ||
		       (d->dir != MP_SRC && p->dport >= d->lo[i] &&
			p->dport <= d->hi[i]));
	return hit != d->inv;
}

/* --dports (not negated): the packet's port is within their hull. */
static bool
mp_dport_range(const void *data, uint16_t *lo, uint16_t *hi)
{
	const struct mp_data *d = data;
	unsigned int i;

	if (d->dir != MP_DST || d->inv || d->count == 0)
		return false;
	*lo = d->lo[0];
	*hi = d->hi[0];
	for (i = 1; i < d->count; i++) {
		*lo = RTE_MIN(*lo, d->lo[i]);
		*hi = RTE_MAX(*hi, d->hi[i]);
	}
	return true;
}

static const struct pgt_rs_opt mp_opts[] = {
	{ "sports", 1, true }, { "source-ports", 1, true },
	{ "dports", 1, true }, { "destination-ports", 1, true },
	{ "ports", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops mp_ops = {
	.name = "multiport", .size = sizeof(struct mp_data), .opts = mp_opts,
	.parse = mp_parse, .finish = mp_finish, .print = mp_print,
	.list = mp_list,
	.match = mp_match, .dport_range = mp_dport_range,
};
PGT_MATCH_REGISTER(mp_ops);
