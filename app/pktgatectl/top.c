/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktgatectl top: rates per port, worker and virtual service, refreshed in
 * place. Each frame is the difference of two readings of the counters the
 * shell shows (port_stats_get, system_info, ipvs_get) over the interval
 * actually elapsed, so a slow daemon answer does not inflate the rates.
 * On a terminal the screen is redrawn; otherwise frames follow each other.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "pktgatectl.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* (new - old) / dt of the integer at @p key in two objects. */
static double
rate(json_t *cur, json_t *prev, const char *key, double dt)
{
	if (prev == NULL || dt <= 0)
		return 0;
	return (double)(num(cur, key) - num(prev, key)) / dt;
}

/* The element of array @p a whose @p key equals that of @p like. */
static json_t *
find_like(json_t *a, const char *key, json_t *like)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
		if (json_equal(json_object_get(e, key),
				json_object_get(like, key)))
			return e;
	return NULL;
}

/* The reason with the most drops in the interval, or "-". */
static const char *
top_reason(json_t *cur, json_t *prev)
{
	json_t *cd = json_object_get(cur, "drops"), *pd, *v;
	const char *key, *best = "-";
	long long most = 0, d;

	pd = prev != NULL ? json_object_get(prev, "drops") : NULL;
	json_object_foreach(cd, key, v) {
		d = json_integer_value(v) - (pd != NULL ?
			json_integer_value(json_object_get(pd, key)) : 0);
		if (d > most) {
			most = d;
			best = key;
		}
	}
	return best;
}

static void
show_ports(json_t *cur, json_t *prev, double dt)
{
	json_t *p, *o;
	size_t i;

	printf("%-12s %12s %12s %10s %10s %10s  %s\n", "PORT", "RX pkt/s",
		"TX pkt/s", "RX Mbit/s", "TX Mbit/s", "drop/s", "top drop");
	json_array_foreach(cur, i, p) {
		o = prev != NULL ? find_like(prev, "name", p) : NULL;
		printf("%-12s %12.0f %12.0f %10.1f %10.1f %10.0f  %s\n",
			str(p, "name"), rate(p, o, "rx_packets", dt),
			rate(p, o, "tx_packets", dt),
			rate(p, o, "rx_bytes", dt) * 8 / 1e6,
			rate(p, o, "tx_bytes", dt) * 8 / 1e6,
			rate(p, o, "drops_total", dt),
			o != NULL ? top_reason(p, o) : "-");
	}
}

static void
show_workers(json_t *cur, json_t *prev, double dt)
{
	json_t *w, *o;
	double loops;
	size_t i;

	printf("\n%-12s %12s %8s\n", "WORKER", "loops/s", "busy %");
	json_array_foreach(json_object_get(cur, "workers"), i, w) {
		o = prev != NULL ? json_array_get(json_object_get(prev,
			"workers"), i) : NULL;
		loops = rate(w, o, "loops", dt);
		printf("%-12zu %12.0f %8.1f\n", i, loops, loops > 0 ?
			100.0 * rate(w, o, "busy_loops", dt) / loops : 0.0);
	}
}

static void
service_name(json_t *s, char *buf, size_t len)
{
	if (num(s, "fwmark") != 0)
		snprintf(buf, len, "FWM %lld", num(s, "fwmark"));
	else
		snprintf(buf, len, "%s %s:%lld", strcmp(str(s, "protocol"),
			"udp") == 0 ? "UDP" : "TCP", str(s, "address"),
			num(s, "port"));
}

static void
show_services(json_t *cur, json_t *prev, double dt)
{
	json_t *services = json_object_get(cur, "services"), *s, *o;
	char name[64];
	size_t i;

	if (json_array_size(services) == 0)
		return;
	printf("\n%-24s %10s %12s %12s %8s %8s\n", "SERVICE", "conn/s",
		"in pkt/s", "out pkt/s", "active", "inact");
	json_array_foreach(services, i, s) {
		o = prev != NULL ? find_like(json_object_get(prev, "services"),
			"address", s) : NULL;
		if (o != NULL && !json_equal(json_object_get(o, "port"),
				json_object_get(s, "port")))
			o = NULL;
		service_name(s, name, sizeof(name));
		printf("%-24s %10.0f %12.0f %12.0f %8lld %8lld\n", name,
			rate(json_object_get(s, "stats"), o != NULL ?
				json_object_get(o, "stats") : NULL, "conns", dt),
			rate(json_object_get(s, "stats"), o != NULL ?
				json_object_get(o, "stats") : NULL,
				"in_packets", dt),
			rate(json_object_get(s, "stats"), o != NULL ?
				json_object_get(o, "stats") : NULL,
				"out_packets", dt),
			num(json_object_get(s, "stats"), "active_conns"),
			num(json_object_get(s, "stats"), "inactive_conns"));
	}
}

void
ctl_top(int argc, char **argv)
{
	json_t *ports, *sys, *ipvs, *pp = NULL, *ps = NULL, *pi = NULL;
	bool tty = isatty(STDOUT_FILENO);
	long delay = 1, frames = 0, n;
	double t, pt = 0;
	int a;

	for (a = 0; a < argc; a++) {
		if (a + 1 >= argc)
			ctl_die("usage: top [-d SECONDS] [-n ITERATIONS]");
		if (strcmp(argv[a], "-d") == 0)
			delay = ctl_parse_number("top", "-d", argv[++a], 1, 3600);
		else if (strcmp(argv[a], "-n") == 0)
			frames = ctl_parse_number("top", "-n", argv[++a], 1,
				LONG_MAX);
		else
			ctl_die("usage: top [-d SECONDS] [-n ITERATIONS]");
	}
	ctl_catch_interrupts(true);
	/* The first reading is only a base: rates need two. */
	for (n = -1; !ctl_interrupted && (frames == 0 || n < frames); n++) {
		t = now_s();
		ports = ctl_call("port_stats_get", NULL);
		sys = ctl_call("system_info", NULL);
		ipvs = ctl_call("ipvs_get", NULL);
		if (n >= 0) {
			if (tty)
				fputs("\033[H\033[J", stdout);
			printf("pktgate %s  up %llds  %lld workers  %lld of %lld buffers free  every %lds\n\n",
				str(sys, "version"), num(sys, "uptime_s"),
				num(sys, "nb_workers"),
				num(json_object_get(sys, "mbufs"), "available"),
				num(json_object_get(sys, "mbufs"), "size"),
				delay);
			show_ports(ports, pp, t - pt);
			show_workers(sys, ps, t - pt);
			show_services(ipvs, pi, t - pt);
			if (!tty)
				putchar('\n');
			fflush(stdout);
		}
		json_decref(pp);
		json_decref(ps);
		json_decref(pi);
		pp = ports;
		ps = sys;
		pi = ipvs;
		pt = t;
		if (frames == 0 || n + 1 < frames)
			sleep((unsigned int)delay);
	}
	json_decref(pp);
	json_decref(ps);
	json_decref(pi);
	ctl_catch_interrupts(false);
}
