/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktgatectl explain: what pktgate would do with a packet, without sending
 * anything.
 *
 * The packet goes through the real engine, not a model of it: explain runs
 * `pktgate --offline` (the binary beside this one, else pktgate on PATH)
 * with the running daemon's configuration (save_config: ports, addresses,
 * routes, neighbours, sets, services, ruleset) or the files given, and
 * prints the packet's trace. The daemon itself is only read: its counters,
 * connections and limits are untouched. The sandbox starts with no
 * connections, so a packet is explained as the first of its connection
 * unless the packets before it are given too (-r FILE replays a capture).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pktgatectl.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct pkt_desc {
	uint8_t proto;
	uint32_t src, dst;	/* network order */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint8_t icmp_type, icmp_code;
	uint8_t ttl;
	uint16_t payload;
	const char *in;
};

static void
usage_die(void)
{
	ctl_die("usage: explain [--config FILE [--ports N]] [--ruleset FILE] PROTO SRC[:PORT] > DST[:PORT] [in PORT] [FLAG...]\n"
		"       explain [--config FILE [--ports N]] [--ruleset FILE] -r FILE [--in PORT]");
}

static void
parse_endpoint(const char *s, uint32_t *addr, uint16_t *port, bool ports)
{
	char buf[64], *colon;
	struct in_addr a;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strchr(buf, ':');
	if (colon != NULL) {
		if (!ports)
			ctl_die("explain: %s: this protocol has no ports", s);
		*colon = '\0';
		*port = (uint16_t)ctl_parse_number("explain", "port",
			colon + 1, 0, 65535);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		ctl_die("explain: '%s' is not an IPv4 address", buf);
	*addr = a.s_addr;
}

static const struct {
	const char *name;
	uint8_t bit;
} tcp_flags[] = {
	{ "fin", 0x01 }, { "syn", 0x02 }, { "rst", 0x04 }, { "psh", 0x08 },
	{ "ack", 0x10 }, { "urg", 0x20 },
};

/* "tcp 10.0.0.1:1234 > 10.0.1.1:80 in port0 syn" */
static void
parse_desc(int argc, char **argv, struct pkt_desc *d)
{
	int a = 3;
	unsigned int i;
	bool ports;

	memset(d, 0, sizeof(*d));
	d->ttl = 64;
	if (argc < 4 || (strcmp(argv[2], ">") != 0 &&
			strcmp(argv[2], "->") != 0))
		usage_die();
	if (strcmp(argv[0], "tcp") == 0)
		d->proto = IPPROTO_TCP;
	else if (strcmp(argv[0], "udp") == 0)
		d->proto = IPPROTO_UDP;
	else if (strcmp(argv[0], "icmp") == 0)
		d->proto = IPPROTO_ICMP;
	else
		ctl_die("explain: protocol '%s': tcp, udp or icmp", argv[0]);
	ports = d->proto != IPPROTO_ICMP;
	d->sport = 1024;
	parse_endpoint(argv[1], &d->src, &d->sport, ports);
	parse_endpoint(argv[a], &d->dst, &d->dport, ports);
	if (d->proto == IPPROTO_ICMP)
		d->icmp_type = 8;	/* echo request */
	for (a = 4; a < argc; a++) {
		for (i = 0; i < NELEMS(tcp_flags); i++)
			if (strcmp(argv[a], tcp_flags[i].name) == 0)
				break;
		if (i < NELEMS(tcp_flags) && d->proto == IPPROTO_TCP) {
			d->tcp_flags |= tcp_flags[i].bit;
		} else if (strcmp(argv[a], "in") == 0 && a + 1 < argc) {
			d->in = argv[++a];
		} else if (strcmp(argv[a], "ttl") == 0 && a + 1 < argc) {
			d->ttl = (uint8_t)ctl_parse_number("explain", "ttl",
				argv[++a], 1, 255);
		} else if (strcmp(argv[a], "len") == 0 && a + 1 < argc) {
			d->payload = (uint16_t)ctl_parse_number("explain",
				"len", argv[++a], 0, 1400);
		} else if (strcmp(argv[a], "type") == 0 && a + 1 < argc &&
				d->proto == IPPROTO_ICMP) {
			d->icmp_type = (uint8_t)ctl_parse_number("explain",
				"type", argv[++a], 0, 255);
		} else if (strcmp(argv[a], "code") == 0 && a + 1 < argc &&
				d->proto == IPPROTO_ICMP) {
			d->icmp_code = (uint8_t)ctl_parse_number("explain",
				"code", argv[++a], 0, 255);
		} else {
			ctl_die("explain: '%s': not a flag of %s (tcp: syn ack fin rst psh urg; icmp: type N code N; all: in PORT, ttl N, len N)",
				argv[a], argv[0]);
		}
	}
	if (d->proto == IPPROTO_TCP && d->tcp_flags == 0)
		d->tcp_flags = 0x02;	/* a connection's first packet */
}

static uint16_t
cksum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The IPv4 packet @p d describes, into @p buf; @return its length. */
static size_t
build(const struct pkt_desc *d, uint8_t *buf)
{
	size_t l4len = d->proto == IPPROTO_TCP ? 20 : 8, len;
	uint8_t *ip = buf, *l4 = buf + 20, pseudo[12];
	uint32_t sum;

	len = 20 + l4len + d->payload;
	memset(buf, 0, len);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)len);
	put16(ip + 4, 1);
	ip[6] = 0x40;		/* DF, as a host's TCP would */
	ip[8] = d->ttl;
	ip[9] = d->proto;
	memcpy(ip + 12, &d->src, 4);
	memcpy(ip + 16, &d->dst, 4);
	put16(ip + 10, cksum(ip, 20, 0));
	if (d->proto == IPPROTO_ICMP) {
		l4[0] = d->icmp_type;
		l4[1] = d->icmp_code;
		put16(l4 + 4, 1);
		put16(l4 + 6, 1);
		put16(l4 + 2, cksum(l4, l4len + d->payload, 0));
		return len;
	}
	put16(l4, d->sport);
	put16(l4 + 2, d->dport);
	if (d->proto == IPPROTO_TCP) {
		put16(l4 + 4, 0);
		l4[12] = 5 << 4;
		l4[13] = d->tcp_flags;
		put16(l4 + 14, 64240);
	} else {
		put16(l4 + 4, (uint16_t)(l4len + d->payload));
	}
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = d->proto;
	put16(pseudo + 10, (uint16_t)(l4len + d->payload));
	sum = (uint16_t)~cksum(pseudo, sizeof(pseudo), 0);
	put16(l4 + (d->proto == IPPROTO_TCP ? 16 : 6),
		cksum(l4, l4len + d->payload, sum));
	return len;
}

/* A one-packet pcap of raw IPv4 (the offline mode adds the Ethernet). */
static void
write_pcap(const char *path, const uint8_t *pkt, size_t len)
{
	uint32_t hdr[6] = { 0xa1b2c3d4u, 2 | (4u << 16), 0, 0, 65535, 101 };
	uint32_t rec[4] = { 0, 0, (uint32_t)len, (uint32_t)len };
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(hdr, sizeof(hdr), 1, f) != 1 ||
			fwrite(rec, sizeof(rec), 1, f) != 1 ||
			fwrite(pkt, len, 1, f) != 1 || fclose(f) != 0)
		ctl_die("explain: %s: %s", path, strerror(errno));
}

/*
 * The running daemon's configuration, less what needs the host (its
 * interfaces, routes imported from it), plus the neighbours it learned
 * (offline nobody answers ARP: without them a packet would only wait):
 * @return the number of data ports.
 */
static unsigned int
daemon_config(const char *path)
{
	static const char *const host_only[] = { "host_iface_add",
		"ip_route_import" };
	json_t *doc, *calls, *call, *kept, *ports, *p, *neigh;
	unsigned int nb_ports = 0, i;
	const char *m;
	size_t k;
	FILE *f;

	doc = ctl_call("save_config", NULL);
	calls = json_object_get(doc, "config");
	kept = json_array();
	json_array_foreach(calls, k, call) {
		m = str(call, "method");
		for (i = 0; i < NELEMS(host_only); i++)
			if (strcmp(m, host_only[i]) == 0)
				break;
		if (i == NELEMS(host_only))
			json_array_append(kept, call);
	}
	neigh = ctl_call("ip_neigh_list", NULL);
	json_array_foreach(json_object_get(neigh, "neighbours"), k, call)
		if (json_object_get(call, "mac") != NULL &&
				strcmp(str(call, "state"), "PERMANENT") != 0)
			json_array_append_new(kept, json_pack(
				"{s:s, s:{s:O, s:O, s:O}}", "method",
				"ip_neigh_add", "params",
				"address", json_object_get(call, "address"),
				"port", json_object_get(call, "port"),
				"mac", json_object_get(call, "mac")));
	json_decref(neigh);
	json_object_set_new(doc, "config", kept);
	f = fopen(path, "w");
	if (f == NULL || json_dumpf(doc, f, 0) != 0 || fclose(f) != 0)
		ctl_die("explain: %s: %s", path, strerror(errno));
	json_decref(doc);
	ports = ctl_call("port_list", NULL);
	json_array_foreach(ports, k, p)
		if (json_object_get(p, "host_of") == NULL)
			nb_ports++;
	json_decref(ports);
	return nb_ports;
}

/* pktgate beside this program (a build tree, or the same bin directory). */
static void
pktgate_path(char *buf, size_t size)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	snprintf(buf, size, "pktgate");
	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	if (snprintf(buf, size, "%s/pktgate", self) >= (int)size ||
			access(buf, X_OK) != 0)
		snprintf(buf, size, "pktgate");
}

/*
 * Run the offline mode; its trace lines come back on a pipe, its messages
 * go to @p errpath (shown if it fails).
 */
static FILE *
run_offline(char **args, const char *errpath, pid_t *pid)
{
	int fds[2], efd;

	if (pipe(fds) != 0)
		ctl_die("explain: pipe: %s", strerror(errno));
	*pid = fork();
	if (*pid < 0)
		ctl_die("explain: fork: %s", strerror(errno));
	if (*pid == 0) {
		efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);
		if (efd >= 0)
			dup2(efd, STDERR_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp(args[0], args);
		fprintf(stderr, "pktgatectl: explain: %s: %s\n", args[0],
			strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	return fdopen(fds[0], "r");
}

static void
print_result(json_t *r)
{
	json_t *e, *o;
	size_t i;

	printf("packet %lld: %s (in %s)\n", num(r, "packet"),
		str(r, "summary"), str(r, "in"));
	json_array_foreach(json_object_get(r, "events"), i, e)
		if (i > 0)	/* the first is its arrival, said above */
			ctl_trace_print(stdout, e);
	printf("verdict: %s", str(r, "verdict"));
	if (json_object_get(r, "reason") != NULL)
		printf(" (%s)", str(r, "reason"));
	json_array_foreach(json_object_get(r, "out"), i, o)
		printf("%s%s%s: %s", i == 0 ? "; sent " : ", ",
			json_is_true(json_object_get(o, "answer")) ?
			"an answer on " : "on ", str(o, "port"),
			str(o, "packet"));
	printf("\n");
}

void
ctl_explain(int argc, char **argv)
{
	char dir[] = "/tmp/pktgatectl-explain-XXXXXX", cfg[PATH_MAX];
	char in[PATH_MAX], bin[PATH_MAX], ports[16], inarg[PATH_MAX + 64];
	char errpath[PATH_MAX];
	const char *config = NULL, *ruleset = NULL, *capture = NULL;
	const char *in_port = NULL;
	char *args[16], *line = NULL;
	struct pkt_desc d = { .proto = 0 };
	uint8_t pkt[1500];
	unsigned int nb_ports = 2;
	size_t cap = 0;
	int a, n = 0, status;
	bool failed;
	json_t *r;
	pid_t pid;
	FILE *f;

	for (a = 0; a + 1 < argc && argv[a][0] == '-' &&
			argv[a][1] == '-'; a += 2) {
		if (strcmp(argv[a], "--config") == 0)
			config = argv[a + 1];
		else if (strcmp(argv[a], "--ruleset") == 0)
			ruleset = argv[a + 1];
		else if (strcmp(argv[a], "--in") == 0)
			in_port = argv[a + 1];
		else if (strcmp(argv[a], "--ports") == 0)
			nb_ports = (unsigned int)ctl_parse_number("explain",
				"--ports", argv[a + 1], 1, 32);
		else
			usage_die();
	}
	if (a + 1 < argc && strcmp(argv[a], "-r") == 0) {
		capture = argv[a + 1];
		for (a += 2; a + 1 < argc && strcmp(argv[a], "--in") == 0;
				a += 2)
			in_port = argv[a + 1];
		if (a != argc)
			usage_die();
	} else {
		parse_desc(argc - a, argv + a, &d);
		if (d.in != NULL)
			in_port = d.in;
	}
	if (mkdtemp(dir) == NULL)
		ctl_die("explain: %s: %s", dir, strerror(errno));
	snprintf(cfg, sizeof(cfg), "%s/config.json", dir);
	snprintf(in, sizeof(in), "%s/in.pcap", dir);
	snprintf(errpath, sizeof(errpath), "%s/offline.log", dir);
	if (capture == NULL)
		write_pcap(in, pkt, build(&d, pkt));
	if (config == NULL)
		nb_ports = daemon_config(cfg);
	snprintf(ports, sizeof(ports), "%u", nb_ports < 1 ? 1 : nb_ports);
	snprintf(inarg, sizeof(inarg), "%s%s%s", in_port != NULL ? in_port :
		"", in_port != NULL ? "=" : "", capture != NULL ? capture : in);
	pktgate_path(bin, sizeof(bin));
	args[n++] = bin;
	args[n++] = (char *)(uintptr_t)"--offline";
	args[n++] = (char *)(uintptr_t)"--config";
	args[n++] = config != NULL ? (char *)(uintptr_t)config : cfg;
	if (ruleset != NULL) {
		args[n++] = (char *)(uintptr_t)"--ruleset";
		args[n++] = (char *)(uintptr_t)ruleset;
	}
	args[n++] = (char *)(uintptr_t)"--ports";
	args[n++] = ports;
	args[n++] = (char *)(uintptr_t)"--in";
	args[n++] = inarg;
	args[n++] = (char *)(uintptr_t)"--trace";
	args[n++] = (char *)(uintptr_t)"-";
	args[n] = NULL;
	f = run_offline(args, errpath, &pid);
	while (f != NULL && getline(&line, &cap, f) > 0) {
		r = json_loads(line, 0, NULL);
		if (r == NULL)
			continue;
		if (ctl_json_output) {
			json_dumpf(r, stdout, JSON_COMPACT);
			putchar('\n');
		} else {
			print_result(r);
		}
		json_decref(r);
	}
	if (f != NULL)
		fclose(f);
	waitpid(pid, &status, 0);
	failed = !WIFEXITED(status) || WEXITSTATUS(status) > 1;
	if (failed && (f = fopen(errpath, "r")) != NULL) {
		while (getline(&line, &cap, f) > 0)
			fputs(line, stderr);
		fclose(f);
	}
	free(line);
	unlink(errpath);
	unlink(cfg);
	unlink(in);
	rmdir(dir);
	if (failed)
		ctl_die("explain: the offline run failed (%s)",
			WIFEXITED(status) ? "see above" : "killed");
}
