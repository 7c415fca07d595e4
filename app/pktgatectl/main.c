/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktgatectl: the admin shell. Turns iproute2-style commands into JSON-RPC
 * calls on the daemon's socket and prints the answers as iproute2 would
 * (or as JSON with -j). Errors print one line on stderr and exit 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "pgt_json.h"

#define DEFAULT_SOCKET "/run/pktgate/pktgate.sock"
#define MAX_REPLY (64u << 20)

static const char *sock_path = DEFAULT_SOCKET;
static bool json_output;
static const char *prog = "pktgatectl";

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Call @p method; returns the result (new reference) or dies. */
static json_t *
call(const char *method, json_t *params)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pgt_json_scan scan;
	json_t *req, *resp, *err, *result;
	json_error_t jerr;
	size_t len = 0, cap = 65536;
	char *text, *buf;
	ssize_t n;
	int fd, end = 0;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		die("socket path too long: %s", sock_path);
	strcpy(sa.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect to %s: %s (is pktgate running?)",
			sock_path, strerror(errno));
	req = json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1,
		"method", method);
	if (params != NULL)
		json_object_set_new(req, "params", params);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	for (size_t off = 0, tl = strlen(text); off < tl; off += (size_t)n) {
		n = send(fd, text + off, tl - off, MSG_NOSIGNAL);
		if (n < 0)
			die("sending to %s: %s", sock_path, strerror(errno));
	}
	free(text);
	buf = malloc(cap);
	pgt_json_scan_reset(&scan);
	while (buf != NULL && end == 0) {
		if (len == cap) {
			if (cap >= MAX_REPLY)
				die("reply larger than %u bytes", MAX_REPLY);
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				break;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			die("connection closed before a complete reply");
		len += (size_t)n;
		end = pgt_json_scan_feed(&scan, buf, len);
		if (end < 0)
			die("malformed reply");
	}
	if (buf == NULL)
		die("out of memory");
	close(fd);
	resp = json_loadb(buf, (size_t)end, 0, &jerr);
	free(buf);
	if (resp == NULL)
		die("malformed reply: %s", jerr.text);
	err = json_object_get(resp, "error");
	if (err != NULL)
		die("%s", json_string_value(json_object_get(err, "message")) ?
			json_string_value(json_object_get(err, "message")) :
			"unknown error");
	result = json_incref(json_object_get(resp, "result"));
	json_decref(resp);
	return result;
}

static void
print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	puts(s);
	free(s);
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static long long
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
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

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: pktgatectl [-s SOCKET] [-j] COMMAND\n"
		"  ip link [show]\n"
		"  ip -s link                      with counters and drop reasons\n"
		"  ip link set PORT [up|down] [mtu N] [name NEW]\n"
		"  ip addr [show]\n"
		"  ip addr add|del ADDR/LEN dev PORT\n"
		"  ip route [show]\n"
		"  ip route add|del PREFIX|default [via GW] [dev PORT]\n"
		"  ip route add|del blackhole|unreachable|prohibit PREFIX\n"
		"  ip route get ADDR\n"
		"  ip route import                 copy the host's routes via host interfaces\n"
		"  host add PORT [ifname IF] [netns NS] [name NAME]\n"
		"                                  give PORT a host interface\n"
		"  ip neigh [show] [dev PORT]\n"
		"  ip neigh add ADDR lladdr MAC dev PORT\n"
		"  ip neigh del ADDR dev PORT\n"
		"  ip neigh flush [dev PORT]\n"
		"  iptables [-t TABLE] -A|-I|-D|-R|-N|-X|-F|-Z|-P|-E|-S|-L ...\n"
		"  iptables-save [-c] [-t TABLE]\n"
		"  ipset create|add|del|test|list|save|flush|destroy ...\n"
		"  iptables-restore [--noflush] [-c] [FILE]\n"
		"  conntrack -L|-D [FILTERS] [-o extended,id] | -F | -C | -S\n"
		"  conntrack -E [-e NEW,UPDATES,DESTROY] [FILTERS]   until killed\n"
		"  ipvsadm -A|-E|-D|-C|-a|-e|-d|-L|-S|--set ... | -R (stdin)\n"
		"                                  virtual services (docs/ipvs.md)\n"
		"  ipvsadm -A|-E|-a|-e ... --check tcp|http|none [--check-* ...]\n"
		"                                  health checks; -L -n --checks\n"
		"  rpc METHOD [JSON-PARAMS]        call any method (see rpc rpc_get_methods)\n"
		"  save                            print the running configuration\n"
		"  save --to-config                write it over the --config file (atomically)\n"
		"Default socket: %s\n", DEFAULT_SOCKET);
}

static void
done(json_t *result)
{
	if (json_output && result != NULL)
		print_json(result);
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
		ports = call("port_list", NULL);
		if (stats)
			st = call("port_stats_get", NULL);
		if (json_output) {
			if (st != NULL)
				print_json(st);
			else
				print_json(ports);
		} else {
			show_links(ports, st);
		}
		json_decref(ports);
		json_decref(st);
		return;
	}
	if (!is(argv[0], "set") || argc < 3)
		die("usage: ip link set PORT [up|down] [mtu N] [name NEW]");
	params = json_pack("{s:s}", "port", argv[1]);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "up") == 0 || strcmp(argv[i], "down") == 0) {
			json_object_set_new(params, "up",
				json_boolean(argv[i][0] == 'u'));
		} else if (strcmp(argv[i], "mtu") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);

			if (*end != '\0')
				die("mtu: '%s' is not a number", argv[i]);
			json_object_set_new(params, "mtu", json_integer(v));
		} else if (strcmp(argv[i], "name") == 0 && i + 1 < argc) {
			json_object_set_new(params, "name",
				json_string(argv[++i]));
		} else {
			die("ip link set: unknown argument '%s'", argv[i]);
		}
	}
	done(call("port_set", params));
}

static void
cmd_addr(int argc, char **argv)
{
	json_t *res;

	if (argc == 0 || is(argv[0], "show") || is(argv[0], "list")) {
		res = call("port_list", NULL);
		if (json_output)
			print_json(res);
		else
			show_addrs(res);
		json_decref(res);
		return;
	}
	if ((is(argv[0], "add") || is(argv[0], "delete")) && argc == 4 &&
			strcmp(argv[2], "dev") == 0) {
		done(call(argv[0][0] == 'a' ? "ip_addr_add" : "ip_addr_del",
			json_pack("{s:s, s:s}", "address", argv[1], "port",
				argv[3])));
		return;
	}
	die("usage: ip addr [show] | ip addr add|del ADDR/LEN dev PORT");
}

static void
cmd_route(int argc, char **argv)
{
	json_t *res, *params;
	bool add;
	int i;

	if (argc == 0 || is(argv[0], "show") || is(argv[0], "list")) {
		res = call("ip_route_list", NULL);
		if (json_output)
			print_json(res);
		else
			show_routes(res);
		json_decref(res);
		return;
	}
	if (is(argv[0], "import") && argc == 1) {
		res = call("ip_route_import", NULL);
		if (json_output)
			print_json(res);
		else
			show_import(res);
		json_decref(res);
		return;
	}
	if (is(argv[0], "get") && argc == 2) {
		res = call("ip_route_get", json_pack("{s:s}", "address",
			argv[1]));
		if (json_output) {
			print_json(res);
		} else {
			json_object_set_new(res, "prefix", json_string(argv[1]));
			show_routes(json_pack("[O]", res));
		}
		json_decref(res);
		return;
	}
	if (!(is(argv[0], "add") || is(argv[0], "delete")) || argc < 2)
		die("usage: ip route add|del PREFIX [via GW] [dev PORT]");
	add = argv[0][0] == 'a';
	i = 1;
	params = json_object();
	if (strcmp(argv[i], "blackhole") == 0 ||
			strcmp(argv[i], "unreachable") == 0 ||
			strcmp(argv[i], "prohibit") == 0) {
		if (add)
			json_object_set_new(params, "type",
				json_string(argv[i]));
		i++;
	}
	if (i >= argc)
		die("ip route: missing prefix");
	json_object_set_new(params, "prefix", json_string(prefix_arg(argv[i++])));
	for (; add && i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "via") == 0)
			json_object_set_new(params, "gateway",
				json_string(argv[i + 1]));
		else if (strcmp(argv[i], "dev") == 0)
			json_object_set_new(params, "port",
				json_string(argv[i + 1]));
		else
			die("ip route: unknown argument '%s'", argv[i]);
	}
	if (i < argc && add)
		die("ip route: '%s' needs a value", argv[i]);
	done(call(add ? "ip_route_add" : "ip_route_del", params));
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
			die("usage: ip neigh show|flush [dev PORT]");
		if (argc > 0 && is(argv[0], "flush")) {
			done(call("ip_neigh_flush", params));
			return;
		}
		res = call("ip_neigh_list", params);
		if (json_output)
			print_json(res);
		else
			show_neigh(res);
		json_decref(res);
		return;
	}
	if (is(argv[0], "add") && argc == 6 && strcmp(argv[2], "lladdr") == 0 &&
			strcmp(argv[4], "dev") == 0) {
		done(call("ip_neigh_add", json_pack("{s:s, s:s, s:s}",
			"address", argv[1], "mac", argv[3], "port", argv[5])));
		return;
	}
	if (is(argv[0], "delete") && argc == 4 && strcmp(argv[2], "dev") == 0) {
		done(call("ip_neigh_del", json_pack("{s:s, s:s}",
			"address", argv[1], "port", argv[3])));
		return;
	}
	die("usage: ip neigh show|flush [dev PORT] | add ADDR lladdr MAC dev PORT | del ADDR dev PORT");
}

static void
cmd_ip(int argc, char **argv)
{
	bool stats = false;

	while (argc > 0 && argv[0][0] == '-') {
		if (strcmp(argv[0], "-s") == 0)
			stats = true;
		else if (strcmp(argv[0], "-j") == 0)
			json_output = true;
		else
			die("ip: unknown option '%s'", argv[0]);
		argc--;
		argv++;
	}
	if (argc == 0)
		die("usage: ip link|addr|route|neigh ...");
	if (is(argv[0], "link"))
		cmd_link(argc - 1, argv + 1, stats);
	else if (is(argv[0], "address"))
		cmd_addr(argc - 1, argv + 1);
	else if (is(argv[0], "route"))
		cmd_route(argc - 1, argv + 1);
	else if (is(argv[0], "neighbour") || is(argv[0], "neighbor"))
		cmd_neigh(argc - 1, argv + 1);
	else
		die("ip: unknown object '%s'", argv[0]);
}

static void
cmd_host(int argc, char **argv)
{
	json_t *params;
	int i;

	if (argc < 2 || !is(argv[0], "add"))
		die("usage: host add PORT [ifname IF] [netns NS] [name NAME]");
	params = json_pack("{s:s}", "port", argv[1]);
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "ifname") != 0 &&
				strcmp(argv[i], "netns") != 0 &&
				strcmp(argv[i], "name") != 0)
			die("host add: unknown argument '%s'", argv[i]);
		json_object_set_new(params, argv[i], json_string(argv[i + 1]));
	}
	if (i < argc)
		die("host add: '%s' needs a value", argv[i]);
	done(call("host_iface_add", params));
}

/* Quote a word as iptables-restore reads it. */
static void
append_word(char **buf, size_t *len, const char *w)
{
	bool bare = w[0] != '\0' && strpbrk(w, " \t\"\\'") == NULL;
	size_t need = *len + strlen(w) * 2 + 4;
	const char *p;
	char *o;

	*buf = realloc(*buf, need);
	if (*buf == NULL)
		die("out of memory");
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
		append_word(&line, &len, argv[i]);
	if (line == NULL)
		die("usage: %s COMMAND ...", method);
	res = call(method, json_pack("{s:s}", "command", line));
	free(line);
	if (json_output && res != NULL)
		print_json(res);
	else if (res != NULL)
		fputs(str(res, "output"), stdout);
	json_decref(res);
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
			die("usage: iptables-save [-c] [-t TABLE]");
	}
	res = call("iptables_save", params);
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
				die("out of memory");
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
		done(call("ipvsadm_restore",
			json_pack("{s:s}", "command", text)));
		free(text);
		return;
	}
	if (argc == 0) {
		char list[] = "-L", num[] = "-n";
		char *def[] = { list, num };

		cmd_words("ipvsadm", 2, def);
		return;
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
				die("%s: %s", argv[i], strerror(errno));
		} else
			die("usage: iptables-restore [--noflush] [-c] [FILE]");
	}
	text = read_all(in);
	if (in != stdin)
		fclose(in);
	json_object_set_new(params, "text", json_string(text));
	free(text);
	done(call("iptables_restore", params));
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
	json_t *res, *params, *cur;
	int i;

	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], " \t\n") != NULL)
			die("conntrack: '%s': words cannot contain blanks",
				argv[i]);
		append_word(&line, &len, argv[i]);
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
		die("usage: conntrack -L|-D|-F|-C|-S|-E [filters]");
	if (events) {
		params = json_pack("{s:s}", "command", line);
		for (;;) {
			res = call("conntrack_events", json_deep_copy(params));
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
	for (;;) {
		res = call("conntrack", json_deep_copy(params));
		if (json_output)
			print_json(res);
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
		die("usage: rpc METHOD [JSON-PARAMS]");
	if (argc == 2) {
		params = json_loads(argv[1], 0, &jerr);
		if (params == NULL)
			die("params: %s", jerr.text);
	}
	res = call(argv[0], params);
	print_json(res);
	json_decref(res);
}

int
main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "+s:jh")) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "ip") == 0)
		cmd_ip(argc - 1, argv + 1);
	else if (strcmp(argv[0], "iptables") == 0)
		cmd_words("iptables", argc - 1, argv + 1);
	else if (strcmp(argv[0], "ipset") == 0)
		cmd_words("ipset", argc - 1, argv + 1);
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
	else if (strcmp(argv[0], "rpc") == 0)
		cmd_rpc(argc - 1, argv + 1);
	else if (strcmp(argv[0], "save") == 0 && argc == 1) {
		json_t *res = call("save_config", NULL);

		print_json(res);
		json_decref(res);
	} else if (strcmp(argv[0], "save") == 0 && argc == 2 &&
			strcmp(argv[1], "--to-config") == 0) {
		json_t *res = call("config_save", NULL);

		printf("saved to %s\n", str(res, "path"));
		json_decref(res);
	} else if (strcmp(argv[0], "help") == 0)
		usage(stdout);
	else
		die("unknown command '%s' (try pktgatectl help)", argv[0]);
	return 0;
}
