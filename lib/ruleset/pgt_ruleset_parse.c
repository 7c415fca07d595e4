/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iptables' syntax: command lines (iptables(8)) and iptables-restore
 * documents, parsed into transactions on the model. Errors name the token
 * and the reason; a restore's errors also name the line.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pgt_inet.h"
#include "pgt_ruleset_priv.h"

/* Helpers for extensions */

int
pgt_rs_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || isspace(*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int
pgt_rs_parse_mark(const char *s, uint32_t *value, uint32_t *mask)
{
	char buf[32];
	const char *slash = strchr(s, '/');

	*mask = UINT32_MAX;
	if (slash == NULL)
		return pgt_rs_parse_u32(s, 0, UINT32_MAX, value);
	if ((size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (pgt_rs_parse_u32(buf, 0, UINT32_MAX, value) != 0)
		return -EINVAL;
	return pgt_rs_parse_u32(slash + 1, 0, UINT32_MAX, mask);
}

/* Service names iptables users write; Linux reads /etc/services. */
static const struct {
	const char *name;
	uint16_t port;
} services[] = {
	{ "ftp", 21 }, { "ssh", 22 }, { "telnet", 23 }, { "smtp", 25 },
	{ "domain", 53 }, { "http", 80 }, { "pop3", 110 }, { "ntp", 123 },
	{ "imap", 143 }, { "snmp", 161 }, { "bgp", 179 }, { "ldap", 389 },
	{ "https", 443 }, { "smtps", 465 }, { "submission", 587 },
	{ "imaps", 993 }, { "pop3s", 995 }, { "mysql", 3306 },
	{ "postgresql", 5432 },
};

int
pgt_rs_parse_port(const char *s, uint16_t *port)
{
	uint32_t v;
	unsigned int i;

	if (pgt_rs_parse_u32(s, 0, 65535, &v) == 0 && isdigit(*s)) {
		*port = (uint16_t)v;
		return 0;
	}
	for (i = 0; i < RTE_DIM(services); i++)
		if (strcmp(services[i].name, s) == 0) {
			*port = services[i].port;
			return 0;
		}
	return -EINVAL;
}

int
pgt_rs_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	char buf[64];
	const char *colon = strchr(s, ':');

	if (colon == NULL) {
		if (pgt_rs_parse_port(s, lo) != 0)
			return -EINVAL;
		*hi = *lo;
		return 0;
	}
	if ((size_t)(colon - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = '\0';
	*lo = 0;
	*hi = 65535;
	if (buf[0] != '\0' && pgt_rs_parse_port(buf, lo) != 0)
		return -EINVAL;
	if (colon[1] != '\0' && pgt_rs_parse_port(colon + 1, hi) != 0)
		return -EINVAL;
	/* iptables: "invalid portrange (min > max)". */
	return *lo > *hi ? -EINVAL : 0;
}

/* Tokenizer */

void
pgt_rs_free_argv(char **argv, int argc)
{
	int i;

	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/*
 * Split like iptables-restore: whitespace separates words, '"' toggles
 * quoting, and inside quotes a backslash makes the next character literal.
 */
int
pgt_rs_tokenize(const char *line, char ***argvp, int *argcp,
	struct pgt_rs_err *err)
{
	size_t len = strlen(line);
	char **argv = NULL, **n, *word = NULL;
	bool quoted = false, in_word = false;
	size_t wlen = 0;
	int argc = 0;
	const char *p;

	for (p = line; ; p++) {
		if (*p == '\0' || (!quoted && isspace((unsigned char)*p))) {
			if (quoted) {
				pgt_rs_free_argv(argv, argc);
				free(word);
				return pgt_rs_errorf(err, "unterminated quote");
			}
			if (in_word) {
				word[wlen] = '\0';
				n = realloc(argv, sizeof(*argv) * (argc + 2));
				if (n == NULL) {
					free(word);
					pgt_rs_free_argv(argv, argc);
					return -ENOMEM;
				}
				argv = n;
				argv[argc++] = word;
				argv[argc] = NULL;
				word = NULL;
				in_word = false;
			}
			if (*p == '\0')
				break;
			continue;
		}
		if (!in_word) {
			word = malloc(len + 1);
			if (word == NULL) {
				pgt_rs_free_argv(argv, argc);
				return -ENOMEM;
			}
			wlen = 0;
			in_word = true;
		}
		if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		word[wlen++] = *p;
	}
	*argvp = argv;
	*argcp = argc;
	return 0;
}

/* Rule specifications */

static const struct {
	const char *name;
	uint8_t num;
} protos[] = {
	{ "all", 0 }, { "icmp", 1 }, { "igmp", 2 }, { "tcp", 6 },
	{ "udp", 17 }, { "gre", 47 }, { "esp", 50 }, { "ah", 51 },
	{ "sctp", 132 }, { "udplite", 136 },
};

const char *
pgt_rs_proto_name(uint8_t proto)
{
	unsigned int i;

	for (i = 1; i < RTE_DIM(protos); i++)
		if (protos[i].num == proto)
			return protos[i].name;
	return NULL;
}

static int
parse_proto(const char *s, uint8_t *proto)
{
	unsigned int i;
	uint32_t v;
	char low[16];

	for (i = 0; s[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	low[i] = '\0';
	for (i = 0; i < RTE_DIM(protos); i++)
		if (strcmp(protos[i].name, low) == 0) {
			*proto = protos[i].num;
			return 0;
		}
	if (pgt_rs_parse_u32(s, 0, 255, &v) != 0)
		return -EINVAL;
	*proto = (uint8_t)v;
	return 0;
}

/* "a.b.c.d[/len|/mask]" into address and mask, the address masked. */
static int
parse_addr_mask(const char *s, uint32_t *addr, uint32_t *mask)
{
	char buf[40];
	const char *slash = strchr(s, '/');
	uint32_t v;

	if (strlen(s) >= sizeof(buf) || strchr(s, ',') != NULL)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	if (slash != NULL)
		buf[slash - s] = '\0';
	if (pgt_inet_parse_addr(buf, addr) != 0)
		return -EINVAL;
	*mask = UINT32_MAX;
	if (slash != NULL) {
		if (strchr(slash + 1, '.') != NULL) {
			if (pgt_inet_parse_addr(slash + 1, mask) != 0)
				return -EINVAL;
		} else {
			if (pgt_rs_parse_u32(slash + 1, 0, 32, &v) != 0)
				return -EINVAL;
			*mask = pgt_inet_mask((uint8_t)v);
		}
	}
	*addr &= *mask;
	return 0;
}

static bool
valid_iface(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < IFNAMSIZ && strpbrk(s, " /:") == NULL;
}

static bool
valid_chain_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < PGT_RS_CHAIN_NAMESIZE && s[0] != '-' &&
		s[0] != '!' && strpbrk(s, " \t\"'") == NULL &&
		strcmp(s, "ACCEPT") != 0 && strcmp(s, "DROP") != 0 &&
		strcmp(s, "RETURN") != 0 && strcmp(s, "QUEUE") != 0 &&
		pgt_rs_target_find(s) == NULL;
}

/* Does option @p opt belong to @p opts? */
static const struct pgt_rs_opt *
opt_find(const struct pgt_rs_opt *opts, const char *opt)
{
	for (; opts != NULL && opts->name != NULL; opts++)
		if (strcmp(opts->name, opt) == 0)
			return opts;
	return NULL;
}

/* iptables extensions that pktgate knows of but does not have. */
static bool
known_unavailable(const char *name, bool target)
{
	static const char *const targets[] = {
		"NFLOG", "TRACE", "NFQUEUE",
		"QUEUE", "CLASSIFY", "DSCP", "TOS", "SET", NULL,
	};
	static const char *const matches[] = {
		"hashlimit",
		"connlimit", "recent", "string", "u32", "physdev", "policy",
		"dscp", "tos", "statistic", "time", "helper", NULL,
	};
	const char *const *l;

	for (l = target ? targets : matches; *l != NULL; l++)
		if (strcmp(*l, name) == 0)
			return true;
	return false;
}

/* Why some matches cannot exist on a gateway. */
static const char *
refused_match(const char *name)
{
	if (strcmp(name, "owner") == 0)
		return "it matches the local process that sent a packet, and a gateway's packets are not sent by its processes: it can never be evaluated here";
	if (known_unavailable(name, false))
		return "not available in pktgate yet";
	return NULL;
}

struct rule_parse {
	struct pgt_rs_rule *r;
	int table;
	const char *chain;	/* the command's chain, for -i/-o checks */
	const char *tname;	/* -j name, for messages */
};

static int
add_match(struct pgt_rs_rule *r, const struct pgt_match_ops *ops,
	struct pgt_rs_err *err)
{
	if (r->nb_matches == PGT_RS_MAX_MATCHES)
		return pgt_rs_errorf(err, "more than %u matches in one rule",
			PGT_RS_MAX_MATCHES);
	r->m[r->nb_matches] = pgt_rs_minst_new(ops);
	if (r->m[r->nb_matches] == NULL)
		return -ENOMEM;
	r->nb_matches++;
	return 0;
}

/* An option for an extension: the target's (after -j), else the most
 * recent match that takes it, else the protocol's match loaded implicitly
 * as iptables does for "-p tcp --dport 22". @p args are the words after the
 * option, @p nargs how many there are. */
static int
extension_option(struct rule_parse *rp, const char *opt, char *const *args,
	int nargs, bool inv, int *consumed, struct pgt_rs_err *err)
{
	struct pgt_rs_rule *r = rp->r;
	const struct pgt_rs_opt *o = NULL;
	const struct pgt_match_ops *ops;
	const struct pgt_match_ops *mops = NULL;
	const char *pname;
	void *data;
	int i, rc;

	if (r->target != NULL && (o = opt_find(r->target->opts, opt)) != NULL) {
		data = r->tdata;
	} else {
		for (i = r->nb_matches - 1; i >= 0; i--)
			if ((o = opt_find(r->m[i]->ops->opts, opt)) != NULL)
				break;
		if (i < 0 && r->proto != 0 && !(r->inv & PGT_RS_INV_PROTO) &&
				(pname = pgt_rs_proto_name(r->proto)) != NULL &&
				(ops = pgt_rs_match_find(pname)) != NULL &&
				(o = opt_find(ops->opts, opt)) != NULL) {
			rc = add_match(r, ops, err);
			if (rc != 0)
				return rc;
			i = r->nb_matches - 1;
		}
		if (i < 0)
			return pgt_rs_errorf(err, "unknown option '--%s'%s", opt,
				r->target != NULL ? "" :
					" (missing -m for its match?)");
		data = r->m[i]->data;
		mops = r->m[i]->ops;
	}
	for (i = 0; i < o->nargs; i++)
		if (i >= nargs || (args[i][0] == '-' && args[i][1] == '-'))
			return pgt_rs_errorf(err, "option '--%s' needs %u value%s",
				opt, o->nargs, o->nargs > 1 ? "s" : "");
	if (inv && !o->invertible)
		return pgt_rs_errorf(err,
			"option '--%s' cannot be negated with '!'", opt);
	*consumed = 1 + o->nargs;
	if (mops == NULL)
		return r->target->parse(data, opt, args, inv, err);
	return mops->parse(data, opt, args, inv, err);
}

static int
set_target(struct rule_parse *rp, struct pgt_rs_mtable *t, const char *name,
	bool is_goto, struct pgt_rs_err *err)
{
	struct pgt_rs_rule *r = rp->r;
	const struct pgt_target_ops *ops;

	if (r->kind != PGT_RS_NONE)
		return pgt_rs_errorf(err, "more than one -j or -g");
	rp->tname = name;
	if (!is_goto) {
		if (strcmp(name, "ACCEPT") == 0) {
			r->kind = PGT_RS_ACCEPT;
			return 0;
		}
		if (strcmp(name, "DROP") == 0) {
			r->kind = PGT_RS_DROP;
			return 0;
		}
		if (strcmp(name, "RETURN") == 0) {
			r->kind = PGT_RS_RETURN;
			return 0;
		}
		ops = pgt_rs_target_find(name);
		if (ops != NULL) {
			if (!(ops->tables & (1u << rp->table)))
				return pgt_rs_errorf(err,
					"target %s is not valid in table %s",
					name, pgt_rs_table_names[rp->table]);
			r->target = ops;
			r->kind = PGT_RS_TARGET;
			r->tdata = calloc(1, ops->size > 0 ? ops->size : 1);
			return r->tdata == NULL ? -ENOMEM : 0;
		}
	}
	if (!is_goto && known_unavailable(name, true))
		return pgt_rs_errorf(err,
			"target %s is not available in pktgate yet", name);
	if (pgt_rs_chain_find(t, name) == NULL ||
			pgt_rs_chain_find(t, name)->builtin)
		return pgt_rs_errorf(err,
			"'%s' is neither a target nor a user chain of table %s",
			name, pgt_rs_table_names[rp->table]);
	r->kind = is_goto ? PGT_RS_GOTO : PGT_RS_JUMP;
	snprintf(r->jump, sizeof(r->jump), "%s", name);
	return 0;
}

/* Parse the rule words of @p argv[0..argc) into rp->r. */
static int
parse_rule(struct rule_parse *rp, struct pgt_rs_mtable *t, int argc,
	char **argv, struct pgt_rs_err *err)
{
	struct pgt_rs_rule *r = rp->r;
	const struct pgt_match_ops *ops;
	const char *opt, *arg, *why;
	bool inv = false;
	int i, used, rc;
	uint32_t mask;
	unsigned int k;

	r->kind = PGT_RS_NONE;
	for (i = 0; i < argc; i += used) {
		opt = argv[i];
		arg = i + 1 < argc ? argv[i + 1] : NULL;
		used = 2;
		if (strcmp(opt, "!") == 0) {
			if (inv)
				return pgt_rs_errorf(err, "'!' twice in a row");
			inv = true;
			used = 1;
			continue;
		}
		if (strcmp(opt, "-s") == 0 || strcmp(opt, "--source") == 0 ||
				strcmp(opt, "--src") == 0 ||
				strcmp(opt, "-d") == 0 ||
				strcmp(opt, "--destination") == 0 ||
				strcmp(opt, "--dst") == 0) {
			bool is_src = opt[1] == 's' || opt[2] == 's';
			uint32_t a;

			if (arg == NULL || parse_addr_mask(arg, &a, &mask) != 0)
				return pgt_rs_errorf(err,
					"%s: invalid address '%s' (one address[/mask] per rule)",
					opt, arg != NULL ? arg : "");
			if (is_src) {
				r->src = a;
				r->smsk = mask;
				r->inv |= inv ? PGT_RS_INV_SRC : 0;
			} else {
				r->dst = a;
				r->dmsk = mask;
				r->inv |= inv ? PGT_RS_INV_DST : 0;
			}
		} else if (strcmp(opt, "-p") == 0 ||
				strcmp(opt, "--protocol") == 0) {
			if (arg == NULL || parse_proto(arg, &r->proto) != 0)
				return pgt_rs_errorf(err,
					"-p: unknown protocol '%s'",
					arg != NULL ? arg : "");
			if (r->proto == 0 && inv)
				return pgt_rs_errorf(err,
					"-p: '! all' matches nothing");
			r->inv |= inv ? PGT_RS_INV_PROTO : 0;
		} else if (strcmp(opt, "-i") == 0 ||
				strcmp(opt, "--in-interface") == 0 ||
				strcmp(opt, "-o") == 0 ||
				strcmp(opt, "--out-interface") == 0) {
			bool in = opt[1] == 'i' || opt[2] == 'i';

			if (arg == NULL || !valid_iface(arg))
				return pgt_rs_errorf(err,
					"%s: invalid interface name '%s'", opt,
					arg != NULL ? arg : "");
			if (in && (strcmp(rp->chain, "OUTPUT") == 0 ||
					strcmp(rp->chain, "POSTROUTING") == 0))
				return pgt_rs_errorf(err,
					"-i cannot be used in %s", rp->chain);
			if (!in && (strcmp(rp->chain, "PREROUTING") == 0 ||
					strcmp(rp->chain, "INPUT") == 0))
				return pgt_rs_errorf(err,
					"-o cannot be used in %s", rp->chain);
			snprintf(in ? r->in : r->out, IFNAMSIZ, "%s", arg);
			r->inv |= inv ? (in ? PGT_RS_INV_IN : PGT_RS_INV_OUT) :
				0;
		} else if (strcmp(opt, "-f") == 0 ||
				strcmp(opt, "--fragment") == 0) {
			r->frag = inv ? PGT_RS_FRAG_NOT : PGT_RS_FRAG_ONLY;
			used = 1;
		} else if (strcmp(opt, "-m") == 0 ||
				strcmp(opt, "--match") == 0) {
			if (inv)
				return pgt_rs_errorf(err, "'!' before -m");
			if (arg == NULL)
				return pgt_rs_errorf(err, "-m needs a match name");
			why = refused_match(arg);
			if (why != NULL)
				return pgt_rs_errorf(err, "-m %s: %s", arg, why);
			ops = pgt_rs_match_find(arg);
			if (ops == NULL)
				return pgt_rs_errorf(err,
					"-m %s: no such match", arg);
			rc = add_match(r, ops, err);
			if (rc != 0)
				return rc;
		} else if (strcmp(opt, "-j") == 0 ||
				strcmp(opt, "--jump") == 0 ||
				strcmp(opt, "-g") == 0 ||
				strcmp(opt, "--goto") == 0) {
			if (inv)
				return pgt_rs_errorf(err, "'!' before %s", opt);
			if (arg == NULL)
				return pgt_rs_errorf(err, "%s needs a target", opt);
			rc = set_target(rp, t, arg, opt[1] == 'g' ||
				opt[2] == 'g', err);
			if (rc != 0)
				return rc;
		} else if (strncmp(opt, "--", 2) == 0 && opt[2] != '\0') {
			rc = extension_option(rp, opt + 2, &argv[i + 1],
				argc - i - 1, inv, &used, err);
			if (rc != 0)
				return rc;
		} else {
			return pgt_rs_errorf(err, "unexpected '%s'", opt);
		}
		inv = false;
	}
	if (inv)
		return pgt_rs_errorf(err, "'!' at the end of the rule");
	for (k = 0; k < r->nb_matches; k++) {
		if (r->m[k]->ops->finish == NULL)
			continue;
		rc = r->m[k]->ops->finish(r->m[k]->data,
			(r->inv & PGT_RS_INV_PROTO) ? 0 : r->proto, err);
		if (rc != 0)
			return rc;
	}
	if (r->target != NULL && r->target->finish != NULL)
		return r->target->finish(r->tdata,
			(r->inv & PGT_RS_INV_PROTO) ? 0 : r->proto, err);
	return 0;
}

/* Commands */

enum cmd {
	CMD_NONE, CMD_APPEND, CMD_INSERT, CMD_DELETE, CMD_REPLACE,
	CMD_NEW, CMD_DELETE_CHAIN, CMD_FLUSH, CMD_ZERO, CMD_POLICY,
	CMD_RENAME, CMD_LIST_RULES, CMD_LIST,
};

static const struct {
	const char *s, *l;
	enum cmd cmd;
} commands[] = {
	{ "-A", "--append", CMD_APPEND }, { "-I", "--insert", CMD_INSERT },
	{ "-D", "--delete", CMD_DELETE }, { "-R", "--replace", CMD_REPLACE },
	{ "-N", "--new-chain", CMD_NEW },
	{ "-X", "--delete-chain", CMD_DELETE_CHAIN },
	{ "-F", "--flush", CMD_FLUSH }, { "-Z", "--zero", CMD_ZERO },
	{ "-P", "--policy", CMD_POLICY }, { "-E", "--rename-chain", CMD_RENAME },
	{ "-S", "--list-rules", CMD_LIST_RULES }, { "-L", "--list", CMD_LIST },
};

static struct pgt_rs_rule *
rule_copy_renamed(const struct pgt_rs_rule *o, const char *jump,
	struct pgt_rs_err *err)
{
	struct pgt_rs_rule *r = pgt_rs_rule_new(err);
	unsigned int i;
	uint32_t slot;

	if (r == NULL)
		return NULL;
	slot = r->counter;
	*r = *o;
	r->counter = slot;
	r->crule = NULL;
	snprintf(r->jump, sizeof(r->jump), "%s", jump);
	r->nb_matches = 0;
	r->tdata = NULL;
	for (i = 0; i < o->nb_matches; i++) {
		r->m[i] = pgt_rs_minst_new(o->m[i]->ops);
		if (r->m[i] == NULL)
			goto fail;
		r->nb_matches++;
		memcpy(r->m[i]->data, o->m[i]->data, o->m[i]->ops->size);
	}
	if (o->target != NULL) {
		r->tdata = calloc(1, o->target->size > 0 ? o->target->size : 1);
		if (r->tdata == NULL)
			goto fail;
		memcpy(r->tdata, o->tdata, o->target->size);
	}
	return r;
fail:
	pgt_rs_rule_put(r);
	pgt_rs_errorf(err, "out of memory");
	return NULL;
}

/* -E: rename a user chain and every jump to it. */
static int
rename_chain(struct pgt_rs_tx *tx, struct pgt_rs_mtable *t,
	struct pgt_rs_chain *c, const char *name, struct pgt_rs_err *err)
{
	struct pgt_rs_chain *o;
	struct pgt_rs_rule *r;
	uint64_t p, b;
	unsigned int i, j;

	if (c->builtin)
		return pgt_rs_errorf(err, "cannot rename built-in chain %s",
			c->name);
	if (!valid_chain_name(name))
		return pgt_rs_errorf(err, "invalid chain name '%s'", name);
	if (pgt_rs_chain_find(t, name) != NULL) {
		pgt_rs_errorf(err, "chain '%s' already exists", name);
		return -EEXIST;
	}
	for (i = 0; i < t->nb_chains; i++) {
		o = t->chains[i];
		for (j = 0; o != NULL && j < o->nb_rules; j++) {
			if ((o->rules[j]->kind != PGT_RS_JUMP &&
					o->rules[j]->kind != PGT_RS_GOTO) ||
					strcmp(o->rules[j]->jump, c->name) != 0)
				continue;
			r = rule_copy_renamed(o->rules[j], name, err);
			if (r == NULL)
				return -ENOMEM;
			pgt_ruleset_counter_read(o->rules[j]->counter, &p, &b);
			if (pgt_rs_tx_set_counter(tx, r->counter, p, b) != 0) {
				pgt_rs_rule_put(r);
				return -ENOMEM;
			}
			pgt_rs_chain_set(o, j, r);
		}
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->dirty = true;
	return 0;
}

static int
zero_chain(struct pgt_rs_tx *tx, struct pgt_rs_chain *c)
{
	unsigned int i;
	int rc = 0;

	if (c->builtin)
		rc = pgt_rs_tx_set_counter(tx, c->counter, 0, 0);
	for (i = 0; rc == 0 && i < c->nb_rules; i++)
		rc = pgt_rs_tx_set_counter(tx, c->rules[i]->counter, 0, 0);
	return rc;
}

/* Parse "-c PKTS BYTES" values. */
static int
parse_counters(const char *p, const char *b, uint64_t *pkts, uint64_t *bytes)
{
	char *end;

	if (p == NULL || b == NULL || !isdigit((unsigned char)*p) ||
			!isdigit((unsigned char)*b))
		return -EINVAL;
	errno = 0;
	*pkts = strtoull(p, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*bytes = strtoull(b, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	return 0;
}

int
pgt_rs_exec(struct pgt_rs_tx *tx, int argc, char **argv, FILE *out,
	bool counters, struct pgt_rs_err *err)
{
	enum cmd cmd = CMD_NONE;
	const char *chain = NULL, *arg2 = NULL, *word;
	struct rule_parse rp = { 0 };
	struct pgt_rs_mtable *t;
	struct pgt_rs_chain *c = NULL;
	uint64_t cpkts = 0, cbytes = 0;
	bool set_counters = false, numeric = false;
	unsigned int list_flags = 0;
	char **rule_argv;
	int table = PGT_TABLE_FILTER, i, k, nrule = 0, rc;
	uint32_t num = 0;
	unsigned int pos, j;

	rule_argv = calloc((size_t)argc + 1, sizeof(*rule_argv));
	if (rule_argv == NULL)
		return -ENOMEM;
	/* Pick out the table, the command and its chain; the rest is the
	 * rule (options may come in any order, as iptables allows). */
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--table") == 0) {
			if (i + 1 >= argc ||
					(table = pgt_ruleset_table_find(argv[i + 1])) < 0) {
				rc = pgt_rs_errorf(err, "-t: no table named '%s'",
					i + 1 < argc ? argv[i + 1] : "");
				goto out;
			}
			i++;
			continue;
		}
		if (strcmp(argv[i], "-c") == 0 ||
				strcmp(argv[i], "--set-counters") == 0) {
			if (parse_counters(i + 1 < argc ? argv[i + 1] : NULL,
					i + 2 < argc ? argv[i + 2] : NULL,
					&cpkts, &cbytes) != 0) {
				rc = pgt_rs_errorf(err,
					"-c needs two numbers: packets and bytes");
				goto out;
			}
			set_counters = true;
			i += 2;
			continue;
		}
		if (strcmp(argv[i], "-n") == 0 ||
				strcmp(argv[i], "--numeric") == 0) {
			numeric = true;
			continue;
		}
		if (strcmp(argv[i], "-v") == 0 ||
				strcmp(argv[i], "--verbose") == 0) {
			counters = true;
			list_flags |= PGT_RS_LIST_VERBOSE;
			continue;
		}
		if (strcmp(argv[i], "-x") == 0 ||
				strcmp(argv[i], "--exact") == 0) {
			list_flags |= PGT_RS_LIST_EXACT;
			continue;
		}
		if (strcmp(argv[i], "--line-numbers") == 0) {
			list_flags |= PGT_RS_LIST_LINENUMBERS;
			continue;
		}
		/* Listing options combined as iptables allows: -nvL. The
		 * caller's words are left as they are (it frees them). */
		word = argv[i];
		if (strcmp(word, "-nvL") == 0 || strcmp(word, "-vnL") == 0 ||
				strcmp(word, "-nL") == 0 ||
				strcmp(word, "-vL") == 0) {
			numeric |= strchr(word, 'n') != NULL;
			if (strchr(word, 'v') != NULL) {
				counters = true;
				list_flags |= PGT_RS_LIST_VERBOSE;
			}
			word = "-L";
		}
		for (k = 0; k < (int)RTE_DIM(commands); k++)
			if (strcmp(word, commands[k].s) == 0 ||
					strcmp(word, commands[k].l) == 0)
				break;
		if (k == (int)RTE_DIM(commands)) {
			rule_argv[nrule++] = argv[i];
			continue;
		}
		if (cmd != CMD_NONE) {
			rc = pgt_rs_errorf(err, "'%s': only one command at a time",
				argv[i]);
			goto out;
		}
		cmd = commands[k].cmd;
		/* The chain, and the position or policy, follow. */
		if (i + 1 < argc && argv[i + 1][0] != '-' &&
				strcmp(argv[i + 1], "!") != 0)
			chain = argv[++i];
		if (chain != NULL && i + 1 < argc &&
				(cmd == CMD_INSERT || cmd == CMD_DELETE ||
				 cmd == CMD_REPLACE || cmd == CMD_POLICY ||
				 cmd == CMD_RENAME) &&
				argv[i + 1][0] != '-' && strcmp(argv[i + 1], "!") != 0)
			arg2 = argv[++i];
	}
	if (cmd == CMD_NONE) {
		rc = pgt_rs_errorf(err, "no command given (-A, -I, -D, -R, -N, -X, -F, -Z, -P, -E or -S)");
		goto out;
	}
	if (cmd == CMD_LIST && !numeric) {
		rc = pgt_rs_errorf(err,
			"-L needs -n: pktgate prints addresses and ports as numbers, it resolves no names");
		goto out;
	}
	if (cmd == CMD_LIST || cmd == CMD_LIST_RULES) {
		if (nrule > 0) {
			rc = pgt_rs_errorf(err, "unexpected '%s'", rule_argv[0]);
			goto out;
		}
		if (chain != NULL &&
				pgt_rs_chain_find(pgt_rs_live()->t[table], chain) == NULL) {
			rc = pgt_rs_errorf(err, "no chain named '%s' in table %s",
				chain, pgt_rs_table_names[table]);
			rc = -ENOENT;
			goto out;
		}
		if (out != NULL && cmd == CMD_LIST)
			pgt_rs_list_chains(out, table, chain, list_flags);
		else if (out != NULL)
			pgt_rs_list_rules(out, table, chain, counters);
		rc = 0;
		goto out;
	}
	t = pgt_rs_tx_table(tx, table);
	if (t == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (chain == NULL && cmd != CMD_FLUSH && cmd != CMD_ZERO &&
			cmd != CMD_DELETE_CHAIN) {
		rc = pgt_rs_errorf(err, "%s needs a chain", commands[cmd - 1].s);
		goto out;
	}
	if (chain != NULL && cmd != CMD_NEW) {
		c = pgt_rs_chain_find(t, chain);
		if (c == NULL) {
			pgt_rs_errorf(err, "no chain named '%s' in table %s",
				chain, pgt_rs_table_names[table]);
			rc = -ENOENT;
			goto out;
		}
	}
	if (nrule > 0 && cmd != CMD_APPEND && cmd != CMD_INSERT &&
			cmd != CMD_DELETE && cmd != CMD_REPLACE) {
		rc = pgt_rs_errorf(err, "unexpected '%s'", rule_argv[0]);
		goto out;
	}
	switch (cmd) {
	case CMD_NEW:
		if (!valid_chain_name(chain)) {
			rc = pgt_rs_errorf(err,
				"invalid chain name '%s': 1-%u characters, not a target name, not starting with '-' or '!'",
				chain, PGT_RS_CHAIN_NAMESIZE - 1);
			goto out;
		}
		rc = pgt_rs_chain_new(t, chain, err);
		goto out;
	case CMD_DELETE_CHAIN:
		if (c != NULL) {
			rc = pgt_rs_chain_delete(t, c, err);
			goto out;
		}
		/* All user chains: they may refer to one another, so only
		 * references from the built-in chains count. */
		for (j = 0; j < t->nb_chains; j++) {
			c = t->chains[j];
			if (c != NULL && !c->builtin && c->nb_rules > 0) {
				pgt_rs_errorf(err, "chain %s is not empty",
					c->name);
				rc = -EBUSY;
				goto out;
			}
		}
		for (j = 0; j < t->nb_chains; j++) {
			c = t->chains[j];
			if (c != NULL && !c->builtin &&
					pgt_rs_chain_refs(t, c->name) > 0) {
				pgt_rs_errorf(err,
					"chain %s is referenced by a rule",
					c->name);
				rc = -EBUSY;
				goto out;
			}
		}
		for (j = 0; j < t->nb_chains; j++)
			if (t->chains[j] != NULL && !t->chains[j]->builtin)
				pgt_rs_chain_delete(t, t->chains[j], err);
		rc = 0;
		goto out;
	case CMD_FLUSH:
		for (j = 0; j < t->nb_chains; j++)
			if (t->chains[j] != NULL &&
					(c == NULL || t->chains[j] == c))
				pgt_rs_chain_flush(t->chains[j]);
		rc = 0;
		goto out;
	case CMD_ZERO:
		rc = 0;
		for (j = 0; rc == 0 && j < t->nb_chains; j++)
			if (t->chains[j] != NULL &&
					(c == NULL || t->chains[j] == c))
				rc = zero_chain(tx, t->chains[j]);
		goto out;
	case CMD_POLICY:
		if (!c->builtin) {
			rc = pgt_rs_errorf(err,
				"only built-in chains have a policy (%s is a user chain)",
				chain);
			goto out;
		}
		if (arg2 == NULL || (strcmp(arg2, "ACCEPT") != 0 &&
				strcmp(arg2, "DROP") != 0)) {
			rc = pgt_rs_errorf(err,
				"-P %s: the policy is ACCEPT or DROP, not '%s'",
				chain, arg2 != NULL ? arg2 : "");
			goto out;
		}
		c->policy = arg2[0] == 'A' ? PGT_RS_ACCEPT : PGT_RS_DROP;
		c->dirty = true;
		rc = set_counters ? pgt_rs_tx_set_counter(tx, c->counter,
			cpkts, cbytes) : 0;
		goto out;
	case CMD_RENAME:
		if (arg2 == NULL) {
			rc = pgt_rs_errorf(err, "-E needs the chain's new name");
			goto out;
		}
		rc = rename_chain(tx, t, c, arg2, err);
		goto out;
	default:
		break;
	}

	/* -A, -I, -D, -R: a rule, or for -D and -R a number. */
	if (arg2 != NULL && (cmd == CMD_INSERT || cmd == CMD_DELETE ||
			cmd == CMD_REPLACE)) {
		if (pgt_rs_parse_u32(arg2, 1, UINT32_MAX, &num) != 0) {
			rc = pgt_rs_errorf(err, "invalid rule number '%s'", arg2);
			goto out;
		}
	}
	if (cmd == CMD_DELETE && num > 0) {
		if (nrule > 0) {
			rc = pgt_rs_errorf(err, "-D with a number takes no rule");
			goto out;
		}
		if (num > c->nb_rules) {
			pgt_rs_errorf(err, "%s has no rule %u", chain, num);
			rc = -ENOENT;
			goto out;
		}
		pgt_rs_chain_remove(c, num - 1);
		rc = 0;
		goto out;
	}
	if (cmd == CMD_REPLACE && num == 0) {
		rc = pgt_rs_errorf(err, "-R needs a rule number");
		goto out;
	}
	rp.r = pgt_rs_rule_new(err);
	if (rp.r == NULL) {
		rc = -ENOSPC;
		goto out;
	}
	rp.table = table;
	rp.chain = chain;
	rc = parse_rule(&rp, t, nrule, rule_argv, err);
	if (rc == 0 && (rp.r->kind == PGT_RS_JUMP || rp.r->kind == PGT_RS_GOTO) &&
			strcmp(rp.r->jump, chain) == 0) {
		pgt_rs_errorf(err, "chain %s cannot jump to itself", chain);
		rc = -ELOOP;
	}
	/* Linux checks a target's hooks where the chain is built in. */
	if (rc == 0 && rp.r->target != NULL && rp.r->target->hooks != 0 &&
			c->builtin) {
		for (k = 0; k < PGT_HOOK_MAX; k++)
			if (strcmp(pgt_rs_hook_names[k], c->name) == 0)
				break;
		if (!(rp.r->target->hooks & (1u << k)))
			rc = pgt_rs_errorf(err,
				"target %s cannot be used in chain %s",
				rp.r->target->name, c->name);
	}
	if (rc != 0) {
		pgt_rs_rule_put(rp.r);
		goto out;
	}
	if (set_counters)
		rc = pgt_rs_tx_set_counter(tx, rp.r->counter, cpkts, cbytes);
	switch (cmd) {
	case CMD_APPEND:
		pos = c->nb_rules;
		break;
	case CMD_INSERT:
		pos = num > 0 ? num - 1 : 0;
		if (pos > c->nb_rules) {
			pgt_rs_rule_put(rp.r);
			pgt_rs_errorf(err, "index of insertion too big: %s has %u rules",
				chain, c->nb_rules);
			rc = -ENOENT;
			goto out;
		}
		break;
	case CMD_REPLACE:
		if (num > c->nb_rules) {
			pgt_rs_rule_put(rp.r);
			pgt_rs_errorf(err, "%s has no rule %u", chain, num);
			rc = -ENOENT;
			goto out;
		}
		pgt_rs_chain_remove(c, num - 1);
		pos = num - 1;
		break;
	default:	/* CMD_DELETE by specification */
		for (j = 0; j < c->nb_rules; j++)
			if (pgt_rs_rule_equal(c->rules[j], rp.r))
				break;
		pgt_rs_rule_put(rp.r);
		if (j == c->nb_rules) {
			pgt_rs_errorf(err,
				"no such rule in %s (does a matching rule exist in that chain?)",
				chain);
			rc = -ENOENT;
			goto out;
		}
		pgt_rs_chain_remove(c, j);
		rc = 0;
		goto out;
	}
	if (rc == 0)
		rc = pgt_rs_chain_insert(c, pos, rp.r);
	if (rc != 0)
		pgt_rs_rule_put(rp.r);
out:
	free(rule_argv);
	return rc;
}

/* iptables-restore */

static int
restore_line(struct pgt_rs_tx *tx, char *line, int *table, bool noflush,
	bool counters, struct pgt_rs_err *err)
{
	struct pgt_rs_mtable *t;
	struct pgt_rs_chain *c;
	char **argv = NULL, **full;
	uint64_t p = 0, b = 0;
	char name[64], policy[16], cnt[64];
	int argc = 0, n, rc;
	unsigned int j;

	if (line[0] == '*') {
		if (*table >= 0)
			return pgt_rs_errorf(err, "'%s' before COMMIT of table %s",
				line, pgt_rs_table_names[*table]);
		*table = pgt_ruleset_table_find(line + 1);
		if (*table < 0)
			return pgt_rs_errorf(err, "no table named '%s'",
				line + 1);
		t = pgt_rs_tx_table(tx, *table);
		if (t == NULL)
			return -ENOMEM;
		if (noflush)
			return 0;
		for (j = 0; j < t->nb_chains; j++)
			if (t->chains[j] != NULL)
				pgt_rs_chain_flush(t->chains[j]);
		for (j = 0; j < t->nb_chains; j++)
			if (t->chains[j] != NULL && !t->chains[j]->builtin)
				pgt_rs_chain_delete(t, t->chains[j], err);
		return 0;
	}
	if (*table < 0)
		return pgt_rs_errorf(err, "'%s' outside a table (no *table line)",
			line);
	t = pgt_rs_tx_table(tx, *table);
	if (t == NULL)
		return -ENOMEM;
	if (strcmp(line, "COMMIT") == 0) {
		*table = -1;
		return 0;
	}
	if (line[0] == ':') {
		cnt[0] = '\0';
		n = sscanf(line + 1, "%63s %15s %63s", name, policy, cnt);
		if (n < 2)
			return pgt_rs_errorf(err,
				"chain line '%s': expected ':CHAIN POLICY [packets:bytes]'",
				line);
		if (n == 3 && sscanf(cnt, "[%" SCNu64 ":%" SCNu64 "]", &p,
				&b) != 2)
			return pgt_rs_errorf(err, "bad counters '%s'", cnt);
		c = pgt_rs_chain_find(t, name);
		if (c != NULL && c->builtin) {
			if (strcmp(policy, "ACCEPT") != 0 &&
					strcmp(policy, "DROP") != 0)
				return pgt_rs_errorf(err,
					"built-in chain %s: the policy is ACCEPT or DROP, not '%s'",
					name, policy);
			c->policy = policy[0] == 'A' ? PGT_RS_ACCEPT :
				PGT_RS_DROP;
			c->dirty = true;
			return counters && n == 3 ?
				pgt_rs_tx_set_counter(tx, c->counter, p, b) : 0;
		}
		if (strcmp(policy, "-") != 0)
			return pgt_rs_errorf(err,
				"user chain %s cannot have policy '%s' (use '-')",
				name, policy);
		if (c != NULL) {
			/* --noflush: a re-declared chain starts empty. */
			pgt_rs_chain_flush(c);
			return 0;
		}
		if (!valid_chain_name(name))
			return pgt_rs_errorf(err, "invalid chain name '%s'",
				name);
		return pgt_rs_chain_new(t, name, err);
	}
	/* A rule or command: "[p:b] -A ...". */
	if (line[0] == '[') {
		/* %n is stored only if the closing bracket matched. */
		n = -1;
		if (sscanf(line, "[%" SCNu64 ":%" SCNu64 "]%n", &p, &b,
				&n) != 2 || n < 0)
			return pgt_rs_errorf(err, "bad counters prefix");
		line += n;
	} else {
		counters = false;
	}
	rc = pgt_rs_tokenize(line, &argv, &argc, err);
	if (rc != 0)
		return rc;
	full = calloc((size_t)argc + 6, sizeof(*full));
	if (full == NULL) {
		pgt_rs_free_argv(argv, argc);
		return -ENOMEM;
	}
	full[0] = (char *)"-t";
	full[1] = (char *)(uintptr_t)pgt_rs_table_names[*table];
	if (argc > 0)	/* "[0:0]" alone has no words (and argv is NULL) */
		memcpy(&full[2], argv, sizeof(*argv) * (size_t)argc);
	n = argc + 2;
	if (counters) {
		snprintf(name, sizeof(name), "%" PRIu64, p);
		snprintf(cnt, sizeof(cnt), "%" PRIu64, b);
		full[n++] = (char *)"-c";
		full[n++] = name;
		full[n++] = cnt;
	}
	rc = pgt_rs_exec(tx, n, full, NULL, false, err);
	free(full);
	pgt_rs_free_argv(argv, argc);
	return rc;
}

int
pgt_ruleset_restore(const char *text, bool noflush, bool counters,
	struct pgt_rs_err *err)
{
	struct pgt_rs_err lerr;
	struct pgt_rs_tx tx;
	const char *p = text, *nl;
	char *line;
	int table = -1, lineno = 0, rc = 0;
	size_t len, whole;

	pgt_rs_tx_begin(&tx);
	while (*p != '\0' && rc == 0) {
		nl = strchr(p, '\n');
		whole = nl != NULL ? (size_t)(nl - p) : strlen(p);
		len = whole;
		lineno++;
		line = strndup(p, len);
		if (line == NULL) {
			rc = -ENOMEM;
			break;
		}
		/* Trailing blanks and a CR from a DOS file. */
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		lerr.msg[0] = '\0';
		if (line[0] != '\0' && line[0] != '#')
			rc = restore_line(&tx, line, &table, noflush, counters,
				&lerr);
		if (rc != 0)
			snprintf(err->msg, sizeof(err->msg), "line %d: %s",
				lineno, lerr.msg[0] != '\0' ? lerr.msg :
					strerror(-rc));
		free(line);
		/* Past the whole line: trimming shortened only the copy. */
		p = nl != NULL ? nl + 1 : p + whole;
	}
	if (rc == 0 && table >= 0) {
		snprintf(err->msg, sizeof(err->msg),
			"line %d: COMMIT expected (table %s not committed)",
			lineno, pgt_rs_table_names[table]);
		rc = -EINVAL;
	}
	if (rc != 0) {
		pgt_rs_tx_abort(&tx);
		return rc;
	}
	return pgt_rs_tx_commit(&tx, err);
}

int
pgt_ruleset_command(int argc, char **argv, FILE *out, struct pgt_rs_err *err)
{
	struct pgt_rs_tx tx;
	int rc;

	err->msg[0] = '\0';
	pgt_rs_tx_begin(&tx);
	rc = pgt_rs_exec(&tx, argc, argv, out, false, err);
	if (rc != 0) {
		if (err->msg[0] == '\0')
			snprintf(err->msg, sizeof(err->msg), "%s",
				strerror(-rc));
		pgt_rs_tx_abort(&tx);
		return rc;
	}
	return pgt_rs_tx_commit(&tx, err);
}
