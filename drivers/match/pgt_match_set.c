/* SPDX-License-Identifier: BSD-3-Clause */
/* -m set [!] --match-set NAME src|dst[,src|dst] (libxt_set). */
#include <errno.h>
#include <string.h>


#include "pgt_ruleset.h"

struct set_data {
	const struct pgt_rs_set *set;
	char name[PGT_RS_SET_NAMESIZE];
	uint8_t dim;
	bool src[2];		/* per dimension: src (true) or dst */
	bool inv;
};

static int
set_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct set_data *d = data;
	const char *flags = args[1];
	unsigned int n = 0;

	if (d->set != NULL)
		return pgt_rs_errorf(err, "--match-set given twice");
	d->set = pgt_ruleset_set_find(args[0]);
	if (d->set == NULL)
		return pgt_rs_errorf(err, "--match-set: no set named '%s'",
			args[0]);
	strcpy(d->name, pgt_ruleset_set_name(d->set));
	while (*flags != '\0') {
		if (n == 2)
			goto bad;
		if (strncmp(flags, "src", 3) == 0)
			d->src[n++] = true;
		else if (strncmp(flags, "dst", 3) == 0)
			d->src[n++] = false;
		else
			goto bad;
		flags += 3;
		if (*flags == ',')
			flags++;
		else if (*flags != '\0')
			goto bad;
	}
	if (n != pgt_ruleset_set_dim(d->set))
		return pgt_rs_errorf(err,
			"--match-set %s: the set takes %u direction flag%s, not '%s'",
			args[0], pgt_ruleset_set_dim(d->set),
			pgt_ruleset_set_dim(d->set) > 1 ? "s" : "", args[1]);
	d->dim = (uint8_t)n;
	d->inv = inv;
	return 0;
bad:
	return pgt_rs_errorf(err,
		"--match-set: '%s' is not src|dst[,src|dst]", args[1]);
}

static int
set_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (((struct set_data *)data)->set == NULL)
		return pgt_rs_errorf(err, "-m set needs --match-set");
	return 0;
}

static void
print_flags(const struct set_data *d, FILE *f)
{
	unsigned int i;

	for (i = 0; i < d->dim; i++)
		fprintf(f, "%s%s", i > 0 ? "," : "", d->src[i] ? "src" : "dst");
}

static void
set_print(const void *data, FILE *f)
{
	const struct set_data *d = data;

	fprintf(f, "%s --match-set %s ", d->inv ? " !" : "", d->name);
	print_flags(d, f);
}

static void
set_list(const void *data, FILE *f)
{
	const struct set_data *d = data;

	fprintf(f, " %smatch-set %s ", d->inv ? "! " : "", d->name);
	print_flags(d, f);
}

static bool
set_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct set_data *d = data;
	uint32_t addr = d->src[0] ? p->src : p->dst;
	uint16_t port = 0;

	if (d->dim == 2) {
		/* Ports exist only in a first fragment's TCP or UDP header. */
		if (p->l4 == NULL || (p->ip->next_proto_id != IPPROTO_TCP &&
				p->ip->next_proto_id != IPPROTO_UDP))
			return d->inv;
		port = d->src[1] ? p->sport : p->dport;
	}
	return pgt_ruleset_set_test(d->set, addr, p->ip->next_proto_id,
		port) != d->inv;
}

static const struct pgt_rs_set *
set_uses(const void *data)
{
	return ((const struct set_data *)data)->set;
}

static const struct pgt_rs_opt set_opts[] = {
	{ "match-set", 2, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops set_ops = {
	.name = "set", .size = sizeof(struct set_data), .opts = set_opts,
	.parse = set_parse, .finish = set_finish, .print = set_print,
	.list = set_list, .match = set_match, .uses_set = set_uses,
};
PGT_MATCH_REGISTER(set_ops);
