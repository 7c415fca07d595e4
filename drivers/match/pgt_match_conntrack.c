/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -m conntrack (libxt_conntrack revision 3) and -m state (libxt_state);
 * -m connmark is with -m mark in pgt_match_packet.c.
 *
 * The answers are xt_conntrack's: a packet conntrack refused is INVALID, a
 * NOTRACK one UNTRACKED, and without a connection only --ctstate can match.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>

#include "pgt_inet.h"
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

/* --ctstatus names, in print order (bit order). */
static const struct {
	const char *name;
	uint32_t bit;
} statuses[] = {
	{ "EXPECTED", PGT_CT_S_EXPECTED }, { "SEEN_REPLY", PGT_CT_S_SEEN_REPLY },
	{ "ASSURED", PGT_CT_S_ASSURED }, { "CONFIRMED", PGT_CT_S_CONFIRMED },
};

/* Options, in iptables-save's order; each may be negated. */
enum ct_opt {
	F_STATE, F_PROTO, F_ORIGSRC, F_ORIGDST, F_REPLSRC, F_REPLDST,
	F_ORIGSRCPORT, F_ORIGDSTPORT, F_REPLSRCPORT, F_REPLDSTPORT, F_STATUS,
	F_EXPIRE, F_DIR, F_MAX
};

static const char *const opt_names[F_MAX] = {
	"ctstate", "ctproto", "ctorigsrc", "ctorigdst", "ctreplsrc",
	"ctrepldst", "ctorigsrcport", "ctorigdstport", "ctreplsrcport",
	"ctrepldstport", "ctstatus", "ctexpire", "ctdir",
};

struct ct_data {
	uint16_t flags, inv;		/* bit per enum ct_opt */
	uint16_t mask;			/* states */
	uint8_t proto;
	uint8_t reply_dir;		/* --ctdir REPLY */
	uint32_t addr[4], amask[4];	/* orig src/dst, reply src/dst */
	uint16_t port_lo[4], port_hi[4];
	uint32_t status;
	uint32_t expire_lo, expire_hi;
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
	d->flags |= 1u << F_STATE;
	if (inv)
		d->inv |= 1u << F_STATE;
	return 0;
bad:
	return pgt_rs_errorf(err, "--%s: '%s' is not a list of %s", opt, arg,
		ct ? "INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, SNAT, DNAT" :
		"INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED");
}

static int
parse_status(struct ct_data *d, const char *arg)
{
	char buf[128], *tok, *save;
	unsigned int i;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
			tok = strtok_r(NULL, ",", &save)) {
		if (strcasecmp(tok, "NONE") == 0)
			continue;
		for (i = 0; i < RTE_DIM(statuses); i++)
			if (strcasecmp(tok, statuses[i].name) == 0)
				break;
		if (i == RTE_DIM(statuses))
			return -EINVAL;
		d->status |= statuses[i].bit;
	}
	return 0;
}

static int
parse_expire(struct ct_data *d, const char *arg)
{
	char buf[32], *colon;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	colon = strchr(buf, ':');
	if (colon != NULL)
		*colon = '\0';
	if (pgt_rs_parse_u32(buf, 0, UINT32_MAX, &d->expire_lo) != 0)
		return -EINVAL;
	d->expire_hi = d->expire_lo;
	if (colon != NULL && pgt_rs_parse_u32(colon + 1, 0, UINT32_MAX,
			&d->expire_hi) != 0)
		return -EINVAL;
	return d->expire_lo > d->expire_hi ? -EINVAL : 0;
}

static int
ct_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct ct_data *d = data;
	unsigned int f, i;
	uint8_t len;
	int rc = 0;

	for (f = 0; f < F_MAX; f++)
		if (strcmp(opt, opt_names[f]) == 0)
			break;
	if (f == F_STATE)
		return parse_states(d, opt, args[0], inv, true, err);
	if (d->flags & (1u << f))
		return pgt_rs_errorf(err, "--%s given twice", opt);
	switch (f) {
	case F_PROTO:
		rc = pgt_ct_parse_proto(args[0], &d->proto);
		if (rc == 0 && d->proto == 0)
			return pgt_rs_errorf(err,
				"--ctproto: 0 would match no connection");
		break;
	case F_ORIGSRC:
	case F_ORIGDST:
	case F_REPLSRC:
	case F_REPLDST:
		i = f - F_ORIGSRC;
		len = 32;
		rc = strchr(args[0], '/') != NULL ?
			pgt_inet_parse_prefix(args[0], true, &d->addr[i], &len) :
			pgt_inet_parse_addr(args[0], &d->addr[i]);
		d->amask[i] = pgt_inet_mask(len);
		d->addr[i] &= d->amask[i];
		break;
	case F_ORIGSRCPORT:
	case F_ORIGDSTPORT:
	case F_REPLSRCPORT:
	case F_REPLDSTPORT:
		i = f - F_ORIGSRCPORT;
		rc = pgt_rs_parse_port_range(args[0], &d->port_lo[i],
			&d->port_hi[i]);
		break;
	case F_STATUS:
		rc = parse_status(d, args[0]);
		break;
	case F_EXPIRE:
		rc = parse_expire(d, args[0]);
		break;
	case F_DIR:	/* not invertible: the parser refuses "!" */
		if (strcasecmp(args[0], "REPLY") == 0)
			d->reply_dir = 1;
		else if (strcasecmp(args[0], "ORIGINAL") != 0)
			rc = -EINVAL;
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc != 0)
		return pgt_rs_errorf(err, "--%s: '%s' is not valid here", opt,
			args[0]);
	d->flags |= (uint16_t)(1u << f);
	if (inv)
		d->inv |= (uint16_t)(1u << f);
	return 0;
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
	if (((struct ct_data *)data)->flags == 0)
		return pgt_rs_errorf(err, "-m conntrack needs an option (--ctstate, --ctstatus, --ctorigdst...)");
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
print_status(FILE *f, uint32_t status)
{
	const char *sep = "";
	unsigned int i;

	if (status == 0) {
		fputs("NONE", f);
		return;
	}
	for (i = 0; i < RTE_DIM(statuses); i++)
		if (status & statuses[i].bit) {
			fprintf(f, "%s%s", sep, statuses[i].name);
			sep = ",";
		}
}

/* Every option as iptables prints it: "--ctx v" (save) or "ctx v" (-L). */
static void
print_all(const struct ct_data *d, FILE *f, bool save)
{
	char a[PGT_INET_ADDRSTRLEN];
	unsigned int o, i;

	for (o = 0; o < F_MAX; o++) {
		if (!(d->flags & (1u << o)))
			continue;
		if (save)
			fprintf(f, "%s --%s ", (d->inv & (1u << o)) ? " !" : "",
				opt_names[o]);
		else
			fprintf(f, " %s%s ", (d->inv & (1u << o)) ? "! " : "",
				opt_names[o]);
		switch (o) {
		case F_STATE:
			print_states(f, d->mask);
			break;
		case F_PROTO:
			fprintf(f, "%u", d->proto);
			break;
		case F_ORIGSRC:
		case F_ORIGDST:
		case F_REPLSRC:
		case F_REPLDST:
			i = o - F_ORIGSRC;
			fputs(pgt_inet_format_addr(d->addr[i], a, sizeof(a)), f);
			if (d->amask[i] != UINT32_MAX)
				fprintf(f, "/%u", __builtin_popcount(d->amask[i]));
			break;
		case F_ORIGSRCPORT:
		case F_ORIGDSTPORT:
		case F_REPLSRCPORT:
		case F_REPLDSTPORT:
			i = o - F_ORIGSRCPORT;
			pgt_rs_print_port_range(f, d->port_lo[i], d->port_hi[i]);
			break;
		case F_STATUS:
			print_status(f, d->status);
			break;
		case F_EXPIRE:
			fprintf(f, "%u", d->expire_lo);
			if (d->expire_hi != d->expire_lo)
				fprintf(f, ":%u", d->expire_hi);
			break;
		case F_DIR:
			fputs(d->reply_dir ? "REPLY" : "ORIGINAL", f);
			break;
		default:
			break;
		}
	}
}

static void
ct_print(const void *data, FILE *f)
{
	print_all(data, f, true);
}

static void
ct_list(const void *data, FILE *f)
{
	print_all(data, f, false);
}

static void
state_print(const void *data, FILE *f)
{
	const struct ct_data *d = data;

	fprintf(f, "%s --state ", (d->inv & (1u << F_STATE)) ? " !" : "");
	print_states(f, d->mask);
}

static void
state_list(const void *data, FILE *f)
{
	const struct ct_data *d = data;

	fprintf(f, " %sstate ", (d->inv & (1u << F_STATE)) ? "! " : "");
	print_states(f, d->mask);
}

/* The state bit of a packet (xt_conntrack's statebit). */
static uint16_t
state_bit(const struct pgt_rs_pkt *p)
{
	if (p->ct != NULL)
		return (uint16_t)(1u << (p->ctinfo % PGT_CT_ESTABLISHED_REPLY + 1));
	return p->ctinfo == PGT_CT_UNTRACKED ? ST_UNTRACKED : ST_INVALID;
}

/* Option @p o given: does @p hit pass it (negation applied)? */
static inline bool
pass(const struct ct_data *d, unsigned int o, bool hit)
{
	return !(d->flags & (1u << o)) || hit != !!(d->inv & (1u << o));
}

static bool
ct_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct ct_data *d = data;
	const struct pgt_ct_conn *c = p->ct;
	const struct pgt_ct_tuple *t;
	uint16_t bit = state_bit(p), port;
	uint64_t left;
	unsigned int i;
	uint32_t a;

	if (c != NULL) {
		if (c->status & PGT_CT_S_SRC_NAT)
			bit |= ST_SNAT;
		if (c->status & PGT_CT_S_DST_NAT)
			bit |= ST_DNAT;
	}
	if (!pass(d, F_STATE, (d->mask & bit) != 0))
		return false;
	/* --ctstate alone, the usual rule: nothing more to look at. */
	if (d->flags == (1u << F_STATE))
		return true;
	if (c == NULL)
		return (d->flags & (1u << F_STATE)) != 0;
	if ((d->flags & (1u << F_DIR)) && (pgt_ct_info_dir(p->ctinfo) ==
			PGT_CT_DIR_REPLY) != d->reply_dir)
		return false;
	if (!pass(d, F_PROTO, c->tuple[0].proto == d->proto))
		return false;
	for (i = 0; i < 4; i++) {
		t = &c->tuple[i / 2];
		a = (i & 1) ? t->dst : t->src;
		port = (i & 1) ? t->dport : t->sport;
		if (!pass(d, F_ORIGSRC + i, (a & d->amask[i]) == d->addr[i]))
			return false;
		if (!pass(d, F_ORIGSRCPORT + i, port >= d->port_lo[i] &&
				port <= d->port_hi[i]))
			return false;
	}
	if (!pass(d, F_STATUS, (c->status & d->status) != 0))
		return false;
	if (d->flags & (1u << F_EXPIRE)) {
		left = c->expires > p->now ?
			(c->expires - p->now) / rte_get_tsc_hz() : 0;
		if (!pass(d, F_EXPIRE, left >= d->expire_lo &&
				left <= d->expire_hi))
			return false;
	}
	return true;
}

/* xt_state: the state bit alone. */
static bool
state_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct ct_data *d = data;

	return ((d->mask & state_bit(p)) != 0) !=
		!!(d->inv & (1u << F_STATE));
}

/* What @p match says of a packet in each conntrack state, without and with
 * a connection (one nothing translates): its own answers, so exact. */
static void
states_accepted(const struct ct_data *d,
	bool (*match)(const void *, void *, struct pgt_rs_pkt *),
	uint8_t accept[2])
{
	struct pgt_ct_conn conn = { .status = 0 };
	struct pgt_rs_pkt p = { .ct = NULL };
	unsigned int has, info;

	for (has = 0; has < 2; has++) {
		accept[has] = 0;
		p.ct = has ? &conn : NULL;
		for (info = 0; info <= PGT_CT_NONE; info++) {
			p.ctinfo = (uint8_t)info;
			if (match(d, NULL, &p))
				accept[has] |= (uint8_t)(1u << info);
		}
	}
}

/* --ctstate alone, without the NAT states (which read the connection). */
static bool
ct_state_only(const void *data, uint8_t accept[2])
{
	const struct ct_data *d = data;

	if (d->flags != (1u << F_STATE) || (d->mask & (ST_SNAT | ST_DNAT)))
		return false;
	states_accepted(d, ct_match, accept);
	return true;
}

static bool
state_state_only(const void *data, uint8_t accept[2])
{
	states_accepted(data, state_match, accept);
	return true;
}

static const struct pgt_rs_opt ct_opts[] = {
	{ "ctstate", 1, true }, { "ctproto", 1, true },
	{ "ctorigsrc", 1, true }, { "ctorigdst", 1, true },
	{ "ctreplsrc", 1, true }, { "ctrepldst", 1, true },
	{ "ctorigsrcport", 1, true }, { "ctorigdstport", 1, true },
	{ "ctreplsrcport", 1, true }, { "ctrepldstport", 1, true },
	{ "ctstatus", 1, true }, { "ctexpire", 1, true },
	{ "ctdir", 1, false },
	{ NULL, 0, false },
};

static const struct pgt_rs_opt state_opts[] = {
	{ "state", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops conntrack_ops = {
	.name = "conntrack", .size = sizeof(struct ct_data), .opts = ct_opts,
	.parse = ct_parse, .finish = ct_finish, .print = ct_print,
	.list = ct_list, .match = ct_match, .state_only = ct_state_only,
	.conntrack = true,
};
PGT_MATCH_REGISTER(conntrack_ops);

static struct pgt_match_ops state_ops = {
	.name = "state", .size = sizeof(struct ct_data), .opts = state_opts,
	.parse = state_parse, .finish = state_finish, .print = state_print,
	.list = state_list, .match = state_match,
	.state_only = state_state_only, .conntrack = true,
};
PGT_MATCH_REGISTER(state_ops);
