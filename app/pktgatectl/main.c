/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktgatectl: the admin shell. Turns iproute2-style commands into JSON-RPC
 * calls on the daemon's socket and prints the answers as iproute2 would
 * (or as JSON with -j). Errors print one line on stderr and exit 1.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>

#include "pgt_json.h"
#include "pktgatectl.h"

#define MAX_REPLY (64u << 20)

const char *ctl_sock_path = DEFAULT_SOCKET;
bool ctl_json_output;
static const char *prog = "pktgatectl";
/* The connection of the call in progress, closed if the call fails. */
static int conn_fd = -1;
/*
 * -s ADDR:PORT: the daemon's TCP listener (pktgate --rpc-tcp); each request
 * then carries the token, the first line of -T FILE.
 */
static bool use_tcp;
static struct sockaddr_in tcp_addr;
static char tcp_token[257];

/* Is @p spec "ADDR:PORT"? (A socket path has a '/' or no ':'.) */
static bool
parse_tcp(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	char addr[INET_ADDRSTRLEN];
	unsigned long port;
	char *end;

	if (colon == NULL || strchr(spec, '/') != NULL ||
			(size_t)(colon - spec) >= sizeof(addr))
		return false;
	memcpy(addr, spec, (size_t)(colon - spec));
	addr[colon - spec] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port == 0 || port > 65535 ||
			inet_pton(AF_INET, addr, &tcp_addr.sin_addr) != 1)
		return false;
	tcp_addr.sin_family = AF_INET;
	tcp_addr.sin_port = htons((uint16_t)port);
	return true;
}

static void
read_token(const char *path)
{
	FILE *f;

	if (path == NULL)
		ctl_die("%s is a TCP address: give the token file (-T FILE, or PKTGATE_RPC_TOKEN_FILE)",
			ctl_sock_path);
	f = fopen(path, "re");
	if (f == NULL)
		ctl_die("token file %s: %s", path, strerror(errno));
	if (fgets(tcp_token, sizeof(tcp_token), f) == NULL)
		tcp_token[0] = '\0';
	fclose(f);
	tcp_token[strcspn(tcp_token, "\r\n")] = '\0';
}

void
ctl_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* A command that failed while catching interrupts gives them back. */
	ctl_catch_interrupts(false);
	ctl_shell_abort();
	exit(1);
}

/* Fail the call in progress: its message in @p err, its connection closed. */
static json_t *
call_failed(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static json_t *
call_failed(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (conn_fd >= 0) {
		close(conn_fd);
		conn_fd = -1;
	}
	return NULL;
}

json_t *
ctl_try_call(const char *method, json_t *params, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pgt_json_scan scan;
	json_t *req, *resp, *rerr, *result;
	json_error_t jerr;
	size_t len = 0, cap = 65536;
	char *text, *buf, *grown;
	ssize_t n;
	int end = 0, rc;

	if (!use_tcp && strlen(ctl_sock_path) >= sizeof(sa.sun_path)) {
		json_decref(params);
		return call_failed(err, errlen, "socket path too long: %s",
			ctl_sock_path);
	}
	strcpy(sa.sun_path, ctl_sock_path);
	req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1,
		"method", method);
	if (params != NULL)
		json_object_set_new(req, "params", params);
	if (use_tcp)
		json_object_set_new(req, "token", json_string(tcp_token));
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL)
		return call_failed(err, errlen, "out of memory");
	conn_fd = socket(use_tcp ? AF_INET : AF_UNIX,
		SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn_fd < 0)
		rc = -1;
	else if (use_tcp)
		rc = connect(conn_fd, (struct sockaddr *)&tcp_addr,
			sizeof(tcp_addr));
	else
		rc = connect(conn_fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0) {
		free(text);
		return call_failed(err, errlen,
			"cannot connect to %s: %s (is pktgate running?)",
			ctl_sock_path, strerror(errno));
	}
	for (size_t off = 0, tl = strlen(text); off < tl; off += (size_t)n) {
		n = send(conn_fd, text + off, tl - off, MSG_NOSIGNAL);
		if (n < 0) {
			free(text);
			return call_failed(err, errlen, "sending to %s: %s",
				ctl_sock_path, strerror(errno));
		}
	}
	free(text);
	buf = malloc(cap);
	pgt_json_scan_reset(&scan);
	while (buf != NULL && end == 0) {
		if (len == cap) {
			if (cap >= MAX_REPLY) {
				free(buf);
				return call_failed(err, errlen,
					"reply larger than %u bytes", MAX_REPLY);
			}
			cap *= 2;
			grown = realloc(buf, cap);
			if (grown == NULL)
				break;
			buf = grown;
		}
		n = recv(conn_fd, buf + len, cap - len, 0);
		if (n <= 0) {
			free(buf);
			return call_failed(err, errlen,
				"connection closed before a complete reply");
		}
		len += (size_t)n;
		end = pgt_json_scan_feed(&scan, buf, len);
		if (end < 0) {
			free(buf);
			return call_failed(err, errlen, "malformed reply");
		}
	}
	if (buf == NULL || end == 0) {
		free(buf);
		return call_failed(err, errlen, "out of memory");
	}
	close(conn_fd);
	conn_fd = -1;
	resp = json_loadb(buf, (size_t)end, 0, &jerr);
	free(buf);
	if (resp == NULL)
		return call_failed(err, errlen, "malformed reply: %s",
			jerr.text);
	rerr = json_object_get(resp, "error");
	if (rerr != NULL) {
		call_failed(err, errlen, "%s", json_string_value(
			json_object_get(rerr, "message")) != NULL ?
			json_string_value(json_object_get(rerr, "message")) :
			"unknown error");
		json_decref(resp);
		return NULL;
	}
	result = json_incref(json_object_get(resp, "result"));
	json_decref(resp);
	/* A method's result is never null: true stands for "done". */
	return result != NULL ? result : json_true();
}

json_t *
ctl_call(const char *method, json_t *params)
{
	char err[512];
	json_t *r = ctl_try_call(method, params, err, sizeof(err));

	if (r == NULL)
		ctl_die("%s", err);
	return r;
}

volatile sig_atomic_t ctl_interrupted;
static struct sigaction old_int, old_term;
static bool catching;

static void
on_interrupt(int sig)
{
	(void)sig;
	ctl_interrupted = 1;
}

void
ctl_catch_interrupts(bool on)
{
	struct sigaction sa = { .sa_handler = on_interrupt };

	if (on == catching)
		return;
	catching = on;
	if (on) {
		ctl_interrupted = 0;
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
	} else {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
}

long
ctl_parse_number(const char *cmd, const char *opt, const char *s, long min,
	long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		ctl_die("%s: %s '%s': not a number in %ld..%ld", cmd, opt, s,
			min, max);
	return v;
}

void
ctl_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	puts(s);
	free(s);
}

static bool
is(const char *word, const char *full)
{
	/* iproute2 accepts any prefix of a keyword: "a" for "address". */
	return word != NULL && word[0] != '\0' &&
		strncmp(full, word, strlen(word)) == 0;
}

/* Results */

static void
show_links(json_t *ports, json_t *stats)
{
	json_t *p, *s, *d;
	size_t i;

	json_array_foreach(ports, i, p) {
		printf("%lld: %s: <%s%s> mtu %lld state %s driver %s rxq %lld txq %lld\n",
			num(p, "id"), str(p, "name"),
			json_is_true(json_object_get(p, "up")) ? "UP" : "DOWN",
			json_is_true(json_object_get(p, "link_up")) ?
				",LOWER_UP" : "",
			num(p, "mtu"),
			json_is_true(json_object_get(p, "up")) ? "UP" : "DOWN",
			str(p, "driver"), num(p, "rx_queues"),
			num(p, "tx_queues"));
		printf("    link/ether %s\n", str(p, "mac"));
		if (json_object_get(p, "host_iface") != NULL)
			printf("    host interface %s\n", str(p, "host_iface"));
		if (json_object_get(p, "host_of") != NULL)
			printf("    host interface of %s\n", str(p, "host_of"));
		s = stats != NULL ? json_array_get(stats, i) : NULL;
		if (s == NULL)
			continue;
		printf("    RX: bytes %lld packets %lld forwarded %lld local %lld dropped %lld\n",
			num(s, "rx_bytes"), num(s, "rx_packets"),
			num(s, "forwarded"), num(s, "local_in"),
			num(s, "drops_total"));
		printf("    TX: bytes %lld packets %lld\n", num(s, "tx_bytes"),
			num(s, "tx_packets"));
		if (json_object_get(p, "host_iface") != NULL)
			printf("    HOST: punted %lld injected %lld\n",
				num(s, "host_punted"), num(s, "host_injected"));
		d = json_object_get(s, "drops");
		if (num(s, "drops_total") > 0) {
			const char *k;
			json_t *v;

			printf("    drops:");
			json_object_foreach(d, k, v)
				if (json_integer_value(v) > 0)
					printf(" %s %lld", k,
						(long long)json_integer_value(v));
			printf("\n");
		}
	}
}

static void
show_addrs(json_t *ports)
{
	json_t *p, *a;
	size_t i, j;

	json_array_foreach(ports, i, p) {
		printf("%lld: %s: <%s> mtu %lld\n", num(p, "id"), str(p, "name"),
			json_is_true(json_object_get(p, "up")) ? "UP" : "DOWN",
			num(p, "mtu"));
		printf("    link/ether %s\n", str(p, "mac"));
		json_array_foreach(json_object_get(p, "addresses"), j, a)
			printf("    inet %s scope global %s\n",
				json_string_value(a), str(p, "name"));
	}
}

static void
show_routes(json_t *routes)
{
	const char *type, *prefix;
	json_t *r;
	size_t i;
	char dst[32];

	json_array_foreach(routes, i, r) {
		type = str(r, "type");
		prefix = str(r, "prefix");
		snprintf(dst, sizeof(dst), "%s", strcmp(prefix, "0.0.0.0/0") ?
			prefix : "default");
		if (strcmp(type, "local") == 0 ||
				strcmp(type, "broadcast") == 0) {
			/* Host routes print without /32, as in `ip route show table local`. */
			char *slash = strchr(dst, '/');

			if (slash != NULL)
				*slash = '\0';
			printf("%s %s dev %s proto kernel scope %s\n", type, dst,
				str(r, "port"),
				type[0] == 'l' ? "host" : "link");
			continue;
		}
		if (strcmp(type, "unicast") != 0) {
			printf("%s %s%s\n", type, dst,
				json_is_false(json_object_get(r, "active")) ?
					" linkdown" : "");
			continue;
		}
		printf("%s", dst);
		if (json_object_get(r, "gateway") != NULL)
			printf(" via %s", str(r, "gateway"));
		printf(" dev %s", str(r, "port"));
		if (json_object_get(r, "proto") != NULL)
			printf(" proto %s", str(r, "proto"));
		if (strcmp(str(r, "proto"), "kernel") == 0)
			printf(" scope link");
		if (json_is_false(json_object_get(r, "active")))
			printf(" linkdown");
		printf("\n");
	}
}

static void
show_neigh(json_t *res)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(res, "neighbours"), i, n) {
		printf("%s dev %s", str(n, "address"), str(n, "port"));
		if (json_object_get(n, "mac") != NULL)
			printf(" lladdr %s", str(n, "mac"));
		printf(" %s\n", str(n, "state"));
	}
}

static void
show_import(json_t *res)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(res, "imported"), i, r) {
		printf("imported %s", str(r, "prefix"));
		if (json_object_get(r, "gateway") != NULL)
			printf(" via %s", str(r, "gateway"));
		printf(" dev %s\n", str(r, "port"));
	}
	json_array_foreach(json_object_get(res, "skipped"), i, r)
		printf("skipped %s dev %s: %s\n", str(r, "prefix"),
			str(r, "port"), str(r, "reason"));
}

/* Commands */

const struct ctl_command ctl_commands[] = {
	{ "ip", "ports, addresses, routes and neighbours (iproute2's words)",
	  "  ip [-s] [-j] link [show]           ports; -s: counters and drop reasons\n"
	  "  ip link set PORT [up|down] [mtu N] [name NEW]\n"
	  "  ip addr [show]\n"
	  "  ip addr add|del ADDR/LEN dev PORT\n"
	  "  ip route [show]\n"
	  "  ip route add|replace|del PREFIX|default [via GW] [dev PORT]\n"
	  "  ip route add|replace|del blackhole|unreachable|prohibit PREFIX\n"
	  "  ip route get ADDR\n"
	  "  ip route import                    copy the host's routes via host interfaces\n"
	  "  ip neigh [show] [dev PORT]\n"
	  "  ip neigh add ADDR lladdr MAC dev PORT\n"
	  "  ip neigh del ADDR dev PORT\n"
	  "  ip neigh flush [dev PORT]\n" },
	{ "host", "host interfaces: the box's own programs' way in and out",
	  "  host add PORT [ifname IF] [netns NS] [name NAME]\n" },
	{ "iptables", "the ruleset, in iptables' words (docs/ruleset.md)",
	  "  iptables [-t TABLE] -A|-I|-D|-R|-N|-X|-F|-Z|-P|-E|-S|-L ...\n"
	  "  -j NFLOG [--nflog-group N] [--nflog-prefix P] [--nflog-size N]\n"
	  "                                     copy packets for pktgatectl capture\n" },
	{ "iptables-save", "the ruleset as iptables-save prints it",
	  "  iptables-save [-c] [-t TABLE]\n" },
	{ "iptables-restore", "replace tables atomically from iptables-save text",
	  "  iptables-restore [--noflush] [-c] [FILE]\n" },
	{ "ipset", "named address sets, in ipset's words",
	  "  ipset create|add|del|test|list|save|flush|destroy ...\n"
	  "  ipset list [NAME] [-n|-t]          -n: names only; -t: no members;\n"
	  "                                     -j: the sets as JSON\n" },
	{ "conntrack", "the connection table, in conntrack-tools' words",
	  "  conntrack -L|-D [FILTERS] [-o extended,id] | -F | -C | -S\n"
	  "  conntrack -E [-e NEW,UPDATES,DESTROY] [FILTERS]   until interrupted\n" },
	{ "ipvsadm", "virtual services, in ipvsadm's words (docs/ipvs.md)",
	  "  ipvsadm -A|-E|-D|-C|-a|-e|-d|-L|-S|--set ... | -R (stdin)\n"
	  "  ipvsadm -A|-E|-a|-e ... --check tcp|http|none [--check-* ...]\n"
	  "                                     health checks; -L -n --checks\n" },
	{ "capture", "packets of NFLOG rules, or dropped ones, as pcapng (for tcpdump, Wireshark)",
	  "  capture [-g GROUP | --drops [REASON,...]] [-w FILE|-] [-c COUNT]\n"
	  "          [-t SECONDS] [--recent]\n"
	  "                                     -w - (default when piped): stdout;\n"
	  "                                     --recent: start with the kept ones;\n"
	  "                                     --drops: what pktgate drops for\n"
	  "                                     those reasons (default all)\n" },
	{ "trace", "every step of chosen packets: hooks, rules, conntrack, NAT, fate",
	  "  trace [-c COUNT] [-t SECONDS] [--recent] [MATCH...]\n"
	  "                                     MATCH: iptables match words (-p tcp\n"
	  "                                     --dport 80...): a TRACE rule for them\n"
	  "                                     first in raw PREROUTING and OUTPUT\n"
	  "                                     while it runs; none: what TRACE rules\n"
	  "                                     in the ruleset trace; -j: JSON lines\n" },
	{ "explain", "what pktgate would do with a packet, sending nothing",
	  "  explain [--config FILE [--ports N]] [--ruleset FILE]\n"
	  "          PROTO SRC[:PORT] > DST[:PORT] [in PORT] [FLAG...]\n"
	  "                                     through an offline copy of the\n"
	  "                                     running configuration (or FILEs);\n"
	  "                                     FLAG: syn ack fin rst psh urg, ttl N,\n"
	  "                                     len N, type N, code N; -j: JSON\n"
	  "  explain [...] -r FILE [--in PORT]  every packet of a capture, in order\n" },
	{ "top", "live rates per port, worker and service, refreshed in place",
	  "  top [-d SECONDS] [-n ITERATIONS]\n" },
	{ "rpc", "call any JSON-RPC method (docs/rpc.md)",
	  "  rpc METHOD [JSON-PARAMS]\n" },
	{ "save", "the running configuration (replayable with --config)",
	  "  save                               print it\n"
	  "  save --to-config                   write it over the --config file, atomically\n" },
	{ "reload", "make the running state the configuration file's, changing only what differs",
	  "  reload [-n|--dry-run] [FILE]       the --config file, or FILE; -n: only\n"
	  "                                     say what would change\n" },
	{ "help", "this list, or one command's usage",
	  "  help [COMMAND]\n" },
	{ NULL, NULL, NULL },
};

void
ctl_usage(FILE *f, const char *topic)
{
	const struct ctl_command *c;

	for (c = ctl_commands; topic != NULL && c->name != NULL; c++)
		if (strcmp(c->name, topic) == 0) {
			fprintf(f, "%s: %s\n%s", c->name, c->summary, c->usage);
			return;
		}
	if (topic != NULL)
		ctl_die("help: no command '%s'", topic);
	fprintf(f, "Usage: pktgatectl [-s SOCKET|ADDR:PORT [-T TOKENFILE]] [-j] [COMMAND ...]\n"
		"Without a command: an interactive shell (history, completion).\n"
		"-s ADDR:PORT: pktgate --rpc-tcp, with the token in TOKENFILE's\n"
		"first line (or $PKTGATE_RPC_TOKEN_FILE).\n"
		"-j: JSON output for listings (ip, iptables -L/-S, ipvsadm -L,\n"
		"conntrack -L). Default socket: %s\n\n",
		DEFAULT_SOCKET);
	for (c = ctl_commands; c->name != NULL; c++)
		fputs(c->usage, f);
}

static void
done(json_t *result)
{
	if (ctl_json_output && result != NULL)
		ctl_print_json(result);
	json_decref(result);
}

static const char *
prefix_arg(const char *s)
{
	return strcmp(s, "default") == 0 ? "0.0.0.0/0" : s;
}

static void
cmd_link(int argc, char **argv, bool stats)
{
	json_t *ports, *st = NULL, *params;
	int i;

	if (argc == 0 || is(argv[0], "show") || is(argv[0], "list")) {
		ports = ctl_call("port_list", NULL);
		if (stats)
			st = ctl_call("port_stats_get", NULL);
		if (ctl_json_output) {
			if (st != NULL)
				ctl_print_json(st);
			else
				ctl_print_json(ports);
		} else {
			show_links(ports, st);
		}
		json_decref(ports);
		json_decref(st);
		return;
	}
	if (!is(argv[0], "set") || argc < 3)
		ctl_die("usage: ip link set PORT [up|down] [mtu N] [name NEW]");
	params = json_pack("{s:s}", "port", argv[1]);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "up") == 0 || strcmp(argv[i], "down") == 0) {
			json_object_set_new(params, "up",
				json_boolean(argv[i][0] == 'u'));
		} else if (strcmp(argv[i], "mtu") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);

			if (*end != '\0')
				ctl_die("mtu: '%s' is not a number", argv[i]);
			json_object_set_new(params, "mtu", json_integer(v));
		} else if (strcmp(argv[i], "name") == 0 && i + 1 < argc) {
			json_object_set_new(params, "name",
				json_string(argv[++i]));
		} else {
			ctl_die("ip link set: unknown argument '%s'", argv[i]);
		}
	}
	done(ctl_call("port_set", params));
}

static void
cmd_addr(int argc, char **argv)
{
	json_t *res;

	if (argc == 0 || is(argv[0], "show") || is(argv[0], "list")) {
		res = ctl_call("port_list", NULL);
		if (ctl_json_output)
			ctl_print_json(res);
		else
			show_addrs(res);
		json_decref(res);
		return;
	}
	if ((is(argv[0], "add") || is(argv[0], "delete")) && argc == 4 &&
			strcmp(argv[2], "dev") == 0) {
		done(ctl_call(argv[0][0] == 'a' ? "ip_addr_add" : "ip_addr_del",
			json_pack("{s:s, s:s}", "address", argv[1], "port",
				argv[3])));
		return;
	}
	ctl_die("usage: ip addr [show] | ip addr add|del ADDR/LEN dev PORT");
}

static void
cmd_route(int argc, char **argv)
{
	json_t *res, *params;
	bool add;
	int i;

	if (argc == 0 || is(argv[0], "show") || is(argv[0], "list")) {
		res = ctl_call("ip_route_list", NULL);
		if (ctl_json_output)
			ctl_print_json(res);
		else
			show_routes(res);
		json_decref(res);
		return;
	}
	if (is(argv[0], "import") && argc == 1) {
		res = ctl_call("ip_route_import", NULL);
		if (ctl_json_output)
			ctl_print_json(res);
		else
			show_import(res);
		json_decref(res);
		return;
	}
	if (is(argv[0], "get") && argc == 2) {
		res = ctl_call("ip_route_get", json_pack("{s:s}", "address",
			argv[1]));
		if (ctl_json_output) {
			ctl_print_json(res);
		} else {
			json_object_set_new(res, "prefix", json_string(argv[1]));
			show_routes(json_pack("[O]", res));
		}
		json_decref(res);
		return;
	}
	if (!(is(argv[0], "add") || is(argv[0], "delete") ||
			is(argv[0], "replace")) || argc < 2)
		ctl_die("usage: ip route add|replace|del PREFIX [via GW] [dev PORT]");
	add = argv[0][0] != 'd';
	i = 1;
	params = json_object();
	/* replace: the route changes without a moment with none. */
	if (argv[0][0] == 'r')
		json_object_set_new(params, "replace", json_true());
	if (strcmp(argv[i], "blackhole") == 0 ||
			strcmp(argv[i], "unreachable") == 0 ||
			strcmp(argv[i], "prohibit") == 0) {
		if (add)
			json_object_set_new(params, "type",
				json_string(argv[i]));
		i++;
	}
	if (i >= argc)
		ctl_die("ip route: missing prefix");
	json_object_set_new(params, "prefix", json_string(prefix_arg(argv[i++])));
	for (; add && i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "via") == 0)
			json_object_set_new(params, "gateway",
				json_string(argv[i + 1]));
		else if (strcmp(argv[i], "dev") == 0)
			json_object_set_new(params, "port",
				json_string(argv[i + 1]));
		else
			ctl_die("ip route: unknown argument '%s'", argv[i]);
	}
	if (i < argc && add)
		ctl_die("ip route: '%s' needs a value", argv[i]);
	done(ctl_call(add ? "ip_route_add" : "ip_route_del", params));
}

static void
cmd_neigh(int argc, char **argv)
{
	json_t *res, *params = NULL;

	if (argc == 0 || is(argv[0], "show") || is(argv[0], "list") ||
			is(argv[0], "flush")) {
		if (argc == 3 && strcmp(argv[1], "dev") == 0)
			params = json_pack("{s:s}", "port", argv[2]);
		else if (argc > 1)
			ctl_die("usage: ip neigh show|flush [dev PORT]");
		if (argc > 0 && is(argv[0], "flush")) {
			done(ctl_call("ip_neigh_flush", params));
			return;
		}
		res = ctl_call("ip_neigh_list", params);
		if (ctl_json_output)
			ctl_print_json(res);
		else
			show_neigh(res);
		json_decref(res);
		return;
	}
	if (is(argv[0], "add") && argc == 6 && strcmp(argv[2], "lladdr") == 0 &&
			strcmp(argv[4], "dev") == 0) {
		done(ctl_call("ip_neigh_add", json_pack("{s:s, s:s, s:s}",
			"address", argv[1], "mac", argv[3], "port", argv[5])));
		return;
	}
	if (is(argv[0], "delete") && argc == 4 && strcmp(argv[2], "dev") == 0) {
		done(ctl_call("ip_neigh_del", json_pack("{s:s, s:s}",
			"address", argv[1], "port", argv[3])));
		return;
	}
	ctl_die("usage: ip neigh show|flush [dev PORT] | add ADDR lladdr MAC dev PORT | del ADDR dev PORT");
}

static void
cmd_ip(int argc, char **argv)
{
	bool stats = false;

	while (argc > 0 && argv[0][0] == '-') {
		if (strcmp(argv[0], "-s") == 0)
			stats = true;
		else if (strcmp(argv[0], "-j") == 0)
			ctl_json_output = true;
		else
			ctl_die("ip: unknown option '%s'", argv[0]);
		argc--;
		argv++;
	}
	if (argc == 0)
		ctl_die("usage: ip link|addr|route|neigh ...");
	if (is(argv[0], "link"))
		cmd_link(argc - 1, argv + 1, stats);
	else if (is(argv[0], "address"))
		cmd_addr(argc - 1, argv + 1);
	else if (is(argv[0], "route"))
		cmd_route(argc - 1, argv + 1);
	else if (is(argv[0], "neighbour") || is(argv[0], "neighbor"))
		cmd_neigh(argc - 1, argv + 1);
	else
		ctl_die("ip: unknown object '%s'", argv[0]);
}

static void
cmd_host(int argc, char **argv)
{
	json_t *params;
	int i;

	if (argc < 2 || !is(argv[0], "add"))
		ctl_die("usage: host add PORT [ifname IF] [netns NS] [name NAME]");
	params = json_pack("{s:s}", "port", argv[1]);
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "ifname") != 0 &&
				strcmp(argv[i], "netns") != 0 &&
				strcmp(argv[i], "name") != 0)
			ctl_die("host add: unknown argument '%s'", argv[i]);
		json_object_set_new(params, argv[i], json_string(argv[i + 1]));
	}
	if (i < argc)
		ctl_die("host add: '%s' needs a value", argv[i]);
	done(ctl_call("host_iface_add", params));
}

void
ctl_append_word(char **buf, size_t *len, const char *w)
{
	bool bare = w[0] != '\0' && strpbrk(w, " \t\"\\'") == NULL;
	size_t need = *len + strlen(w) * 2 + 4;
	const char *p;
	char *o;

	*buf = realloc(*buf, need);
	if (*buf == NULL)
		ctl_die("out of memory");
	o = *buf + *len;
	if (*len > 0)
		*o++ = ' ';
	if (!bare)
		*o++ = '"';
	for (p = w; *p != '\0'; p++) {
		if (!bare && (*p == '"' || *p == '\\'))
			*o++ = '\\';
		*o++ = *p;
	}
	if (!bare)
		*o++ = '"';
	*o = '\0';
	*len = (size_t)(o - *buf);
}

/* iptables and ipset: the words, quoted, as one command string. */
static void
cmd_words(const char *method, int argc, char **argv)
{
	char *line = NULL;
	size_t len = 0;
	json_t *res;
	int i;

	for (i = 0; i < argc; i++)
		ctl_append_word(&line, &len, argv[i]);
	if (line == NULL)
		ctl_die("usage: %s COMMAND ...", method);
	res = ctl_call(method, json_pack("{s:s}", "command", line));
	free(line);
	if (ctl_json_output && res != NULL)
		ctl_print_json(res);
	else if (res != NULL)
		fputs(str(res, "output"), stdout);
	json_decref(res);
}

/* ipset: its words, except that a listing with -j is the sets as data. */
static void
cmd_ipset(int argc, char **argv)
{
	json_t *params, *res;
	int i;

	if (!ctl_json_output || argc == 0 || (strcmp(argv[0], "list") != 0 &&
			strcmp(argv[0], "-L") != 0)) {
		cmd_words("ipset", argc, argv);
		return;
	}
	params = json_object();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "-terse") == 0 ||
				strcmp(argv[i], "-n") == 0 ||
				strcmp(argv[i], "-name") == 0)
			json_object_set_new(params, "members", json_false());
		else if (argv[i][0] != '-' && !json_object_get(params, "name"))
			json_object_set_new(params, "name",
				json_string(argv[i]));
		else
			ctl_die("usage: ipset list [NAME] [-n|-t]");
	}
	res = ctl_call("ipset_list", params);
	ctl_print_json(res);
	json_decref(res);
}

static bool
is_list_word(const char *w)
{
	return strcmp(w, "-L") == 0 || strcmp(w, "--list") == 0 ||
		strcmp(w, "-S") == 0 || strcmp(w, "--list-rules") == 0;
}

/*
 * iptables: the words as they are, except that a listing with -j is the
 * chains in the JSON form (iptables_rules_get), rules with their counters.
 */
static void
cmd_iptables(int argc, char **argv)
{
	json_t *params = json_object();
	bool list = false;
	int i;

	for (i = 0; ctl_json_output && i < argc; i++) {
		if ((strcmp(argv[i], "-t") == 0 ||
				strcmp(argv[i], "--table") == 0) && i + 1 < argc)
			json_object_set_new(params, "table",
				json_string(argv[++i]));
		else if (is_list_word(argv[i])) {
			list = true;
			if (i + 1 < argc && argv[i + 1][0] != '-')
				json_object_set_new(params, "chain",
					json_string(argv[++i]));
		}
	}
	if (!list) {
		json_decref(params);
		cmd_words("iptables", argc, argv);
		return;
	}
	done(ctl_call("iptables_rules_get", params));
}

static void
cmd_iptables_save(int argc, char **argv)
{
	json_t *params = json_object(), *res;
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 ||
				strcmp(argv[i], "--counters") == 0)
			json_object_set_new(params, "counters", json_true());
		else if ((strcmp(argv[i], "-t") == 0 ||
				strcmp(argv[i], "--table") == 0) && i + 1 < argc)
			json_object_set_new(params, "table",
				json_string(argv[++i]));
		else
			ctl_die("usage: iptables-save [-c] [-t TABLE]");
	}
	res = ctl_call("iptables_save", params);
	fputs(str(res, "text"), stdout);
	json_decref(res);
}

/* The whole of @p in, NUL-terminated (caller frees). */
static char *
read_all(FILE *in)
{
	size_t cap = 0, len = 0, n;
	char *text = NULL;

	do {
		if (len + 4096 > cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			text = realloc(text, cap);
			if (text == NULL)
				ctl_die("out of memory");
		}
		n = fread(text + len, 1, cap - len - 1, in);
		len += n;
	} while (n > 0);
	text[len] = '\0';
	return text;
}

/*
 * ipvsadm: one command's words, or -R (--restore): the commands on stdin,
 * all or nothing.
 */
static void
cmd_ipvsadm(int argc, char **argv)
{
	char *text;

	if (argc == 1 && (strcmp(argv[0], "-R") == 0 ||
			strcmp(argv[0], "--restore") == 0)) {
		text = read_all(stdin);
		done(ctl_call("ipvsadm_restore",
			json_pack("{s:s}", "command", text)));
		free(text);
		return;
	}
	if (argc == 0) {
		char list[] = "-L", num[] = "-n";
		char *def[] = { list, num };

		cmd_ipvsadm(2, def);
		return;
	}
	if (ctl_json_output) {
		bool list = false, checks = false;

		for (int i = 0; i < argc; i++) {
			list |= strcmp(argv[i], "-L") == 0 ||
				strcmp(argv[i], "-l") == 0 ||
				strcmp(argv[i], "--list") == 0;
			checks |= strcmp(argv[i], "--checks") == 0;
		}
		/* A listing with -j: the services in the JSON form. */
		if (list) {
			done(ctl_call(checks ? "ipvs_check_get" : "ipvs_get",
				NULL));
			return;
		}
	}
	cmd_words("ipvsadm", argc, argv);
}

static void
cmd_iptables_restore(int argc, char **argv)
{
	json_t *params = json_object();
	FILE *in = stdin;
	char *text;
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 ||
				strcmp(argv[i], "--noflush") == 0)
			json_object_set_new(params, "noflush", json_true());
		else if (strcmp(argv[i], "-c") == 0 ||
				strcmp(argv[i], "--counters") == 0)
			json_object_set_new(params, "counters", json_true());
		else if (argv[i][0] != '-' && in == stdin) {
			in = fopen(argv[i], "r");
			if (in == NULL)
				ctl_die("%s: %s", argv[i], strerror(errno));
		} else
			ctl_die("usage: iptables-restore [--noflush] [-c] [FILE]");
	}
	text = read_all(in);
	if (in != stdin)
		fclose(in);
	json_object_set_new(params, "text", json_string(text));
	free(text);
	done(ctl_call("iptables_restore", params));
}

/*
 * conntrack: conntrack-tools' words. -L and -D come in chunks (each call
 * returns a cursor to go on from); -E polls for events until killed.
 */
static void
cmd_conntrack(int argc, char **argv)
{
	const char *summary_fmt = NULL, *verb = "shown";
	long long entries = 0, lost;
	char *line = NULL;
	size_t len = 0;
	bool events = false, flush = false;
	json_t *res, *params, *cur, *all;
	int i;

	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], " \t\n") != NULL)
			ctl_die("conntrack: '%s': words cannot contain blanks",
				argv[i]);
		ctl_append_word(&line, &len, argv[i]);
		if (strcmp(argv[i], "-E") == 0 || strcmp(argv[i], "--event") == 0)
			events = true;
		if (strcmp(argv[i], "-F") == 0 || strcmp(argv[i], "--flush") == 0)
			flush = true;
		if (strcmp(argv[i], "-L") == 0 || strcmp(argv[i], "--dump") == 0)
			summary_fmt = "%s: %lld flow entries have been %s.\n";
		if (strcmp(argv[i], "-D") == 0 ||
				strcmp(argv[i], "--delete") == 0) {
			summary_fmt = "%s: %lld flow entries have been %s.\n";
			verb = "deleted";
		}
	}
	if (line == NULL)
		ctl_die("usage: conntrack -L|-D|-F|-C|-S|-E [filters]");
	if (events) {
		params = json_pack("{s:s}", "command", line);
		for (;;) {
			res = ctl_call("conntrack_events", json_deep_copy(params));
			fputs(str(res, "output"), stdout);
			fflush(stdout);
			lost = num(res, "lost");
			if (lost > 0)
				fprintf(stderr, "conntrack (pktgate): %lld events lost\n",
					lost);
			json_object_set(params, "since_hi",
				json_object_get(res, "next_hi"));
			json_object_set(params, "since_lo",
				json_object_get(res, "next_lo"));
			json_decref(res);
			usleep(100000);
		}
	}
	params = json_pack("{s:s}", "command", line);
	/* -j: the connections of every chunk as one JSON array. */
	all = ctl_json_output ? json_array() : NULL;
	if (all != NULL)
		json_object_set_new(params, "structured", json_true());
	for (;;) {
		res = ctl_call("conntrack", json_deep_copy(params));
		if (all != NULL && json_object_get(res, "connections") != NULL)
			json_array_extend(all, json_object_get(res,
				"connections"));
		else if (ctl_json_output)
			ctl_print_json(res);
		else
			fputs(str(res, "output"), stdout);
		entries += num(res, "entries");
		cur = json_object_get(res, "cursor");
		if (cur == NULL) {
			json_decref(res);
			break;
		}
		json_object_set(params, "cursor", cur);
		json_decref(res);
	}
	json_decref(params);
	free(line);
	if (all != NULL && summary_fmt != NULL)
		ctl_print_json(all);
	json_decref(all);
	if (summary_fmt != NULL)
		fprintf(stderr, summary_fmt, "conntrack (pktgate)", entries,
			verb);
	else if (flush)
		fputs("conntrack (pktgate): connection tracking table has been emptied.\n",
			stderr);
}

static void
cmd_rpc(int argc, char **argv)
{
	json_error_t jerr;
	json_t *params = NULL, *res;

	if (argc < 1 || argc > 2)
		ctl_die("usage: rpc METHOD [JSON-PARAMS]");
	if (argc == 2) {
		params = json_loads(argv[1], 0, &jerr);
		if (params == NULL)
			ctl_die("params: %s", jerr.text);
	}
	res = ctl_call(argv[0], params);
	ctl_print_json(res);
	json_decref(res);
}

/* One change of a reload: METHOD and its params, a long one cut short. */
static void
print_change(const json_t *change)
{
	char *p = json_dumps(json_object_get(change, "params"), 0);

	if (p == NULL)
		return;
	printf("  %s %.200s%s\n", json_string_value(json_object_get(change,
		"method")), p,
		strlen(p) > 200 ? "..." : "");
	free(p);
}

static void
cmd_reload(int argc, char **argv)
{
	json_t *params = json_object(), *res, *c;
	char name[64], *text;
	bool dry_run = false;
	FILE *in;
	size_t i, n;
	int a;

	for (a = 0; a < argc; a++) {
		if (strcmp(argv[a], "-n") == 0 ||
				strcmp(argv[a], "--dry-run") == 0) {
			dry_run = true;
		} else if (argv[a][0] != '-' && !json_object_get(params,
				"text")) {
			/* The daemon gets the document, not a path to open
			 * as root. */
			in = fopen(argv[a], "r");
			if (in == NULL)
				ctl_die("reload: %s: %s", argv[a],
					strerror(errno));
			text = read_all(in);
			fclose(in);
			if (json_object_set_new(params, "text",
					json_string(text)) != 0)
				ctl_die("reload: %s is not UTF-8 text",
					argv[a]);
			free(text);
			snprintf(name, sizeof(name), "%.63s", argv[a]);
			json_object_set_new(params, "name", json_string(name));
		} else {
			ctl_die("usage: reload [-n|--dry-run] [FILE]");
		}
	}
	if (dry_run)
		json_object_set_new(params, "dry_run", json_true());
	res = ctl_call("config_reload", params);
	if (ctl_json_output) {
		ctl_print_json(res);
		json_decref(res);
		return;
	}
	n = json_array_size(json_object_get(res, "changes"));
	if (n == 0)
		printf("%s: no changes\n", str(res, "path"));
	else
		printf("%s: %zu change%s%s\n", str(res, "path"), n,
			n == 1 ? "" : "s",
			dry_run ? " (dry run: nothing done)" : "");
	json_array_foreach(json_object_get(res, "changes"), i, c)
		print_change(c);
	json_decref(res);
}

void
ctl_run(int argc, char **argv)
{
	json_t *res;

	if (argc == 0)
		return;
	if (strcmp(argv[0], "ip") == 0)
		cmd_ip(argc - 1, argv + 1);
	else if (strcmp(argv[0], "iptables") == 0)
		cmd_iptables(argc - 1, argv + 1);
	else if (strcmp(argv[0], "ipset") == 0)
		cmd_ipset(argc - 1, argv + 1);
	else if (strcmp(argv[0], "iptables-save") == 0)
		cmd_iptables_save(argc - 1, argv + 1);
	else if (strcmp(argv[0], "iptables-restore") == 0)
		cmd_iptables_restore(argc - 1, argv + 1);
	else if (strcmp(argv[0], "host") == 0)
		cmd_host(argc - 1, argv + 1);
	else if (strcmp(argv[0], "conntrack") == 0)
		cmd_conntrack(argc - 1, argv + 1);
	else if (strcmp(argv[0], "ipvsadm") == 0)
		cmd_ipvsadm(argc - 1, argv + 1);
	else if (strcmp(argv[0], "capture") == 0)
		ctl_capture(argc - 1, argv + 1);
	else if (strcmp(argv[0], "trace") == 0)
		ctl_trace(argc - 1, argv + 1);
	else if (strcmp(argv[0], "explain") == 0)
		ctl_explain(argc - 1, argv + 1);
	else if (strcmp(argv[0], "top") == 0)
		ctl_top(argc - 1, argv + 1);
	else if (strcmp(argv[0], "rpc") == 0)
		cmd_rpc(argc - 1, argv + 1);
	else if (strcmp(argv[0], "reload") == 0)
		cmd_reload(argc - 1, argv + 1);
	else if (strcmp(argv[0], "save") == 0 && argc == 1) {
		res = ctl_call("save_config", NULL);
		ctl_print_json(res);
		json_decref(res);
	} else if (strcmp(argv[0], "save") == 0 && argc == 2 &&
			strcmp(argv[1], "--to-config") == 0) {
		res = ctl_call("config_save", NULL);
		printf("saved to %s\n", str(res, "path"));
		json_decref(res);
	} else if (strcmp(argv[0], "help") == 0)
		ctl_usage(stdout, argc > 1 ? argv[1] : NULL);
	else
		ctl_die("unknown command '%s' (try help)", argv[0]);
}

int
main(int argc, char **argv)
{
	const char *token_file = getenv("PKTGATE_RPC_TOKEN_FILE");
	int opt;

	while ((opt = getopt(argc, argv, "+s:T:jh")) != -1) {
		switch (opt) {
		case 's':
			ctl_sock_path = optarg;
			break;
		case 'T':
			token_file = optarg;
			break;
		case 'j':
			ctl_json_output = true;
			break;
		case 'h':
			ctl_usage(stdout, NULL);
			return 0;
		default:
			ctl_usage(stderr, NULL);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	use_tcp = parse_tcp(ctl_sock_path);
	if (use_tcp)
		read_token(token_file);
	/* No command: the interactive shell. */
	if (argc == 0)
		return ctl_shell();
	ctl_run(argc, argv);
	return 0;
}
