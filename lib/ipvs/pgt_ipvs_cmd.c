/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ipvsadm's language: commands parsed into edits of a copy of the model,
 * which is published whole when the command (or a whole -R restore)
 * succeeded, so a bad line changes nothing; listings in ipvsadm 1.31's
 * layouts (-L, --stats, --rate, --thresholds, -c, --timeout, -S); the
 * JSON-RPC methods; and the configuration saver, which replays -S.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include "pgt_inet.h"
#include "pgt_ipvs_priv.h"

#define ERR_MAX 200

enum op {
	OP_NONE, OP_ADD_SVC, OP_EDIT_SVC, OP_DEL_SVC, OP_CLEAR, OP_ADD_DEST,
	OP_EDIT_DEST, OP_DEL_DEST, OP_LIST, OP_SAVE, OP_SET,
	OP_ADD_LADDR, OP_DEL_LADDR, OP_GET_LADDR,
};

/* Listing formats (ipvsadm's FMT_*). */
#define FMT_STATS	0x01
#define FMT_RATE	0x02
#define FMT_THRESHOLDS	0x04
#define FMT_EXACT	0x08
#define FMT_CONNS	0x10
#define FMT_TIMEOUT	0x20
#define FMT_NOSORT	0x40
#define FMT_CHECKS	0x80	/* pktgate: health checks and verdicts */

struct cmd {
	enum op op;
	bool has_svc;
	uint8_t proto;
	uint32_t addr, fwmark;
	uint16_t port;
	const char *sched;
	bool has_persist, has_mask, has_flags;
	uint32_t timeout, netmask, flags;
	bool has_dest, has_method, has_weight, has_x, has_y;
	uint32_t raddr, weight, x, y;
	uint16_t rport;
	uint8_t method;
	bool has_laddr;
	uint32_t laddr;
	uint32_t set[3];
	unsigned int fmt;
	/* --check TYPE and the --check-* options given (CF_*). */
	bool has_check;
	uint8_t check_type;
	uint32_t check_fields;
	struct ipvs_check chk;
};

/* --check-* options given. */
#define CF_PORT		0x01
#define CF_PATH		0x02
#define CF_STATUS	0x04
#define CF_INTERVAL	0x08
#define CF_TIMEOUT	0x10
#define CF_RISE		0x20
#define CF_FALL		0x40
#define CF_ACTION	0x80

static int
fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool
parse_u32(const char *s, uint32_t max, uint32_t *v)
{
	unsigned long long x;
	char *end;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x > max)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* "A.B.C.D[:PORT]"; a missing port is 0. */
static int
parse_addrport(const char *s, uint32_t *addr, uint16_t *port)
{
	char buf[32];
	const char *colon = strchr(s, ':');
	uint32_t p = 0;
	size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (pgt_inet_parse_addr(buf, addr) != 0)
		return -EINVAL;
	if (colon != NULL && !parse_u32(colon + 1, UINT16_MAX, &p))
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

/* Seconds, to the millisecond ("2", "0.5"), from 0.1 s to an hour. */
static bool
parse_seconds(const char *s, uint32_t *ms)
{
	uint32_t whole, frac = 0, scale = 100;
	const char *dot = strchr(s, '.');
	char buf[16];
	size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!parse_u32(buf, 3600, &whole))
		return false;
	if (dot != NULL) {
		if (dot[1] == '\0' || strlen(dot + 1) > 3)
			return false;
		for (s = dot + 1; *s != '\0'; s++, scale /= 10) {
			if (!isdigit((unsigned char)*s))
				return false;
			frac += (uint32_t)(*s - '0') * scale;
		}
	}
	*ms = whole * 1000 + frac;
	return *ms >= 100 && *ms <= 3600 * 1000;
}

/* An HTTP path: "/" and printable, blank-free ASCII. */
static bool
valid_path(const char *s)
{
	if (s[0] != '/' || strlen(s) >= IPVS_CHECK_PATH_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

/* One --check or --check-* option at argv[i]; @return 1 if it was one
 * (and i advanced past its value), 0 if not, a negative errno. */
static int
parse_check_opt(int argc, char **argv, int *i, struct cmd *c, char *err)
{
	const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	uint32_t x;

	if (strncmp(a, "--check", 7) != 0)
		return 0;
	if (v == NULL)
		return fail(err, "option '%s' needs an argument", a);
	(*i)++;
	if (strcmp(a, "--check") == 0) {
		c->has_check = true;
		if (strcmp(v, "tcp") == 0)
			c->check_type = IPVS_CHECK_TCP;
		else if (strcmp(v, "http") == 0)
			c->check_type = IPVS_CHECK_HTTP;
		else if (strcmp(v, "none") == 0)
			c->check_type = IPVS_CHECK_NONE;
		else if (strcmp(v, "inherit") == 0)
			c->check_type = IPVS_CHECK_INHERIT;
		else if (strcmp(v, "https") == 0)
			return fail(err, "--check https: pktgate links no TLS library; check the server's plain HTTP port (--check http --check-port N) or use --check tcp");
		else
			return fail(err, "--check '%s': tcp, http, none or inherit", v);
	} else if (strcmp(a, "--check-port") == 0) {
		if (!parse_u32(v, UINT16_MAX, &x) || x == 0)
			return fail(err, "illegal check port '%s' (1 to 65535)", v);
		c->chk.port = (uint16_t)x;
		c->check_fields |= CF_PORT;
	} else if (strcmp(a, "--check-path") == 0) {
		if (!valid_path(v))
			return fail(err, "illegal check path '%s': '/' then up to %u printable characters, no blank",
				v, IPVS_CHECK_PATH_MAX - 2);
		snprintf(c->chk.path, sizeof(c->chk.path), "%s", v);
		c->check_fields |= CF_PATH;
	} else if (strcmp(a, "--check-status") == 0) {
		if (!parse_u32(v, 599, &x) || x < 100)
			return fail(err, "illegal HTTP status '%s' (100 to 599)", v);
		c->chk.status = (uint16_t)x;
		c->check_fields |= CF_STATUS;
	} else if (strcmp(a, "--check-interval") == 0 ||
			strcmp(a, "--check-timeout") == 0) {
		if (!parse_seconds(v, &x))
			return fail(err, "illegal %s '%s': seconds, 0.1 to 3600, to the millisecond",
				a, v);
		if (a[8] == 'i') {
			c->chk.interval_ms = x;
			c->check_fields |= CF_INTERVAL;
		} else {
			c->chk.timeout_ms = x;
			c->check_fields |= CF_TIMEOUT;
		}
	} else if (strcmp(a, "--check-rise") == 0 ||
			strcmp(a, "--check-fall") == 0) {
		if (!parse_u32(v, 100, &x) || x == 0)
			return fail(err, "illegal %s '%s' (1 to 100 results in a row)",
				a, v);
		if (a[8] == 'r') {
			c->chk.rise = (uint8_t)x;
			c->check_fields |= CF_RISE;
		} else {
			c->chk.fall = (uint8_t)x;
			c->check_fields |= CF_FALL;
		}
	} else if (strcmp(a, "--check-action") == 0) {
		if (strcmp(v, "quiesce") == 0)
			c->chk.action = IPVS_CHECK_QUIESCE;
		else if (strcmp(v, "remove") == 0)
			c->chk.action = IPVS_CHECK_REMOVE;
		else
			return fail(err, "--check-action '%s': quiesce (weight 0) or remove", v);
		c->check_fields |= CF_ACTION;
	} else {
		(*i)--;
		return fail(err, "unknown option '%s'", a);
	}
	return 1;
}

static const char *const sched_flag_names[] = {
	"flag-1", "flag-2", "flag-3", "sh-fallback", "sh-port",
	"mh-fallback", "mh-port",
};
static const uint32_t sched_flag_bits[] = {
	PGT_IPVS_SVC_SCHED1, PGT_IPVS_SVC_SCHED2, 0, PGT_IPVS_SVC_SCHED1,
	PGT_IPVS_SVC_SCHED2, PGT_IPVS_SVC_SCHED1, PGT_IPVS_SVC_SCHED2,
};

static int
parse_sched_flags(const char *s, uint32_t *flags, char *err)
{
	char buf[128], *tok, *save = NULL;
	unsigned int i;

	if (strlen(s) >= sizeof(buf))
		return fail(err, "invalid scheduler flag '%s'", s);
	strcpy(buf, s);
	*flags = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
			tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < RTE_DIM(sched_flag_names); i++)
			if (strcmp(tok, sched_flag_names[i]) == 0)
				break;
		if (i == RTE_DIM(sched_flag_names))
			return fail(err, "invalid scheduler flag '%s'", tok);
		if (sched_flag_bits[i] == 0)
			return fail(err, "scheduler flag '%s' is used by no scheduler of pktgate", tok);
		*flags |= sched_flag_bits[i];
	}
	return 0;
}

static int
set_op(struct cmd *c, enum op op, const char *word, char *err)
{
	if (c->op != OP_NONE)
		return fail(err, "'%s': only one command per line", word);
	c->op = op;
	return 0;
}

/* The options taking no argument, as single letters of a group ("-Ln"). */
static const char *const flag_letters = "AEDCaedLlSZnghimc6";

static int
expand(int argc, char **argv, char ***out, int *outc)
{
	size_t k, words = 1;
	char **v;
	int i, j, n = 0;

	/* A group "-Ln" becomes one word per letter: at most strlen - 1. */
	for (i = 0; i < argc; i++)
		words += strlen(argv[i]) > 2 ? strlen(argv[i]) - 1 : 1;
	v = calloc(words, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] == '-' && a[1] != '-' && a[1] != '\0' &&
				strlen(a) > 2 && !isdigit((unsigned char)a[1])) {
			for (k = 1; a[k] != '\0'; k++) {
				if (strchr(flag_letters, a[k]) == NULL &&
						a[k + 1] != '\0')
					break;
				v[n] = malloc(3);
				if (v[n] == NULL)
					goto nomem;
				v[n][0] = '-';
				v[n][1] = a[k];
				v[n][2] = '\0';
				n++;
			}
			if (a[k] == '\0')
				continue;
			for (j = 0; j < n; j++)
				free(v[j]);
			n = 0;
			free(v);
			*out = NULL;
			*outc = i;	/* the bad word */
			return -EINVAL;
		}
		v[n] = strdup(a);
		if (v[n] == NULL)
			goto nomem;
		n++;
	}
	*out = v;
	*outc = n;
	return 0;
nomem:
	for (j = 0; j < n; j++)
		free(v[j]);
	free(v);
	return -ENOMEM;
}

static bool
is(const char *a, const char *s, const char *l)
{
	return (s != NULL && strcmp(a, s) == 0) || (l != NULL &&
		strcmp(a, l) == 0);
}

/* Parse one ipvsadm command (without "ipvsadm"). */
static int
parse(int argc, char **argv, struct cmd *c, char *err)
{
	const char *a, *v;
	int i, rc;

	memset(c, 0, sizeof(*c));
	c->weight = 1;
	c->netmask = UINT32_MAX;
	for (i = 0; i < argc; i++) {
		a = argv[i];
		v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG() do { \
		if (v == NULL) \
			return fail(err, "option '%s' needs an argument", a); \
		i++; \
	} while (0)
		if (is(a, "-A", "--add-service"))
			rc = set_op(c, OP_ADD_SVC, a, err);
		else if (is(a, "-E", "--edit-service"))
			rc = set_op(c, OP_EDIT_SVC, a, err);
		else if (is(a, "-D", "--delete-service"))
			rc = set_op(c, OP_DEL_SVC, a, err);
		else if (is(a, "-C", "--clear"))
			rc = set_op(c, OP_CLEAR, a, err);
		else if (is(a, "-a", "--add-server"))
			rc = set_op(c, OP_ADD_DEST, a, err);
		else if (is(a, "-e", "--edit-server"))
			rc = set_op(c, OP_EDIT_DEST, a, err);
		else if (is(a, "-d", "--delete-server"))
			rc = set_op(c, OP_DEL_DEST, a, err);
		else if (is(a, "-L", "--list") || is(a, "-l", NULL))
			rc = set_op(c, OP_LIST, a, err);
		else if (is(a, "-S", "--save"))
			rc = set_op(c, OP_SAVE, a, err);
		else if (is(a, NULL, "--set")) {
			rc = set_op(c, OP_SET, a, err);
			if (rc == 0 && (i + 3 >= argc ||
					!parse_u32(argv[i + 1], 86400 * 365,
						&c->set[0]) ||
					!parse_u32(argv[i + 2], 86400 * 365,
						&c->set[1]) ||
					!parse_u32(argv[i + 3], 86400 * 365,
						&c->set[2])))
				return fail(err, "--set needs three timeouts in seconds: tcp tcpfin udp (0 keeps one)");
			i += 3;
		} else if (is(a, "-P", "--add-laddr")) {
			rc = set_op(c, OP_ADD_LADDR, a, err);
		} else if (is(a, "-Q", "--del-laddr")) {
			rc = set_op(c, OP_DEL_LADDR, a, err);
		} else if (is(a, "-G", "--get-laddr")) {
			rc = set_op(c, OP_GET_LADDR, a, err);
		} else if (is(a, "-t", "--tcp-service") ||
				is(a, "-u", "--udp-service")) {
			NEED_ARG();
			if (c->has_svc)
				return fail(err, "'%s': one service per command", a);
			c->has_svc = true;
			c->proto = a[1] == 't' || a[2] == 't' ? IPPROTO_TCP :
				IPPROTO_UDP;
			if (parse_addrport(v, &c->addr, &c->port) != 0)
				return fail(err, "illegal virtual server address[:port] specified: '%s'", v);
			rc = 0;
		} else if (is(a, "-f", "--fwmark-service")) {
			NEED_ARG();
			if (c->has_svc)
				return fail(err, "'%s': one service per command", a);
			c->has_svc = true;
			if (!parse_u32(v, UINT32_MAX, &c->fwmark) ||
					c->fwmark == 0)
				return fail(err, "illegal virtual server firewall mark specified: '%s'", v);
			rc = 0;
		} else if (is(a, "-s", "--scheduler")) {
			NEED_ARG();
			c->sched = v;
			rc = 0;
		} else if (is(a, "-p", "--persistent")) {
			c->has_persist = true;
			c->timeout = 300;
			/* The timeout is optional: only a number is one. */
			if (v != NULL && isdigit((unsigned char)v[0])) {
				i++;
				if (!parse_u32(v, 86400 * 365, &c->timeout) ||
						c->timeout == 0)
					return fail(err, "illegal timeout for persistent service: '%s'", v);
			}
			rc = 0;
		} else if (is(a, "-M", "--netmask")) {
			NEED_ARG();
			c->has_mask = true;
			if (pgt_inet_parse_addr(v, &c->netmask) != 0 ||
					(c->netmask != 0 && (~c->netmask &
					(~c->netmask + 1)) != 0))
				return fail(err, "illegal virtual server persistent mask specified: '%s'", v);
			rc = 0;
		} else if (is(a, "-b", "--sched-flags")) {
			NEED_ARG();
			c->has_flags = true;
			rc = parse_sched_flags(v, &c->flags, err);
		} else if (is(a, "-r", "--real-server")) {
			NEED_ARG();
			c->has_dest = true;
			if (parse_addrport(v, &c->raddr, &c->rport) != 0)
				return fail(err, "illegal real server address[:port] specified: '%s'", v);
			rc = 0;
		} else if (is(a, "-g", "--gatewaying") ||
				is(a, "-i", "--ipip") ||
				is(a, "-m", "--masquerading") ||
				is(a, NULL, "--fullnat")) {
			if (c->has_method)
				return fail(err, "'%s': one forwarding method per real server", a);
			c->has_method = true;
			c->method = is(a, "-g", "--gatewaying") ?
				PGT_IPVS_ROUTE : is(a, "-i", "--ipip") ?
				PGT_IPVS_TUNNEL : is(a, "-m", "--masquerading") ?
				PGT_IPVS_MASQ : PGT_IPVS_FULLNAT;
			rc = 0;
		} else if (is(a, "-w", "--weight")) {
			NEED_ARG();
			c->has_weight = true;
			if (!parse_u32(v, 65535, &c->weight))
				return fail(err, "illegal weight specified: '%s' (0 to 65535)", v);
			rc = 0;
		} else if (is(a, "-x", "--u-threshold")) {
			NEED_ARG();
			c->has_x = true;
			if (!parse_u32(v, INT32_MAX, &c->x))
				return fail(err, "illegal upper threshold specified: '%s'", v);
			rc = 0;
		} else if (is(a, "-y", "--l-threshold")) {
			NEED_ARG();
			c->has_y = true;
			if (!parse_u32(v, INT32_MAX, &c->y))
				return fail(err, "illegal lower threshold specified: '%s'", v);
			rc = 0;
		} else if (is(a, "-z", "--laddr")) {
			NEED_ARG();
			c->has_laddr = true;
			if (pgt_inet_parse_addr(v, &c->laddr) != 0)
				return fail(err, "illegal local address specified: '%s'", v);
			rc = 0;
		} else if (is(a, "-F", "--ifname")) {
			NEED_ARG();	/* pktgate routes: the port is found */
			rc = 0;
		} else if (is(a, "-n", "--numeric")) {
			rc = 0;		/* pktgate never resolves names */
		} else if (is(a, "-c", "--connection")) {
			c->fmt |= FMT_CONNS;
			rc = 0;
		} else if (is(a, NULL, "--stats")) {
			c->fmt |= FMT_STATS;
			rc = 0;
		} else if (is(a, NULL, "--rate")) {
			c->fmt |= FMT_RATE;
			rc = 0;
		} else if (is(a, NULL, "--thresholds")) {
			c->fmt |= FMT_THRESHOLDS;
			rc = 0;
		} else if (is(a, NULL, "--exact")) {
			c->fmt |= FMT_EXACT;
			rc = 0;
		} else if (is(a, NULL, "--timeout")) {
			c->fmt |= FMT_TIMEOUT;
			rc = 0;
		} else if (is(a, NULL, "--nosort")) {
			c->fmt |= FMT_NOSORT;
			rc = 0;
		} else if (is(a, NULL, "--checks")) {
			c->fmt |= FMT_CHECKS;
			rc = 0;
		} else if ((rc = parse_check_opt(argc, argv, &i, c, err)) != 0) {
			if (rc < 0)
				return rc;
			rc = 0;
		} else if (is(a, "-6", "--ipv6") || is(a, NULL, "--sctp-service") ||
				is(a, NULL, "--pe") || is(a, "-o", "--ops") ||
				is(a, NULL, "--tun-type") ||
				is(a, NULL, "--start-daemon") ||
				is(a, "-Z", "--zero") ||
				is(a, NULL, "--persistent-conn")) {
			return fail(err, "'%s' is not supported by pktgate (IPv4 TCP/UDP services, no sync daemon, counters never zeroed: read differences)", a);
		} else {
			return fail(err, "unknown option '%s'", a);
		}
#undef NEED_ARG
		if (rc != 0)
			return rc;
	}
	if (c->op == OP_NONE) {
		if (c->fmt & FMT_TIMEOUT)
			c->op = OP_LIST;
		else
			return fail(err, "no command given: -A -E -D -C -a -e -d -L -S -Z --set or --add-laddr");
	}
	return 0;
}

/* Model edits */

static struct ipvs_msvc *
find_svc(const struct ipvs_model *m, const struct cmd *c, uint32_t *pos)
{
	const struct pgt_ipvs_service *s;
	uint32_t i;

	for (i = 0; i < m->nb; i++) {
		s = &m->svc[i]->s;
		if (c->fwmark != 0 ? s->fwmark == c->fwmark : (s->fwmark == 0 &&
				s->proto == c->proto && s->addr == c->addr &&
				s->port == c->port)) {
			if (pos != NULL)
				*pos = i;
			return m->svc[i];
		}
	}
	return NULL;
}

static struct ipvs_mdest *
find_dest(struct ipvs_msvc *s, uint32_t addr, uint16_t port, uint32_t *pos)
{
	uint32_t i;

	for (i = 0; i < s->nb_dests; i++) {
		if (s->dests[i].d.addr == addr && s->dests[i].d.port == port) {
			if (pos != NULL)
				*pos = i;
			return &s->dests[i];
		}
	}
	return NULL;
}

static int
svc_options(struct ipvs_msvc *s, const struct cmd *c, char *err)
{
	const struct pgt_ipvs_sched_ops *ops;

	if (c->sched != NULL) {
		ops = pgt_ipvs_sched_find(c->sched);
		if (ops == NULL)
			return fail(err, "Scheduler not found: '%s' (rr wrr lc wlc sed nq sh dh mh fo)", c->sched);
		s->s.sched = ops;
	}
	if (c->has_persist) {
		s->s.flags |= PGT_IPVS_SVC_PERSISTENT;
		s->s.timeout = c->timeout;
	} else if (c->op == OP_EDIT_SVC) {
		/* ipvsadm -E sets the whole service: no -p, no persistence. */
		s->s.flags &= ~(uint32_t)PGT_IPVS_SVC_PERSISTENT;
		s->s.timeout = 0;
	}
	s->s.netmask = c->netmask;
	if (c->has_mask && !c->has_persist)
		return fail(err, "-M needs a persistent service (-p)");
	s->s.flags &= ~(uint32_t)(PGT_IPVS_SVC_SCHED1 | PGT_IPVS_SVC_SCHED2);
	s->s.flags |= c->flags;
	if (s->s.fwmark == 0 && s->s.port == 0 &&
			!(s->s.flags & PGT_IPVS_SVC_PERSISTENT))
		return fail(err, "Zero port specified for non-persistent service");
	return 0;
}

static int
add_svc(struct ipvs_model *m, const struct cmd *c, char *err)
{
	struct ipvs_msvc *s, **grown;

	if (find_svc(m, c, NULL) != NULL)
		return fail(err, "Service already exists");
	if (m->nb >= PGT_IPVS_MAX_SERVICES - 1)
		return fail(err, "Memory allocation problem: at most %u services",
			PGT_IPVS_MAX_SERVICES - 1);
	if (m->nb == m->cap) {
		grown = realloc(m->svc, (m->cap * 2 + 8) * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		m->svc = grown;
		m->cap = m->cap * 2 + 8;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->s.proto = c->fwmark != 0 ? 0 : c->proto;
	s->s.addr = c->fwmark != 0 ? 0 : c->addr;
	s->s.port = c->fwmark != 0 ? 0 : c->port;
	s->s.fwmark = c->fwmark;
	s->s.sched = pgt_ipvs_sched_find("wlc");
	if (svc_options(s, c, err) != 0) {
		free(s);
		return -EINVAL;
	}
	m->svc[m->nb++] = s;
	return 0;
}

static int
dest_options(struct ipvs_msvc *s, struct ipvs_mdest *d, const struct cmd *c,
	char *err)
{
	if (c->has_method)
		d->d.method = c->method;
	if (c->has_weight || c->op == OP_ADD_DEST)
		d->d.weight = c->weight;
	if (c->has_x)
		d->d.u_threshold = c->x;
	if (c->has_y)
		d->d.l_threshold = c->y;
	if (d->d.method == PGT_IPVS_FULLNAT && s->s.nb_laddrs == 0)
		return fail(err, "full-NAT needs a local address first: --add-laddr -z ADDR %s",
			s->s.fwmark != 0 ? "-f MARK" : "-t|-u VIP:PORT");
	if (d->d.method == PGT_IPVS_FULLNAT && s->s.fwmark != 0)
		return fail(err, "full-NAT is for VIP:port services, not firewall marks");
	return 0;
}

static int
add_dest(struct ipvs_msvc *s, const struct cmd *c, char *err)
{
	struct ipvs_mdest *d, *grown;
	uint16_t port = c->rport != 0 ? c->rport : s->s.port;

	/* As Linux: only NAT may change the port. */
	if (!c->has_method || (c->method != PGT_IPVS_MASQ &&
			c->method != PGT_IPVS_FULLNAT))
		port = s->s.port;
	if (find_dest(s, c->raddr, port, NULL) != NULL)
		return fail(err, "Destination already exists");
	if (s->nb_dests == s->cap_dests) {
		grown = realloc(s->dests, (s->cap_dests * 2 + 4) *
			sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		s->dests = grown;
		s->cap_dests = s->cap_dests * 2 + 4;
	}
	d = &s->dests[s->nb_dests];
	memset(d, 0, sizeof(*d));
	d->d.addr = c->raddr;
	d->d.port = port;
	d->d.method = PGT_IPVS_ROUTE;	/* ipvsadm's default: -g */
	if (dest_options(s, d, c, err) != 0)
		return -EINVAL;
	s->nb_dests++;
	return 0;
}

static int
laddr_edit(struct ipvs_msvc *s, const struct cmd *c, char *err)
{
	uint32_t i, j;

	for (i = 0; i < s->s.nb_laddrs; i++)
		if (s->s.laddrs[i] == c->laddr)
			break;
	if (c->op == OP_ADD_LADDR) {
		if (i < s->s.nb_laddrs)
			return fail(err, "local address already exists");
		if (s->s.nb_laddrs == PGT_IPVS_MAX_LADDRS)
			return fail(err, "at most %u local addresses per service",
				PGT_IPVS_MAX_LADDRS);
		s->s.laddrs[s->s.nb_laddrs++] = c->laddr;
		return 0;
	}
	if (i == s->s.nb_laddrs)
		return fail(err, "no such local address");
	if (s->s.nb_laddrs == 1)
		for (j = 0; j < s->nb_dests; j++)
			if (s->dests[j].d.method == PGT_IPVS_FULLNAT)
				return fail(err, "the last local address of a service with full-NAT real servers");
	s->s.laddrs[i] = s->s.laddrs[--s->s.nb_laddrs];
	return 0;
}

/*
 * The --check options of @p c on @p chk, the check of a service (@p svc
 * NULL) or of a server of @p svc. Options without --check edit the check
 * in force (a server without its own starts from its service's).
 */
static int
check_options(struct ipvs_check *chk, const struct ipvs_msvc *svc,
	const struct cmd *c, char *err)
{
	struct ipvs_check n = *chk;
	const struct ipvs_check *f = &c->chk;
	bool server = svc != NULL;

	if (!c->has_check && c->check_fields == 0)
		return 0;
	if (c->has_check) {
		if (c->check_type == IPVS_CHECK_INHERIT && !server)
			return fail(err, "--check inherit is for real servers (-a, -e); a service without a check takes --check none");
		if (c->check_type == IPVS_CHECK_NONE ||
				c->check_type == IPVS_CHECK_INHERIT) {
			memset(&n, 0, sizeof(n));
			/* A service's "none" is having none. */
			n.type = server ? c->check_type : IPVS_CHECK_INHERIT;
		} else if (n.type == IPVS_CHECK_TCP ||
				n.type == IPVS_CHECK_HTTP) {
			n.type = c->check_type;
		} else if (server && (svc->check.type == IPVS_CHECK_TCP ||
				svc->check.type == IPVS_CHECK_HTTP)) {
			n = svc->check;
			n.type = c->check_type;
		} else {
			pgt_ipvs_check_defaults(&n, c->check_type);
		}
	} else if (n.type == IPVS_CHECK_INHERIT && server &&
			svc->check.type != IPVS_CHECK_INHERIT) {
		n = svc->check;
	}
	if (c->check_fields != 0 && n.type != IPVS_CHECK_TCP &&
			n.type != IPVS_CHECK_HTTP)
		return fail(err, "--check-* options need a check: --check tcp|http");
	if ((c->check_fields & (CF_PATH | CF_STATUS)) &&
			n.type != IPVS_CHECK_HTTP)
		return fail(err, "--check-path and --check-status are for --check http");
	if (c->check_fields & CF_PORT)
		n.port = f->port;
	if (c->check_fields & CF_PATH)
		memcpy(n.path, f->path, sizeof(n.path));
	if (c->check_fields & CF_STATUS)
		n.status = f->status;
	if (c->check_fields & CF_INTERVAL)
		n.interval_ms = f->interval_ms;
	if (c->check_fields & CF_TIMEOUT)
		n.timeout_ms = f->timeout_ms;
	if (c->check_fields & CF_RISE)
		n.rise = f->rise;
	if (c->check_fields & CF_FALL)
		n.fall = f->fall;
	if (c->check_fields & CF_ACTION)
		n.action = f->action;
	/* One check in flight per server: it ends before the next starts. */
	if (n.timeout_ms > n.interval_ms)
		return fail(err, "--check-timeout (%u ms) must not exceed --check-interval (%u ms)",
			n.timeout_ms, n.interval_ms);
	*chk = n;
	return 0;
}

/* Every checked server of @p s has a port to check. */
static int
check_ports(const struct ipvs_msvc *s, char *err)
{
	const struct ipvs_check *chk;
	char a[PGT_INET_ADDRSTRLEN];
	uint32_t j;

	for (j = 0; j < s->nb_dests; j++) {
		chk = pgt_ipvs_check_of(s, &s->dests[j]);
		if (chk != NULL && chk->port == 0 && s->dests[j].d.port == 0)
			return fail(err, "real server %s has no port to check: give --check-port",
				pgt_inet_format_addr(s->dests[j].d.addr, a,
					sizeof(a)));
	}
	return 0;
}

/* Apply an editing command to @p m. */
static int
apply(struct ipvs_model *m, const struct cmd *c, char *err)
{
	struct ipvs_msvc *s = NULL;
	struct ipvs_mdest *d;
	uint32_t pos;
	int rc;

	if (c->op == OP_CLEAR) {
		while (m->nb > 0) {
			s = m->svc[--m->nb];
			free(s->dests);
			free(s);
		}
		return 0;
	}
	if (!c->has_svc)
		return fail(err, "a service is needed: -t|-u VIP:PORT or -f MARK");
	if (c->op != OP_ADD_SVC) {
		s = find_svc(m, c, &pos);
		if (s == NULL)
			return fail(err, "No such service");
	}
	if ((c->op == OP_ADD_DEST || c->op == OP_EDIT_DEST ||
			c->op == OP_DEL_DEST) && !c->has_dest)
		return fail(err, "a real server is needed: -r ADDR[:PORT]");
	if ((c->op == OP_ADD_LADDR || c->op == OP_DEL_LADDR) && !c->has_laddr)
		return fail(err, "a local address is needed: -z ADDR");
	if ((c->has_check || c->check_fields != 0) && c->op != OP_ADD_SVC &&
			c->op != OP_EDIT_SVC && c->op != OP_ADD_DEST &&
			c->op != OP_EDIT_DEST)
		return fail(err, "--check options go with -A, -E, -a or -e");
	switch (c->op) {
	case OP_ADD_SVC:
		rc = add_svc(m, c, err);
		if (rc != 0)
			return rc;
		s = m->svc[m->nb - 1];
		return check_options(&s->check, NULL, c, err);
	case OP_EDIT_SVC:
		if (svc_options(s, c, err) != 0 ||
				check_options(&s->check, NULL, c, err) != 0)
			return -EINVAL;
		return check_ports(s, err);
	case OP_DEL_SVC:
		free(s->dests);
		free(s);
		memmove(&m->svc[pos], &m->svc[pos + 1],
			(m->nb - pos - 1) * sizeof(*m->svc));
		m->nb--;
		return 0;
	case OP_ADD_DEST:
		rc = add_dest(s, c, err);
		if (rc != 0)
			return rc;
		if (check_options(&s->dests[s->nb_dests - 1].check, s, c,
				err) != 0)
			return -EINVAL;
		return check_ports(s, err);
	case OP_EDIT_DEST:
	case OP_DEL_DEST:
		d = find_dest(s, c->raddr, c->rport != 0 ? c->rport :
			s->s.port, &pos);
		if (d == NULL && c->rport == 0)
			d = find_dest(s, c->raddr, s->s.port, &pos);
		if (d == NULL)
			return fail(err, "No such destination");
		if (c->op == OP_EDIT_DEST) {
			if (dest_options(s, d, c, err) != 0 ||
					check_options(&d->check, s, c, err) != 0)
				return -EINVAL;
			return check_ports(s, err);
		}
		memmove(&s->dests[pos], &s->dests[pos + 1],
			(s->nb_dests - pos - 1) * sizeof(*s->dests));
		s->nb_dests--;
		return 0;
	case OP_ADD_LADDR:
	case OP_DEL_LADDR:
		return laddr_edit(s, c, err);
	default:
		return fail(err, "not an editing command");
	}
}

static bool
is_edit(enum op op)
{
	return op == OP_ADD_SVC || op == OP_EDIT_SVC || op == OP_DEL_SVC ||
		op == OP_CLEAR || op == OP_ADD_DEST || op == OP_EDIT_DEST ||
		op == OP_DEL_DEST || op == OP_ADD_LADDR || op == OP_DEL_LADDR;
}

/* Listings */

static int
cmp_svc(const void *a, const void *b)
{
	const struct pgt_ipvs_service *x = &(*(struct ipvs_msvc *const *)a)->s;
	const struct pgt_ipvs_service *y = &(*(struct ipvs_msvc *const *)b)->s;

	if (x->fwmark != y->fwmark)
		return x->fwmark < y->fwmark ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (int)x->port - (int)y->port;
}

static int
cmp_dest(const void *a, const void *b)
{
	const struct ipvs_mdest *x = a, *y = b;

	if (x->d.addr != y->d.addr)
		return x->d.addr < y->d.addr ? -1 : 1;
	return (int)x->d.port - (int)y->d.port;
}

static void
addrport(char *buf, size_t n, uint32_t addr, uint16_t port)
{
	char a[16];

	snprintf(buf, n, "%s:%u", pgt_inet_format_addr(addr, a, sizeof(a)),
		port);
}

static void
svc_name(const struct pgt_ipvs_service *s, bool rule, char *buf, size_t n)
{
	char ap[32];

	if (s->fwmark != 0) {
		snprintf(buf, n, rule ? "-f %u" : "FWM  %u", s->fwmark);
		return;
	}
	addrport(ap, sizeof(ap), s->addr, s->port);
	if (rule)
		snprintf(buf, n, "%s %s", s->proto == IPPROTO_TCP ? "-t" :
			"-u", ap);
	else
		snprintf(buf, n, "%s  %s", s->proto == IPPROTO_TCP ? "TCP" :
			"UDP", ap);
}

static void
largenum(FILE *f, uint64_t i, unsigned int fmt)
{
	char tmp[32];
	int len;

	if (fmt & FMT_EXACT) {
		len = snprintf(tmp, sizeof(tmp), "%" PRIu64, i);
		fprintf(f, "%*" PRIu64, len <= 8 ? 9 : len + 1, i);
	} else if (i < 100000000ULL) {
		fprintf(f, "%9" PRIu64, i);
	} else if (i < 1000000000ULL) {
		fprintf(f, "%8" PRIu64 "K", i / 1000);
	} else if (i < 100000000000ULL) {
		fprintf(f, "%8" PRIu64 "M", i / 1000000);
	} else if (i < 100000000000000ULL) {
		fprintf(f, "%8" PRIu64 "G", (uint64_t)(i / 1000000000ULL));
	} else {
		fprintf(f, "%8" PRIu64 "T", (uint64_t)(i / 1000000000000ULL));
	}
}

static void
print_numbers(FILE *f, const struct pgt_ipvs_totals *t,
	const struct pgt_ipvs_rate *r, unsigned int fmt)
{
	if (fmt & FMT_STATS) {
		largenum(f, t->conns, fmt);
		largenum(f, t->inpkts, fmt);
		largenum(f, t->outpkts, fmt);
		largenum(f, t->inbytes, fmt);
		largenum(f, t->outbytes, fmt);
	} else {
		largenum(f, (uint64_t)r->cps, fmt);
		largenum(f, (uint64_t)r->inpps, fmt);
		largenum(f, (uint64_t)r->outpps, fmt);
		largenum(f, (uint64_t)r->inbps, fmt);
		largenum(f, (uint64_t)r->outbps, fmt);
	}
}

static void
print_flags_rule(FILE *f, uint32_t flags, const char *sched)
{
	bool sh = strcmp(sched, "sh") == 0, mh = strcmp(sched, "mh") == 0;
	const char *f1 = sh ? "sh-fallback" : mh ? "mh-fallback" : "flag-1";
	const char *f2 = sh ? "sh-port" : mh ? "mh-port" : "flag-2";

	if (flags & PGT_IPVS_SVC_SCHED1)
		fprintf(f, "%s", f1);
	if ((flags & PGT_IPVS_SVC_SCHED1) && (flags & PGT_IPVS_SVC_SCHED2))
		fputc(',', f);
	if (flags & PGT_IPVS_SVC_SCHED2)
		fprintf(f, "%s", f2);
}

/* "4m12s" */
static void
duration(char *buf, size_t n, int64_t s)
{
	if (s < 60)
		snprintf(buf, n, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, n, "%" PRId64 "h%02" PRId64 "m", s / 3600,
			s / 60 % 60);
	else
		snprintf(buf, n, "%" PRId64 "d%02" PRId64 "h", s / 86400,
			s / 3600 % 24);
}

/* --checks: a server's check, its health, since when, the last result. */
static void
print_check_line(FILE *f, const struct ipvs_msvc *ms,
	const struct ipvs_mdest *md, const char *dn)
{
	const struct ipvs_check *chk = pgt_ipvs_check_of(ms, md);
	char what[IPVS_CHECK_PATH_MAX + 32], since[32] = "-";
	const char *health, *last;
	int64_t secs;

	health = pgt_ipvs_check_health(ms, md, &last, &secs);
	if (chk == NULL)
		snprintf(what, sizeof(what), "-");
	else if (chk->type == IPVS_CHECK_TCP)
		snprintf(what, sizeof(what), "tcp :%u", chk->port != 0 ?
			chk->port : md->d.port);
	else
		snprintf(what, sizeof(what), "http :%u%s %u", chk->port != 0 ?
			chk->port : md->d.port, chk->path, chk->status);
	if (chk != NULL)
		duration(since, sizeof(since), secs);
	fprintf(f, "  -> %-28.28s %-24s %-9s %-7s %s\n", dn, what, health,
		since, last);
}

static void
print_service(FILE *f, const struct ipvs_msvc *ms, unsigned int fmt,
	bool rule)
{
	const struct pgt_ipvs_service *s = &ms->s;
	struct ipvs_mdest *dests;
	struct pgt_ipvs_totals t;
	char name[64], dn[32], mask[16];
	uint32_t i;

	svc_name(s, rule, name, sizeof(name));
	if (rule) {
		fprintf(f, "-A %s -s %s", name, s->sched->name);
		if (s->flags & PGT_IPVS_SVC_PERSISTENT) {
			fprintf(f, " -p %u", s->timeout);
			if (s->netmask != UINT32_MAX)
				fprintf(f, " -M %s", pgt_inet_format_addr(
					s->netmask, mask, sizeof(mask)));
		}
		if (s->flags & (PGT_IPVS_SVC_SCHED1 | PGT_IPVS_SVC_SCHED2)) {
			fputs(" -b ", f);
			print_flags_rule(f, s->flags, s->sched->name);
		}
		if (ms->check.type != IPVS_CHECK_INHERIT)
			pgt_ipvs_check_print(f, &ms->check);
		fputc('\n', f);
		for (i = 0; i < s->nb_laddrs; i++)
			fprintf(f, "--add-laddr -z %s %s\n",
				pgt_inet_format_addr(s->laddrs[i], mask,
					sizeof(mask)), name);
	} else if (fmt & (FMT_STATS | FMT_RATE)) {
		pgt_ipvs_svc_totals(s->slot, &t);
		fprintf(f, "%-33.33s", name);
		print_numbers(f, &t, pgt_ipvs_svc_rate(s->slot), fmt);
		fputc('\n', f);
	} else if (fmt & FMT_THRESHOLDS) {
		fprintf(f, "%s\n", name);
	} else {
		fprintf(f, "%.33s %s", name, s->sched->name);
		if (s->flags & (PGT_IPVS_SVC_SCHED1 | PGT_IPVS_SVC_SCHED2)) {
			fputs(" (", f);
			print_flags_rule(f, s->flags, s->sched->name);
			fputc(')', f);
		}
		if (s->flags & PGT_IPVS_SVC_PERSISTENT) {
			fprintf(f, " persistent %u", s->timeout);
			if (s->netmask != UINT32_MAX)
				fprintf(f, " mask %s", pgt_inet_format_addr(
					s->netmask, mask, sizeof(mask)));
		}
		if (fmt & FMT_CHECKS)
			fprintf(f, " (%u of %u up)",
				pgt_ipvs_check_servers_up(ms), ms->nb_dests);
		fputc('\n', f);
	}
	dests = malloc((ms->nb_dests + 1) * sizeof(*dests));
	if (dests == NULL)
		return;
	if (ms->nb_dests > 0)
		memcpy(dests, ms->dests, ms->nb_dests * sizeof(*dests));
	if (!(fmt & FMT_NOSORT))
		qsort(dests, ms->nb_dests, sizeof(*dests), cmp_dest);
	for (i = 0; i < ms->nb_dests; i++) {
		const struct pgt_ipvs_dest *d = &dests[i].d;
		bool down, removed = false;

		addrport(dn, sizeof(dn), d->addr, d->port);
		pgt_ipvs_dest_totals(d->slot, &t);
		/* Listings show what the data path uses, as Linux shows
		 * what keepalived left in the kernel; -S and --checks the
		 * configuration. */
		down = pgt_ipvs_check_down(ms, &dests[i], &removed);
		if (down && removed && !rule && !(fmt & FMT_CHECKS))
			continue;
		if (fmt & FMT_CHECKS) {
			print_check_line(f, ms, &dests[i], dn);
		} else if (rule) {
			fprintf(f, "-a %s -r %s %s -w %u", name, dn,
				d->method == PGT_IPVS_MASQ ? "-m" :
				d->method == PGT_IPVS_TUNNEL ? "-i" :
				d->method == PGT_IPVS_FULLNAT ? "--fullnat" :
				"-g", d->weight);
			if (d->u_threshold != 0)
				fprintf(f, " -x %u", d->u_threshold);
			if (d->l_threshold != 0)
				fprintf(f, " -y %u", d->l_threshold);
			if (dests[i].check.type != IPVS_CHECK_INHERIT)
				pgt_ipvs_check_print(f, &dests[i].check);
			fputc('\n', f);
		} else if (fmt & (FMT_STATS | FMT_RATE)) {
			fprintf(f, "  -> %-28.28s", dn);
			print_numbers(f, &t, pgt_ipvs_dest_rate(d->slot), fmt);
			fputc('\n', f);
		} else if (fmt & FMT_THRESHOLDS) {
			fprintf(f, "  -> %-28.28s %-10u %-10u %-10" PRId64
				" %-10" PRId64 "\n", dn, d->u_threshold,
				d->l_threshold, t.active, t.inactive);
		} else {
			fprintf(f, "  -> %-28.28s %-7s %-6u %-10" PRId64
				" %-10" PRId64 "\n", dn,
				pgt_ipvs_method_names[d->method],
				down ? 0 : d->weight, t.active, t.inactive);
		}
	}
	free(dests);
}

static void
print_title(FILE *f, unsigned int fmt)
{
	if (fmt & FMT_STATS)
		fprintf(f, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Conns", "InPkts",
			"OutPkts", "InBytes", "OutBytes");
	else if (fmt & FMT_RATE)
		fprintf(f, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS",
			"InBPS", "OutBPS");
	else if (fmt & FMT_CHECKS)
		fprintf(f, "Prot LocalAddress:Port Scheduler Flags (servers up)\n"
			"  -> %-28s %-24s %-9s %-7s %s\n", "RemoteAddress:Port",
			"Check", "Health", "Since", "Last result");
	else if (fmt & FMT_THRESHOLDS)
		fprintf(f, "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Uthreshold", "Lthreshold",
			"ActiveConn", "InActConn");
	else
		fputs("Prot LocalAddress:Port Scheduler Flags\n"
			"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
			f);
}

/* -L -c: the IPVS connections of every worker's table. */
static void
print_conns(FILE *f)
{
	uint32_t cap = pgt_ct_slots(), idx;
	unsigned int w, nb = pgt_ct_nb_workers();
	struct pgt_ct_snapshot s;
	struct pgt_ct_tuple rs;
	char src[32], vip[32], dst[32];
	int64_t left;

	fputs("IPVS connection entries\n"
		"pro expire state       source             virtual            destination\n",
		f);
	for (w = 0; w < nb; w++) {
		for (idx = 0; idx < cap; idx++) {
			if (pgt_ct_snapshot(w, idx, &s) != 0 ||
					!(s.c.status & PGT_CT_S_IPVS))
				continue;
			addrport(src, sizeof(src), s.c.tuple[0].src,
				s.c.tuple[0].sport);
			addrport(vip, sizeof(vip), s.c.tuple[0].dst,
				s.c.tuple[0].dport);
			/* NAT: where the reply comes from; others: the
			 * server is not in the tuples, the slot says. */
			rs = s.c.tuple[1];
			if (!(s.c.status & PGT_CT_S_DST_NAT))
				rs.src = s.c.tuple[0].dst;
			addrport(dst, sizeof(dst), rs.src, rs.sport);
			left = s.timeout_s > 0 ? s.timeout_s : 0;
			fprintf(f, "%-3s %02d:%02d  %-11s %-18s %-18s %-18s\n",
				s.c.tuple[0].proto == IPPROTO_TCP ? "TCP" :
				"UDP", (int)(left / 60), (int)(left % 60),
				pgt_ipvs_state_name(&s.c), src, vip, dst);
		}
	}
}

static int
list(FILE *f, const struct cmd *c, bool rule, char *err)
{
	const struct ipvs_model *m = pgt_ipvs_model();
	struct ipvs_msvc **order, *one;
	uint32_t i, n;

	if (c->fmt & FMT_TIMEOUT) {
		fprintf(f, "Timeout (tcp tcpfin udp): %u %u %u\n",
			pgt_ipvs_cfg.tcp_timeout, pgt_ipvs_cfg.tcpfin_timeout,
			pgt_ipvs_cfg.udp_timeout);
		return 0;
	}
	if (c->fmt & FMT_CONNS) {
		print_conns(f);
		return 0;
	}
	if (c->has_svc) {
		one = find_svc(m, c, NULL);
		if (one == NULL)
			return fail(err, "No such service");
		if (!rule)
			print_title(f, c->fmt);
		print_service(f, one, c->fmt, rule);
		return 0;
	}
	order = malloc((m->nb + 1) * sizeof(*order));
	if (order == NULL)
		return -ENOMEM;
	n = m->nb;
	if (n > 0)
		memcpy(order, m->svc, n * sizeof(*order));
	if (!(c->fmt & FMT_NOSORT))
		qsort(order, n, sizeof(*order), cmp_svc);
	if (!rule) {
		fprintf(f, "IP Virtual Server version 1.2.1 (size=%u)\n",
			pgt_ct_capacity() * pgt_ct_nb_workers());
		print_title(f, c->fmt);
	}
	for (i = 0; i < n; i++)
		print_service(f, order[i], c->fmt, rule);
	free(order);
	return 0;
}

static void
get_laddr(FILE *f, const struct cmd *c)
{
	const struct ipvs_model *m = pgt_ipvs_model();
	char name[64], a[16];
	uint32_t i, j;

	fprintf(f, "%-20s %-8s %-20s\n", "VIP:VPORT", "TOTAL", "LADDR");
	for (i = 0; i < m->nb; i++) {
		const struct pgt_ipvs_service *s = &m->svc[i]->s;

		if (c->has_svc && find_svc(m, c, NULL) != m->svc[i])
			continue;
		if (s->fwmark != 0)
			snprintf(name, sizeof(name), "FWM %u", s->fwmark);
		else
			addrport(name, sizeof(name), s->addr, s->port);
		fprintf(f, "%-20s %-8u\n", name, s->nb_laddrs);
		for (j = 0; j < s->nb_laddrs; j++)
			fprintf(f, "%-20s %-8s %-20s\n", "", "",
				pgt_inet_format_addr(s->laddrs[j], a,
					sizeof(a)));
	}
}

/* Run parsed command @p c; a listing goes to @p out. */
static int
execute(const struct cmd *c, FILE *out, struct ipvs_model **tx, char *err)
{
	struct ipvs_model *m;
	int rc;

	if (c->op == OP_SET) {
		if (tx != NULL)
			return fail(err, "--set cannot be part of a restore");
		if (c->set[0] != 0)
			pgt_ipvs_cfg.tcp_timeout = c->set[0];
		if (c->set[1] != 0)
			pgt_ipvs_cfg.tcpfin_timeout = c->set[1];
		if (c->set[2] != 0)
			pgt_ipvs_cfg.udp_timeout = c->set[2];
		return 0;
	}
	if (!is_edit(c->op)) {
		if (out == NULL)
			return fail(err, "only editing commands can be restored");
		if (c->op == OP_LIST)
			return list(out, c, false, err);
		if (c->op == OP_SAVE)
			return list(out, c, true, err);
		get_laddr(out, c);
		return 0;
	}
	/* A restore edits one copy; a single command its own. */
	if (tx != NULL) {
		if (*tx == NULL) {
			*tx = pgt_ipvs_model_clone(pgt_ipvs_model());
			if (*tx == NULL)
				return -ENOMEM;
		}
		return apply(*tx, c, err);
	}
	m = pgt_ipvs_model_clone(pgt_ipvs_model());
	if (m == NULL)
		return -ENOMEM;
	rc = apply(m, c, err);
	if (rc == 0) {
		rc = pgt_ipvs_publish(m);
		if (rc == -ENOSPC)
			fail(err, "out of real server or service slots (%u, %u)",
				PGT_IPVS_MAX_DESTS - 1,
				PGT_IPVS_MAX_SERVICES - 1);
	}
	if (rc != 0)
		pgt_ipvs_model_free(m);
	return rc;
}

/* Run words @p argv (a leading "ipvsadm" is skipped). */
static int
run(int argc, char **argv, FILE *out, struct ipvs_model **tx, char *err)
{
	char **v = NULL;
	struct cmd c;
	int n = 0, i, rc;

	if (argc > 0 && strcmp(argv[0], "ipvsadm") == 0) {
		argc--;
		argv++;
	}
	rc = expand(argc, argv, &v, &n);
	if (rc == -EINVAL)
		return fail(err, "unknown option in '%s'", argv[n]);
	if (rc != 0)
		return rc;
	/* The command points into the words: free them last. */
	rc = parse(n, v, &c, err);
	if (rc == 0)
		rc = execute(&c, out, tx, err);
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return rc;
}

/* Split @p line at blanks (ipvsadm's words never need quotes). */
static int
split(char *line, char ***argv, int *argc)
{
	char *tok, *save = NULL, **v;
	int n = 0, cap = 8;

	v = malloc(cap * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (tok = strtok_r(line, " \t\r", &save); tok != NULL;
			tok = strtok_r(NULL, " \t\r", &save)) {
		if (n == cap) {
			char **g = realloc(v, (size_t)cap * 2 * sizeof(*v));

			if (g == NULL) {
				free(v);
				return -ENOMEM;
			}
			v = g;
			cap *= 2;
		}
		v[n++] = tok;
	}
	*argv = v;
	*argc = n;
	return 0;
}

/* JSON-RPC */

struct ipvsadm_args {
	const char *command;
};

static int
rpc_ipvsadm(void *argp, json_t **result, struct pgt_rpc_err *e)
{
	struct ipvsadm_args *a = argp;
	char err[ERR_MAX] = "", *line, *text = NULL, **argv;
	size_t len = 0;
	int argc, rc;
	FILE *out;

	line = strdup(a->command);
	if (line == NULL)
		return -ENOMEM;
	rc = split(line, &argv, &argc);
	if (rc != 0) {
		free(line);
		return rc;
	}
	out = open_memstream(&text, &len);
	if (out == NULL) {
		free(argv);
		free(line);
		return -ENOMEM;
	}
	rc = run(argc, argv, out, NULL, err);
	fclose(out);
	free(argv);
	free(line);
	if (rc != 0) {
		free(text);
		return pgt_rpc_errorf(e, rc, "%s", err[0] != '\0' ? err :
			strerror(-rc));
	}
	*result = len > 0 ? json_pack("{s:s}", "output", text) : NULL;
	free(text);
	return 0;
}

static const struct pgt_rpc_param ipvsadm_params[] = {
	PGT_RPC_PARAM(struct ipvsadm_args, command, PGT_RPC_TEXT, true,
		"the arguments of one ipvsadm command, e.g. \"-A -t 10.0.0.1:80 -s rr\""),
};

PGT_RPC_METHOD(ipvsadm_method, "ipvsadm",
	"Run one ipvsadm command (-A -E -D -C -a -e -d --set --add-laddr --del-laddr, or -L/-S/--get-laddr to list); atomic: on error nothing changes",
	ipvsadm_params, struct ipvsadm_args, rpc_ipvsadm);

/* Apply the lines of @p text to *tx (the live model's copy if NULL). */
static int
restore_lines(const char *text, struct ipvs_model **tx, int *lineno,
	char *err)
{
	char *copy, *line, *nl, **argv;
	int argc, rc = 0;

	copy = strdup(text);
	if (copy == NULL)
		return -ENOMEM;
	*lineno = 0;
	for (line = copy; line != NULL && rc == 0; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		(*lineno)++;
		rc = split(line, &argv, &argc);
		if (rc != 0)
			break;
		if (argc > 0 && argv[0][0] != '#')
			rc = run(argc, argv, NULL, tx, err);
		free(argv);
	}
	free(copy);
	return rc;
}

static int
rpc_ipvsadm_restore(void *argp, json_t **result, struct pgt_rpc_err *e)
{
	struct ipvsadm_args *a = argp;
	struct ipvs_model *tx = NULL;
	char err[ERR_MAX] = "";
	int rc, lineno;

	rc = restore_lines(a->command, &tx, &lineno, err);
	if (rc == 0 && tx != NULL) {
		rc = pgt_ipvs_publish(tx);
		if (rc == 0) {
			tx = NULL;
		} else {
			snprintf(err, sizeof(err),
				"out of real server or service slots");
		}
	}
	pgt_ipvs_model_free(tx);
	if (rc != 0)
		return pgt_rpc_errorf(e, rc, "line %d: %s", lineno,
			err[0] != '\0' ? err : strerror(-rc));
	*result = NULL;
	return 0;
}

PGT_RPC_METHOD(ipvsadm_restore_method, "ipvsadm_restore",
	"Apply ipvsadm commands, one per line (the form of ipvsadm -S, a line may start with \"ipvsadm\"), all or nothing: an error names its line and changes nothing",
	ipvsadm_params, struct ipvsadm_args, rpc_ipvsadm_restore);

static json_t *
totals_json(const struct pgt_ipvs_totals *t, const struct pgt_ipvs_rate *r)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f}",
		"active_conns", (json_int_t)t->active,
		"inactive_conns", (json_int_t)t->inactive,
		"conns", (json_int_t)t->conns,
		"in_packets", (json_int_t)t->inpkts,
		"out_packets", (json_int_t)t->outpkts,
		"in_bytes", (json_int_t)t->inbytes,
		"out_bytes", (json_int_t)t->outbytes,
		"cps", r->cps, "in_pps", r->inpps, "out_pps", r->outpps,
		"in_bps", r->inbps, "out_bps", r->outbps);
}

static int
rpc_ipvs_get(void *argp, json_t **result, struct pgt_rpc_err *e)
{
	const struct ipvs_model *m = pgt_ipvs_model();
	json_t *svcs = json_array(), *dests, *o, *laddrs;
	struct pgt_ipvs_totals t;
	char a[16], b[16];
	uint32_t i, j;

	RTE_SET_USED(argp);
	RTE_SET_USED(e);
	for (i = 0; i < m->nb; i++) {
		const struct ipvs_msvc *s = m->svc[i];

		dests = json_array();
		for (j = 0; j < s->nb_dests; j++) {
			const struct pgt_ipvs_dest *d = &s->dests[j].d;

			const char *last;
			int64_t since;

			pgt_ipvs_dest_totals(d->slot, &t);
			json_array_append_new(dests, json_pack(
				"{s:s,s:i,s:s,s:i,s:i,s:i,s:s,s:o}",
				"address", pgt_inet_format_addr(d->addr, a,
					sizeof(a)),
				"port", d->port,
				"forward", pgt_ipvs_method_names[d->method],
				"weight", (int)d->weight,
				"u_threshold", (int)d->u_threshold,
				"l_threshold", (int)d->l_threshold,
				"health", pgt_ipvs_check_health(s,
					&s->dests[j], &last, &since),
				"stats", totals_json(&t,
					pgt_ipvs_dest_rate(d->slot))));
		}
		laddrs = json_array();
		for (j = 0; j < s->s.nb_laddrs; j++)
			json_array_append_new(laddrs, json_string(
				pgt_inet_format_addr(s->s.laddrs[j], a,
					sizeof(a))));
		pgt_ipvs_svc_totals(s->s.slot, &t);
		o = json_pack("{s:s,s:s,s:i,s:i,s:s,s:b,s:i,s:s,s:o,s:o,s:o}",
			"protocol", s->s.fwmark != 0 ? "fwmark" :
				s->s.proto == IPPROTO_TCP ? "tcp" : "udp",
			"address", pgt_inet_format_addr(s->s.addr, a, sizeof(a)),
			"port", s->s.port, "fwmark", (int)s->s.fwmark,
			"scheduler", s->s.sched->name,
			"persistent", (s->s.flags & PGT_IPVS_SVC_PERSISTENT) != 0,
			"timeout", (int)s->s.timeout,
			"netmask", pgt_inet_format_addr(s->s.netmask, b,
				sizeof(b)),
			"local_addresses", laddrs, "real_servers", dests,
			"stats", totals_json(&t, pgt_ipvs_svc_rate(s->s.slot)));
		json_array_append_new(svcs, o);
	}
	*result = json_pack("{s:o,s:{s:I,s:I,s:I}}", "services", svcs,
		"counters",
		"no_dest", (json_int_t)pgt_ipvs_stat(PGT_IPVS_STAT_NO_DEST),
		"no_port", (json_int_t)pgt_ipvs_stat(PGT_IPVS_STAT_NO_PORT),
		"template_full",
		(json_int_t)pgt_ipvs_stat(PGT_IPVS_STAT_TMPL_FULL));
	return 0;
}

PGT_RPC_METHOD_NOARGS(ipvs_get_method, "ipvs_get",
	"The virtual services, their real servers (state, weight, counters, rates) and the refusal counters",
	rpc_ipvs_get);

/* ipvs_config_set / _get */

struct config_args {
	uint32_t tcp_timeout, tcpfin_timeout, udp_timeout, mh_table_size;
	bool reject_tcp_reset;
	bool has_tcp_timeout, has_tcpfin_timeout, has_udp_timeout,
		has_mh_table_size, has_reject_tcp_reset;
};

static bool
is_prime(uint32_t n)
{
	uint32_t d;

	if (n < 2)
		return false;
	for (d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

static int
rpc_config_set(void *argp, json_t **result, struct pgt_rpc_err *e)
{
	struct config_args *a = argp;
	struct ipvs_model *m;
	uint32_t old;
	int rc;

	if (a->has_mh_table_size && !is_prime(a->mh_table_size))
		return pgt_rpc_errorf(e, PGT_RPC_INVALID_PARAMS,
			"mh_table_size %u is not a prime (Maglev needs one, e.g. 251, 4093, 65521)",
			a->mh_table_size);
	if (a->has_tcp_timeout)
		pgt_ipvs_cfg.tcp_timeout = a->tcp_timeout;
	if (a->has_tcpfin_timeout)
		pgt_ipvs_cfg.tcpfin_timeout = a->tcpfin_timeout;
	if (a->has_udp_timeout)
		pgt_ipvs_cfg.udp_timeout = a->udp_timeout;
	if (a->has_reject_tcp_reset)
		pgt_ipvs_cfg.reject_tcp_reset = a->reject_tcp_reset;
	if (a->has_mh_table_size &&
			a->mh_table_size != pgt_ipvs_cfg.mh_table_size) {
		/* Rebuild the Maglev tables at the new size. */
		old = pgt_ipvs_cfg.mh_table_size;
		pgt_ipvs_cfg.mh_table_size = a->mh_table_size;
		m = pgt_ipvs_model_clone(pgt_ipvs_model());
		rc = m == NULL ? -ENOMEM : pgt_ipvs_publish(m);
		if (rc != 0) {
			pgt_ipvs_model_free(m);
			pgt_ipvs_cfg.mh_table_size = old;
			return rc;
		}
	}
	*result = NULL;
	return 0;
}

static const struct pgt_rpc_param config_params[] = {
	PGT_RPC_PARAM_U32(struct config_args, tcp_timeout, 1, 86400 * 365,
		"ESTABLISHED TCP connections (seconds, default 900)"),
	PGT_RPC_PARAM_U32(struct config_args, tcpfin_timeout, 1, 86400 * 365,
		"FIN_WAIT TCP connections (seconds, default 120)"),
	PGT_RPC_PARAM_U32(struct config_args, udp_timeout, 1, 86400 * 365,
		"UDP connections (seconds, default 300)"),
	PGT_RPC_PARAM_U32(struct config_args, mh_table_size, 7, 1000003,
		"Maglev lookup table size, a prime (default 4093)"),
	PGT_RPC_PARAM_OPT(struct config_args, reject_tcp_reset, PGT_RPC_BOOL,
		"refuse TCP with a reset rather than ICMP port unreachable when no real server is usable"),
};

PGT_RPC_METHOD(ipvs_config_set_method, "ipvs_config_set",
	"Set IPVS timeouts (as ipvsadm --set), the Maglev table size, and how a connection without a usable real server is refused",
	config_params, struct config_args, rpc_config_set);

static int
rpc_config_get(void *argp, json_t **result, struct pgt_rpc_err *e)
{
	RTE_SET_USED(argp);
	RTE_SET_USED(e);
	*result = json_pack("{s:i,s:i,s:i,s:i,s:b}",
		"tcp_timeout", (int)pgt_ipvs_cfg.tcp_timeout,
		"tcpfin_timeout", (int)pgt_ipvs_cfg.tcpfin_timeout,
		"udp_timeout", (int)pgt_ipvs_cfg.udp_timeout,
		"mh_table_size", (int)pgt_ipvs_cfg.mh_table_size,
		"reject_tcp_reset", pgt_ipvs_cfg.reject_tcp_reset);
	return 0;
}

PGT_RPC_METHOD_NOARGS(ipvs_config_get_method, "ipvs_config_get",
	"The IPVS tunables", rpc_config_get);

/* The configuration: tunables, then the services as ipvsadm -S says. */
static void
ipvs_save(json_t *calls)
{
	struct cmd c = { .op = OP_SAVE };
	char err[ERR_MAX], *text = NULL;
	size_t len = 0;
	FILE *f;

	if (pgt_ipvs_cfg.tcp_timeout != 900 ||
			pgt_ipvs_cfg.tcpfin_timeout != 120 ||
			pgt_ipvs_cfg.udp_timeout != 300 ||
			pgt_ipvs_cfg.mh_table_size != 4093 ||
			pgt_ipvs_cfg.reject_tcp_reset)
		pgt_rpc_save_call(calls, "ipvs_config_set", json_pack(
			"{s:i,s:i,s:i,s:i,s:b}",
			"tcp_timeout", (int)pgt_ipvs_cfg.tcp_timeout,
			"tcpfin_timeout", (int)pgt_ipvs_cfg.tcpfin_timeout,
			"udp_timeout", (int)pgt_ipvs_cfg.udp_timeout,
			"mh_table_size", (int)pgt_ipvs_cfg.mh_table_size,
			"reject_tcp_reset", pgt_ipvs_cfg.reject_tcp_reset));
	if (pgt_ipvs_model() == NULL || pgt_ipvs_model()->nb == 0)
		return;
	f = open_memstream(&text, &len);
	if (f == NULL)
		return;
	list(f, &c, true, err);
	fclose(f);
	pgt_rpc_save_call(calls, "ipvsadm_restore",
		json_pack("{s:s}", "command", text));
	free(text);
}

/*
 * Reload. The services of the running state and of the file, each read
 * into a model of its own and printed as ipvsadm -S prints, so that two
 * spellings of one service compare equal:
 * {"-t VIP:PORT": {"service": LINE, "laddrs": {LINE: true},
 *                  "dests": {"-r RIP:PORT": LINE}}}.
 */
static int
services_model(json_t *calls, json_t *out, struct pgt_rpc_err *e)
{
	struct ipvs_model *m = calloc(1, sizeof(*m));
	char err[ERR_MAX] = "", key[64], *text = NULL, *line, *nl, *sp;
	struct ipvs_msvc **order;
	json_t *call, *svc = NULL;
	const char *cmd;
	size_t i, len = 0;
	int rc = 0, lineno;
	FILE *f;

	if (m == NULL)
		return -ENOMEM;
	json_array_foreach(calls, i, call) {
		if (strcmp(json_string_value(json_object_get(call, "method")),
				"ipvsadm_restore") != 0)
			continue;
		cmd = json_string_value(json_object_get(json_object_get(call,
			"params"), "command"));
		if (cmd == NULL)
			rc = pgt_rpc_errorf(e, -EINVAL,
				"ipvsadm_restore without 'command'");
		else if (restore_lines(cmd, &m, &lineno, err) != 0)
			rc = pgt_rpc_errorf(e, -EINVAL,
				"ipvsadm_restore line %d: %s", lineno, err);
		if (rc != 0)
			goto out;
	}
	order = malloc((m->nb + 1) * sizeof(*order));
	f = order != NULL ? open_memstream(&text, &len) : NULL;
	if (f == NULL) {
		free(order);
		rc = -ENOMEM;
		goto out;
	}
	if (m->nb > 0)
		memcpy(order, m->svc, m->nb * sizeof(*order));
	qsort(order, m->nb, sizeof(*order), cmp_svc);
	for (i = 0; i < m->nb; i++)
		print_service(f, order[i], 0, true);
	fclose(f);
	free(order);
	/* -A SVC ..., --add-laddr -z A SVC, -a SVC -r R ...: SVC is 2 words. */
	for (line = text; line != NULL && *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		*nl++ = '\0';
		if (strncmp(line, "-A ", 3) == 0) {
			sp = strchr(line + 3, ' ');
			sp = sp != NULL ? strchr(sp + 1, ' ') : NULL;
			svc = json_pack("{s:s, s:o, s:o}", "service", line,
				"laddrs", json_object(), "dests", json_object());
			snprintf(key, sizeof(key), "%.*s", sp != NULL ?
				(int)(sp - line - 3) : (int)strlen(line + 3),
				line + 3);
			json_object_set_new(out, key, svc);
		} else if (strncmp(line, "--add-laddr ", 12) == 0) {
			json_object_set_new(json_object_get(svc, "laddrs"),
				line, json_true());
		} else if (strncmp(line, "-a ", 3) == 0) {
			sp = strstr(line, " -r ");
			snprintf(key, sizeof(key), "%.*s", sp != NULL ?
				(int)strcspn(sp + 4, " ") + 3 : 0,
				sp != NULL ? sp + 1 : "");
			json_object_set_new(json_object_get(svc, "dests"), key,
				json_string(line));
		}
	}
out:
	free(text);
	pgt_ipvs_model_free(m);
	return rc;
}

/* The lines of @p svc (a services_model() entry) that make it. */
static void
service_fill(FILE *f, json_t *svc)
{
	const char *k;
	json_t *v;

	fprintf(f, "%s\n", json_string_value(json_object_get(svc, "service")));
	json_object_foreach(json_object_get(svc, "laddrs"), k, v)
		fprintf(f, "%s\n", k);
	json_object_foreach(json_object_get(svc, "dests"), k, v)
		fprintf(f, "%s\n", json_string_value(v));
}

/* The lines taking service @p name from @p from to @p to. */
static void
service_edit(FILE *f, const char *name, json_t *from, json_t *to)
{
	json_t *fd = json_object_get(from, "dests"),
		*td = json_object_get(to, "dests"), *v;
	const char *k;

	json_object_foreach(json_object_get(from, "laddrs"), k, v)
		if (json_object_get(json_object_get(to, "laddrs"), k) == NULL)
			fprintf(f, "--del-laddr%s\n", k + strlen("--add-laddr"));
	json_object_foreach(json_object_get(to, "laddrs"), k, v)
		if (json_object_get(json_object_get(from, "laddrs"), k) == NULL)
			fprintf(f, "%s\n", k);
	/* A server whose options change is replaced in the same step: its
	 * connections go on, its counters restart. */
	json_object_foreach(fd, k, v)
		if (!json_equal(v, json_object_get(td, k)))
			fprintf(f, "-d %s %s\n", name, k);
	json_object_foreach(td, k, v)
		if (!json_equal(v, json_object_get(fd, k)))
			fprintf(f, "%s\n", json_string_value(v));
}

static int
ipvs_plan(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	json_t *now = json_object(), *next = json_object(), *v, *old;
	const char *name;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	pgt_rpc_plan_setting("ipvs_config_set", json_pack(
		"{s:i, s:i, s:i, s:i, s:b}", "tcp_timeout", 900,
		"tcpfin_timeout", 120, "udp_timeout", 300, "mh_table_size",
		4093, "reject_tcp_reset", false), running, wanted, phase, plan);
	rc = services_model(running, now, err);
	if (rc == 0)
		rc = services_model(wanted, next, err);
	f = rc == 0 ? open_memstream(&text, &len) : NULL;
	if (rc == 0 && f == NULL)
		rc = -ENOMEM;
	if (rc != 0)
		goto out;
	if (phase == PGT_RPC_PHASE_ADD) {
		json_object_foreach(next, name, v) {
			old = json_object_get(now, name);
			if (old == NULL) {
				service_fill(f, v);
			} else if (!json_equal(json_object_get(old, "service"),
					json_object_get(v, "service"))) {
				/* New options: the service is replaced in
				 * one step, its connections go on. */
				fprintf(f, "-D %s\n", name);
				service_fill(f, v);
			} else {
				service_edit(f, name, old, v);
			}
		}
	} else {
		json_object_foreach(now, name, v)
			if (json_object_get(next, name) == NULL)
				fprintf(f, "-D %s\n", name);
	}
	fclose(f);
	/* One ipvsadm_restore: one model published, all or nothing. */
	if (len > 0)
		pgt_rpc_save_call(plan, "ipvsadm_restore", json_pack("{s:s}",
			"command", text));
	free(text);
out:
	json_decref(now);
	json_decref(next);
	return rc;
}

static const char *const ipvs_methods[] = { "ipvs_config_set",
	"ipvsadm_restore", NULL };
static struct pgt_rpc_saver ipvs_saver = { .order = 70, .save = ipvs_save,
	.methods = ipvs_methods, .plan = ipvs_plan };
PGT_RPC_REGISTER_SAVER(ipvs_saver);
