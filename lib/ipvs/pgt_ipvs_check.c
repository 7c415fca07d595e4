/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Health checks of real servers (ipvsadm --check, docs/ipvs.md).
 *
 * The management thread runs them itself, between RPC requests: every
 * check is a non-blocking socket opened on the host path of the port
 * pktgate routes the server through (pgt_host_socket()), so the probe
 * leaves like any host traffic (OUTPUT, POSTROUTING) and never costs a
 * worker anything; one poll(2) with no timeout per management loop sees
 * which connects finished and which answers came.
 *
 * A check's verdict is the server's health: `fall` failures in a row take
 * it down, `rise` successes in a row bring it back. Health is kept here,
 * by (service, server), not in the model: the model is copied on every
 * ipvsadm edit, and an edit must not forget that a server is down. The
 * model only carries the verdict (ipvs_mdest.d.down), which the snapshot
 * turns into weight 0 or absence; a change of verdict is published like
 * any edit. Servers start up: a restart of pktgate must not refuse every
 * connection until the first checks come back.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "pgt_host.h"
#include "pgt_inet.h"
#include "pgt_ipvs_priv.h"
#include "pgt_log.h"
#include "pgt_port.h"
#include "pgt_route.h"

PGT_LOG_REGISTER(ipvs_check);

/* Results kept per server for ipvs_check_get. */
#define CHECK_HISTORY		16
/* Checks in flight at once: each holds a socket. Past it, due checks
 * wait for the next loop (counted). */
#define CHECK_MAX_INFLIGHT	256
/* Enough of an HTTP answer for its status line. */
#define CHECK_REPLY_MAX		64
#define CHECK_WHAT_MAX		64

enum check_phase { PHASE_IDLE, PHASE_CONNECTING, PHASE_WAIT_STATUS };

struct check_event {
	int64_t when_ms;	/* CLOCK_REALTIME */
	uint32_t took_ms;
	bool ok;
	bool changed;		/* this result changed the health */
	char what[CHECK_WHAT_MAX];
};

/* One checked server of one service. */
struct check_target {
	/* Key: the service, then the server. */
	uint32_t fwmark, vaddr, raddr;
	uint16_t vport, rport;
	uint8_t proto;
	struct ipvs_check cfg;	/* in force */
	bool down;
	bool late;		/* waited for a free socket */
	uint32_t ok_run, fail_run;
	uint64_t nb_ok, nb_fail;
	int64_t since_ms;	/* CLOCK_REALTIME of the last change */
	uint64_t next_ms;	/* CLOCK_MONOTONIC of the next start */
	int fd;			/* -1: idle */
	uint8_t phase;		/* enum check_phase */
	uint64_t start_ms, deadline_ms;
	uint16_t got;
	char reply[CHECK_REPLY_MAX];
	uint32_t nb_hist;	/* ever recorded; the ring keeps the last */
	struct check_event hist[CHECK_HISTORY];
};

/* Sorted by key; rebuilt when the model changes. */
static struct check_target *targets;
static uint32_t nb_targets;
static uint64_t seen_gen = UINT64_MAX;
static uint32_t nb_inflight;
static uint64_t nb_deferred;
/* The model may not say what the checks say: publish. */
static bool verdicts_changed;

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t
real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
pgt_ipvs_check_defaults(struct ipvs_check *c, uint8_t type)
{
	/* Down within 6 s, back within 4 s: "in seconds", yet one lost
	 * probe is no verdict. */
	*c = (struct ipvs_check){ .type = type, .action = IPVS_CHECK_QUIESCE,
		.rise = 2, .fall = 3, .status = 200, .interval_ms = 2000,
		.timeout_ms = 1000, .path = "/" };
}

const struct ipvs_check *
pgt_ipvs_check_of(const struct ipvs_msvc *s, const struct ipvs_mdest *d)
{
	const struct ipvs_check *c = d->check.type != IPVS_CHECK_INHERIT ?
		&d->check : &s->check;

	return c->type == IPVS_CHECK_TCP || c->type == IPVS_CHECK_HTTP ?
		c : NULL;
}

bool
pgt_ipvs_check_down(const struct ipvs_msvc *s, const struct ipvs_mdest *d,
	bool *removed)
{
	const struct ipvs_check *c = pgt_ipvs_check_of(s, d);

	/* A verdict outlives its check by one poll at most: ignore it. */
	if (c == NULL || !d->d.down)
		return false;
	*removed = c->action == IPVS_CHECK_REMOVE;
	return true;
}

static void
print_seconds(FILE *f, const char *opt, uint32_t ms)
{
	if (ms % 1000 == 0)
		fprintf(f, " %s %u", opt, ms / 1000);
	else if (ms % 100 == 0)
		fprintf(f, " %s %u.%u", opt, ms / 1000, ms % 1000 / 100);
	else if (ms % 10 == 0)
		fprintf(f, " %s %u.%02u", opt, ms / 1000, ms % 1000 / 10);
	else
		fprintf(f, " %s %u.%03u", opt, ms / 1000, ms % 1000);
}

void
pgt_ipvs_check_print(FILE *f, const struct ipvs_check *c)
{
	if (c->type == IPVS_CHECK_NONE) {
		fputs(" --check none", f);
		return;
	}
	fprintf(f, " --check %s", c->type == IPVS_CHECK_TCP ? "tcp" : "http");
	if (c->port != 0)
		fprintf(f, " --check-port %u", c->port);
	if (c->type == IPVS_CHECK_HTTP)
		fprintf(f, " --check-path %s --check-status %u", c->path,
			c->status);
	print_seconds(f, "--check-interval", c->interval_ms);
	print_seconds(f, "--check-timeout", c->timeout_ms);
	fprintf(f, " --check-rise %u --check-fall %u --check-action %s",
		c->rise, c->fall, c->action == IPVS_CHECK_REMOVE ? "remove" :
		"quiesce");
}

json_t *
pgt_ipvs_check_json(const struct ipvs_check *c)
{
	json_t *o;

	if (c->type == IPVS_CHECK_INHERIT)
		return json_null();
	if (c->type == IPVS_CHECK_NONE)
		return json_pack("{s:s}", "type", "none");
	o = json_pack("{s:s,s:i,s:f,s:f,s:i,s:i,s:s}",
		"type", c->type == IPVS_CHECK_TCP ? "tcp" : "http",
		"port", c->port,
		"interval", c->interval_ms / 1000.0,
		"timeout", c->timeout_ms / 1000.0,
		"rise", c->rise, "fall", c->fall,
		"action", c->action == IPVS_CHECK_REMOVE ? "remove" :
			"quiesce");
	if (c->type == IPVS_CHECK_HTTP) {
		json_object_set_new(o, "path", json_string(c->path));
		json_object_set_new(o, "status", json_integer(c->status));
	}
	return o;
}

/* Targets, by key */

static void
key_of(struct check_target *t, const struct ipvs_msvc *s,
	const struct ipvs_mdest *d)
{
	t->fwmark = s->s.fwmark;
	t->vaddr = s->s.addr;
	t->vport = s->s.port;
	t->proto = s->s.proto;
	t->raddr = d->d.addr;
	t->rport = d->d.port;
}

static int
cmp_key(const void *a, const void *b)
{
	const struct check_target *x = a, *y = b;

	if (x->fwmark != y->fwmark)
		return x->fwmark < y->fwmark ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->vaddr != y->vaddr)
		return x->vaddr < y->vaddr ? -1 : 1;
	if (x->vport != y->vport)
		return x->vport < y->vport ? -1 : 1;
	if (x->raddr != y->raddr)
		return x->raddr < y->raddr ? -1 : 1;
	if (x->rport != y->rport)
		return x->rport < y->rport ? -1 : 1;
	return 0;
}

static struct check_target *
find_in(struct check_target *arr, uint32_t n, const struct ipvs_msvc *s,
	const struct ipvs_mdest *d)
{
	struct check_target k;

	if (n == 0)
		return NULL;
	key_of(&k, s, d);
	return bsearch(&k, arr, n, sizeof(*arr), cmp_key);
}

static struct check_target *
find(const struct ipvs_msvc *s, const struct ipvs_mdest *d)
{
	return find_in(targets, nb_targets, s, d);
}

static void
close_check(struct check_target *t)
{
	if (t->fd < 0)
		return;
	close(t->fd);
	t->fd = -1;
	t->phase = PHASE_IDLE;
	nb_inflight--;
}

/* "TCP 10.0.0.1:80", "FWM 7": as the log names a service. */
static void
service_name(uint32_t fwmark, uint8_t proto, uint32_t addr, uint16_t port,
	char *buf, size_t n)
{
	char a[PGT_INET_ADDRSTRLEN];

	if (fwmark != 0)
		snprintf(buf, n, "FWM %u", fwmark);
	else
		snprintf(buf, n, "%s %s:%u", proto == IPPROTO_TCP ? "TCP" :
			"UDP", pgt_inet_format_addr(addr, a, sizeof(a)), port);
}

/*
 * Follow a new model: a server keeps its health and its check in flight
 * while it stays (whatever else was edited); a changed check restarts its
 * count of results in a row and runs at once; a server that left takes
 * its state along.
 */
static void
reconcile(const struct ipvs_model *m)
{
	struct check_target *next = NULL, *old, *t;
	const struct ipvs_check *c;
	uint64_t now = mono_ms();
	uint32_t i, j, n = 0, cap = 0;

	for (i = 0; i < m->nb; i++)
		for (j = 0; j < m->svc[i]->nb_dests; j++)
			cap += pgt_ipvs_check_of(m->svc[i],
				&m->svc[i]->dests[j]) != NULL;
	if (cap > 0) {
		next = calloc(cap, sizeof(*next));
		if (next == NULL) {
			/* Keep checking the old set; try again next loop. */
			PGT_LOG(ERR, ipvs_check,
				"out of memory for %u health checks", cap);
			return;
		}
	}
	for (i = 0; i < m->nb; i++) {
		for (j = 0; j < m->svc[i]->nb_dests; j++) {
			const struct ipvs_msvc *s = m->svc[i];
			const struct ipvs_mdest *d = &s->dests[j];

			c = pgt_ipvs_check_of(s, d);
			if (c == NULL)
				continue;
			t = &next[n++];
			old = find(s, d);
			if (old != NULL) {
				*t = *old;
				old->fd = -1;	/* moved */
				if (memcmp(&t->cfg, c, sizeof(*c)) != 0) {
					t->cfg = *c;
					t->ok_run = t->fail_run = 0;
					t->next_ms = now;
				}
				continue;
			}
			key_of(t, s, d);
			t->cfg = *c;
			t->fd = -1;
			t->since_ms = real_ms();
			t->next_ms = now;
		}
	}
	for (i = 0; i < nb_targets; i++)
		close_check(&targets[i]);
	free(targets);
	if (n > 0)
		qsort(next, n, sizeof(*next), cmp_key);
	targets = next;
	nb_targets = n;
}

uint32_t
pgt_ipvs_check_servers_up(const struct ipvs_msvc *s)
{
	uint32_t j, up = 0;
	bool removed;

	for (j = 0; j < s->nb_dests; j++)
		up += !pgt_ipvs_check_down(s, &s->dests[j], &removed);
	return up;
}

/*
 * Make the model say what the checks say, in one publication. On failure
 * (memory, slots) the verdicts wait for the next loop: the data path keeps
 * the last published state meanwhile.
 */
static void
sync_model(void)
{
	struct ipvs_model *m = pgt_ipvs_model(), *c;
	const struct check_target *t;
	uint32_t i, j, before;
	bool want, need = false;
	char name[64];
	int rc;

	for (i = 0; i < m->nb && !need; i++) {
		for (j = 0; j < m->svc[i]->nb_dests; j++) {
			t = find(m->svc[i], &m->svc[i]->dests[j]);
			want = t != NULL && t->down;
			if (m->svc[i]->dests[j].d.down != want) {
				need = true;
				break;
			}
		}
	}
	if (!need) {
		verdicts_changed = false;
		return;
	}
	c = pgt_ipvs_model_clone(m);
	if (c == NULL)
		return;
	for (i = 0; i < c->nb; i++) {
		struct ipvs_msvc *s = c->svc[i];

		before = pgt_ipvs_check_servers_up(s);
		for (j = 0; j < s->nb_dests; j++) {
			t = find(s, &s->dests[j]);
			s->dests[j].d.down = t != NULL && t->down;
		}
		if ((before == 0) == (pgt_ipvs_check_servers_up(s) == 0) ||
				s->nb_dests == 0)
			continue;
		service_name(s->s.fwmark, s->s.proto, s->s.addr, s->s.port,
			name, sizeof(name));
		if (before != 0)
			PGT_LOG(WARNING, ipvs_check,
				"%s: every real server is down: new connections are refused",
				name);
		else
			PGT_LOG(NOTICE, ipvs_check,
				"%s: a real server is up again", name);
	}
	rc = pgt_ipvs_publish(c);
	if (rc != 0) {
		pgt_ipvs_model_free(c);
		PGT_LOG(ERR, ipvs_check, "cannot publish health changes: %s",
			strerror(-rc));
		return;
	}
	/* Our own publication: the targets are those of the model. */
	seen_gen = pgt_ipvs_model_gen;
	verdicts_changed = false;
}

/* Running checks */

static void
finish(struct check_target *t, bool ok, uint64_t now, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record a result, and the change of health it makes. */
static void
finish(struct check_target *t, bool ok, uint64_t now, const char *fmt, ...)
{
	struct check_event *e = &t->hist[t->nb_hist++ % CHECK_HISTORY];
	char name[64], a[PGT_INET_ADDRSTRLEN];
	bool changed = false;
	va_list ap;

	close_check(t);
	memset(e, 0, sizeof(*e));
	va_start(ap, fmt);
	vsnprintf(e->what, sizeof(e->what), fmt, ap);
	va_end(ap);
	e->when_ms = real_ms();
	e->took_ms = (uint32_t)(now - t->start_ms);
	e->ok = ok;
	if (ok) {
		t->nb_ok++;
		t->fail_run = 0;
		t->ok_run++;
		changed = t->down && t->ok_run >= t->cfg.rise;
	} else {
		t->nb_fail++;
		t->ok_run = 0;
		t->fail_run++;
		changed = !t->down && t->fail_run >= t->cfg.fall;
	}
	if (!changed)
		return;
	e->changed = true;
	verdicts_changed = true;
	t->down = !t->down;
	t->since_ms = e->when_ms;
	service_name(t->fwmark, t->proto, t->vaddr, t->vport, name,
		sizeof(name));
	pgt_inet_format_addr(t->raddr, a, sizeof(a));
	if (t->down)
		PGT_LOG(WARNING, ipvs_check,
			"%s: real server %s:%u is down after %u failed checks (%s): %s",
			name, a, t->rport, t->fail_run, e->what,
			t->cfg.action == IPVS_CHECK_REMOVE ? "removed" :
			"weight 0");
	else
		PGT_LOG(NOTICE, ipvs_check,
			"%s: real server %s:%u is up after %u good checks (%s)",
			name, a, t->rport, t->ok_run, e->what);
}

/* The port pktgate routes @p addr through, or a reason it has none. */
static int
egress_port(uint32_t addr, uint16_t *port)
{
	const struct pgt_nexthop *nh;
	int idx = pgt_route_lookup(addr);

	if (idx < 0)
		return -ENETUNREACH;
	nh = &pgt_route_nexthops[idx];
	if (nh->type != PGT_NH_UNICAST)
		return -EHOSTUNREACH;
	*port = nh->port;
	return 0;
}

static void
connected(struct check_target *t, uint64_t now)
{
	char req[IPVS_CHECK_PATH_MAX + 128], a[PGT_INET_ADDRSTRLEN];
	ssize_t sent;
	int len;

	if (t->cfg.type == IPVS_CHECK_TCP) {
		finish(t, true, now, "connected");
		return;
	}
	/* HTTP/1.0 and "close": the server ends the exchange. */
	len = snprintf(req, sizeof(req),
		"GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: pktgate-check\r\n"
		"Connection: close\r\n\r\n", t->cfg.path,
		pgt_inet_format_addr(t->raddr, a, sizeof(a)));
	sent = send(t->fd, req, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent != len) {
		finish(t, false, now, "cannot send the request: %s",
			sent < 0 ? strerror(errno) : "short write");
		return;
	}
	t->phase = PHASE_WAIT_STATUS;
}

static void
start(struct check_target *t, uint64_t now)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char a[PGT_INET_ADDRSTRLEN];
	uint16_t port;
	int fd, rc;

	t->start_ms = now;
	t->deadline_ms = now + t->cfg.timeout_ms;
	t->next_ms = now + t->cfg.interval_ms;
	t->got = 0;
	rc = egress_port(t->raddr, &port);
	if (rc != 0) {
		finish(t, false, now, "%s: no route through a port",
			pgt_inet_format_addr(t->raddr, a, sizeof(a)));
		return;
	}
	fd = pgt_host_socket(port, SOCK_STREAM);
	if (fd == -ENODEV) {
		finish(t, false, now,
			"no host interface on %s to check through",
			v->port[port].name);
		return;
	}
	if (fd < 0) {
		finish(t, false, now, "socket: %s", strerror(-fd));
		return;
	}
	t->fd = fd;
	nb_inflight++;
	sa.sin_addr.s_addr = rte_cpu_to_be_32(t->raddr);
	sa.sin_port = rte_cpu_to_be_16(t->cfg.port != 0 ? t->cfg.port :
		t->rport);
	t->phase = PHASE_CONNECTING;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		connected(t, now);
	else if (errno != EINPROGRESS)
		finish(t, false, now, "%s", strerror(errno));
}

/* "HTTP/1.x NNN ..." once the status is in. @return false: not yet. */
static bool
http_status(struct check_target *t, uint64_t now)
{
	unsigned int status;
	char minor;

	t->reply[t->got] = '\0';
	if (t->got < 12 && strchr(t->reply, '\n') == NULL)
		return false;
	if (sscanf(t->reply, "HTTP/1.%c %3u", &minor, &status) != 2 ||
			status < 100 || status > 599) {
		finish(t, false, now, "not an HTTP response");
		return true;
	}
	if (status == t->cfg.status)
		finish(t, true, now, "HTTP %u", status);
	else
		finish(t, false, now, "HTTP %u (expected %u)", status,
			t->cfg.status);
	return true;
}

static void
progress(struct check_target *t, short revents, uint64_t now)
{
	socklen_t len = sizeof(int);
	ssize_t n;
	int err = 0;

	if (t->phase == PHASE_CONNECTING) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0)
			finish(t, false, now, "%s", strerror(err));
		else
			connected(t, now);
		return;
	}
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return;
	n = recv(t->fd, t->reply + t->got, sizeof(t->reply) - 1 - t->got,
		MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		finish(t, false, now, "%s", strerror(errno));
		return;
	}
	t->got += (uint16_t)n;
	if (http_status(t, now))
		return;
	if (n == 0 || t->got == sizeof(t->reply) - 1)
		finish(t, false, now, n == 0 ?
			"closed before an HTTP status" :
			"not an HTTP response");
}

void
pgt_ipvs_check_poll(void)
{
	static struct pollfd pfd[CHECK_MAX_INFLIGHT];
	static uint32_t idx[CHECK_MAX_INFLIGHT];
	uint32_t i, n = 0;
	struct check_target *t;
	uint64_t now;

	if (seen_gen != pgt_ipvs_model_gen) {
		seen_gen = pgt_ipvs_model_gen;
		reconcile(pgt_ipvs_model());
		verdicts_changed = true;
	}
	if (nb_targets == 0)
		return;
	for (i = 0; i < nb_targets; i++) {
		if (targets[i].fd < 0)
			continue;
		pfd[n] = (struct pollfd){ .fd = targets[i].fd,
			.events = targets[i].phase == PHASE_CONNECTING ?
				POLLOUT : POLLIN };
		idx[n++] = i;
	}
	if (n > 0 && poll(pfd, n, 0) < 0)
		n = 0;
	now = mono_ms();
	for (i = 0; i < n; i++) {
		t = &targets[idx[i]];
		if (pfd[i].revents != 0)
			progress(t, pfd[i].revents, now);
	}
	for (i = 0; i < nb_targets; i++) {
		t = &targets[i];
		if (t->fd >= 0 && now >= t->deadline_ms)
			finish(t, false, now, "no %s within %u ms",
				t->phase == PHASE_CONNECTING ? "connection" :
				"HTTP status", t->cfg.timeout_ms);
		if (t->fd >= 0 || now < t->next_ms)
			continue;
		if (nb_inflight >= CHECK_MAX_INFLIGHT) {
			if (!t->late)
				nb_deferred++;
			t->late = true;
			continue;
		}
		t->late = false;
		start(t, now);
	}
	if (verdicts_changed)
		sync_model();
}

void
pgt_ipvs_check_fini(void)
{
	uint32_t i;

	for (i = 0; i < nb_targets; i++)
		close_check(&targets[i]);
	free(targets);
	targets = NULL;
	nb_targets = 0;
	seen_gen = UINT64_MAX;
}

static const struct check_event *
last_event(const struct check_target *t)
{
	return t->nb_hist == 0 ? NULL :
		&t->hist[(t->nb_hist - 1) % CHECK_HISTORY];
}

const char *
pgt_ipvs_check_health(const struct ipvs_msvc *s, const struct ipvs_mdest *d,
	const char **last, int64_t *since)
{
	const struct check_target *t = find(s, d);
	const struct check_event *e;

	*last = "";
	*since = 0;
	if (t == NULL || pgt_ipvs_check_of(s, d) == NULL)
		return "unchecked";
	e = last_event(t);
	if (e != NULL)
		*last = e->what;
	*since = (real_ms() - t->since_ms) / 1000;
	return t->down ? "down" : "up";
}

/* RPC: ipvs_check_get */

static json_t *
target_json(const struct ipvs_msvc *s, const struct ipvs_mdest *d)
{
	const struct check_target *t = find(s, d);
	const struct check_event *e;
	json_t *o, *hist;
	uint32_t i, first;
	char a[PGT_INET_ADDRSTRLEN];

	o = json_pack("{s:s,s:i}", "address",
		pgt_inet_format_addr(d->d.addr, a, sizeof(a)), "port",
		d->d.port);
	json_object_set_new(o, "check", pgt_ipvs_check_json(&d->check));
	if (t == NULL || pgt_ipvs_check_of(s, d) == NULL) {
		json_object_set_new(o, "health", json_string("unchecked"));
		return o;
	}
	json_object_set_new(o, "health", json_string(t->down ? "down" : "up"));
	json_object_set_new(o, "since", json_real(t->since_ms / 1000.0));
	json_object_set_new(o, "checks_ok", json_integer((json_int_t)t->nb_ok));
	json_object_set_new(o, "checks_failed",
		json_integer((json_int_t)t->nb_fail));
	json_object_set_new(o, "ok_in_a_row", json_integer(t->ok_run));
	json_object_set_new(o, "failed_in_a_row", json_integer(t->fail_run));
	json_object_set_new(o, "in_flight", json_boolean(t->fd >= 0));
	hist = json_array();
	first = t->nb_hist > CHECK_HISTORY ? t->nb_hist - CHECK_HISTORY : 0;
	for (i = first; i < t->nb_hist; i++) {
		e = &t->hist[i % CHECK_HISTORY];
		json_array_append_new(hist, json_pack(
			"{s:f,s:b,s:s,s:i,s:b}", "time", e->when_ms / 1000.0,
			"ok", e->ok, "result", e->what, "ms", (int)e->took_ms,
			"changed", e->changed));
	}
	json_object_set_new(o, "history", hist);
	return o;
}

static int
rpc_check_get(void *args, json_t **result, struct pgt_rpc_err *e)
{
	const struct ipvs_model *m = pgt_ipvs_model();
	json_t *svcs = json_array(), *o, *dests;
	uint32_t i, j, up;
	char a[PGT_INET_ADDRSTRLEN];

	RTE_SET_USED(args);
	RTE_SET_USED(e);
	for (i = 0; m != NULL && i < m->nb; i++) {
		const struct ipvs_msvc *s = m->svc[i];

		o = s->s.fwmark != 0 ?
			json_pack("{s:I}", "fwmark", (json_int_t)s->s.fwmark) :
			json_pack("{s:s,s:s,s:i}", "protocol",
				s->s.proto == IPPROTO_TCP ? "tcp" : "udp",
				"address", pgt_inet_format_addr(s->s.addr, a,
					sizeof(a)), "port", s->s.port);
		json_object_set_new(o, "check", pgt_ipvs_check_json(&s->check));
		dests = json_array();
		for (j = 0; j < s->nb_dests; j++)
			json_array_append_new(dests, target_json(s,
				&s->dests[j]));
		up = pgt_ipvs_check_servers_up(s);
		json_object_set_new(o, "servers", json_integer(s->nb_dests));
		json_object_set_new(o, "servers_up", json_integer(up));
		/* "down": it refuses every new connection. */
		json_object_set_new(o, "state", json_string(up == 0 ? "down" :
			up < s->nb_dests ? "degraded" : "up"));
		json_object_set_new(o, "real_servers", dests);
		json_array_append_new(svcs, o);
	}
	*result = json_pack("{s:o,s:i,s:I}", "services", svcs,
		"checks_in_flight", (int)nb_inflight, "checks_deferred",
		(json_int_t)nb_deferred);
	return 0;
}

PGT_RPC_METHOD_NOARGS(check_get_method, "ipvs_check_get",
	"Health of every virtual service's real servers: each check, its verdict, since when, counts and the last results (configure with ipvsadm --check)",
	rpc_check_get);
