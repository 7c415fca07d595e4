/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -m conntrack --ctstate, -m state --state (libxt_conntrack, libxt_state);
 * -m connmark is with -m mark in pgt_match_packet.c.
 *
 * pktgate does not track connections yet, so every packet is what Linux
 * calls untracked, and these matches answer exactly as Linux answers for an
 * untracked packet (xt_conntrack: state UNTRACKED). A ruleset that relies on
 * ESTABLISHED therefore behaves as it would on Linux with NOTRACK for all
 * traffic; the answers change when connection tracking arrives.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>

#include "pgt_ruleset.h"

/* Linux's bits (XT_CONNTRACK_STATE_*), in iptables' print order. */
#define ST_INVALID	(1u << 0)
#define ST_NEW		(1u << 3)
#define ST_RELATED	(1u << 2)
#define ST_ESTABLISHED	(1u << 1)
#define ST_UNTRACKED	(1u << 8)
#define ST_SNAT		(1u << 9)
#define ST_DNAT		(1u << 10)

static const struct {
	const char *name;
	uint16_t bit;
	bool ct_only;		/* conntrack's, not state's */
} states[] = {
	{ "INVALID", ST_INVALID, false }, { "NEW", ST_NEW, false },
	{ "RELATED", ST_RELATED, false },
	{ "ESTABLISHED", ST_ESTABLISHED, false },
	{ "UNTRACKED", ST_UNTRACKED, false }, { "SNAT", ST_SNAT, true },
	{ "DNAT", ST_DNAT, true },
};

struct ct_data {
	uint16_t mask;
	bool inv;
};

static int
parse_states(struct ct_data *d, const char *opt, const char *arg, bool inv,
	bool ct, struct pgt_rs_err *err)
{
	char buf[128], *tok, *save;
	unsigned int i;

	if (d->mask != 0)
		return pgt_rs_errorf(err, "--%s given twice", opt);
	if (strlen(arg) >= sizeof(buf))
		goto bad;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
			tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < RTE_DIM(states); i++)
			if (strcasecmp(tok, states[i].name) == 0 &&
					(ct || !states[i].ct_only))
				break;
		if (i == RTE_DIM(states))
			goto bad;
		d->mask |= states[i].bit;
	}
	if (d->mask == 0)
		goto bad;
	d->inv = inv;
	return 0;
bad:
	return pgt_rs_errorf(err, "--%s: '%s' is not a list of %s", opt, arg,
		ct ? "INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, SNAT, DNAT" :
		"INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED");
}

static int
ct_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	return parse_states(data, opt, args[0], inv, true, err);
}

static int
state_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	return parse_states(data, opt, args[0], inv, false, err);
}

static int
ct_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (((struct ct_data *)data)->mask == 0)
		return pgt_rs_errorf(err, "-m conntrack needs --ctstate (the other conntrack options are not available yet)");
	return 0;
}

static int
state_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (((struct ct_data *)data)->mask == 0)
		return pgt_rs_errorf(err, "-m state needs --state");
	return 0;
}

static void
print_states(FILE *f, uint16_t mask)
{
	const char *sep = "";
	unsigned int i;

	for (i = 0; i < RTE_DIM(states); i++)
		if (mask & states[i].bit) {
			fprintf(f, "%s%s", sep, states[i].name);
			sep = ",";
		}
}

static void
ct_print(const void *data, FILE *f)
{
	const struct ct_data *d = data;

	fprintf(f, "%s --ctstate ", d->inv ? " !" : "");
	print_states(f, d->mask);
}

static void
state_print(const void *data, FILE *f)
{
	const struct ct_data *d = data;

	fprintf(f, "%s --state ", d->inv ? " !" : "");
	print_states(f, d->mask);
}

static void
ct_list(const void *data, FILE *f)
{
	const struct ct_data *d = data;

	fprintf(f, " %sctstate ", d->inv ? "! " : "");
	print_states(f, d->mask);
}

static void
state_list(const void *data, FILE *f)
{
	const struct ct_data *d = data;

	fprintf(f, " %sstate ", d->inv ? "! " : "");
	print_states(f, d->mask);
}

/* Every packet is untracked until pktgate tracks connections. */
static bool
ct_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct ct_data *d = data;

	return !!(d->mask & ST_UNTRACKED) != d->inv;
}

static const struct pgt_rs_opt ct_opts[] = {
	{ "ctstate", 1, true },
	{ NULL, 0, false },
};

static const struct pgt_rs_opt state_opts[] = {
	{ "state", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops conntrack_ops = {
	.name = "conntrack", .size = sizeof(struct ct_data), .opts = ct_opts,
	.parse = ct_parse, .finish = ct_finish, .print = ct_print,
	.list = ct_list, .match = ct_match,
};
PGT_MATCH_REGISTER(conntrack_ops);

static struct pgt_match_ops state_ops = {
	.name = "state", .size = sizeof(struct ct_data), .opts = state_opts,
	.parse = state_parse, .finish = state_finish, .print = state_print,
	.list = state_list, .match = ct_match,
};
PGT_MATCH_REGISTER(state_ops);
