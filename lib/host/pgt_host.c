/* SPDX-License-Identifier: BSD-3-Clause */
/* Host interfaces: creation in a network namespace, address and route sync. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include <rte_ethdev.h>

#include "pgt_host.h"
#include "pgt_host_priv.h"
#include "pgt_inet.h"
#include "pgt_log.h"
#include "pgt_port.h"
#include "pgt_route.h"
#include "pgt_rpc.h"

PGT_LOG_REGISTER(host);

/* One host interface, as the management thread keeps it. */
struct host_iface {
	bool used;
	uint16_t host_port;
	char ifname[PGT_HOST_IFNAME_MAX + 1];
	char netns[PGT_RPC_STR_MAX];
	int nl_fd;		/* rtnetlink, bound to the interface's netns */
	int ifindex;
};

/* Indexed by data port. */
static struct host_iface ifaces[RTE_MAX_ETHPORTS];
static unsigned int nb_created;

/*
 * Move the calling (management) thread into @p netns until netns_leave().
 * Devices and sockets created meanwhile stay bound to that namespace; the
 * thread must come back, or later work would happen in the wrong one.
 */
static int
netns_enter(const char *netns, int *saved)
{
	char path[PATH_MAX];
	int fd, rc;

	*saved = -1;
	if (netns[0] == '\0')
		return 0;
	if (netns[0] == '/')
		snprintf(path, sizeof(path), "%s", netns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (setns(fd, CLONE_NEWNET) != 0) {
		rc = -errno;
		close(fd);
		close(*saved);
		*saved = -1;
		return rc;
	}
	close(fd);
	return 0;
}

static void
netns_leave(int saved)
{
	if (saved < 0)
		return;
	RTE_VERIFY(setns(saved, CLONE_NEWNET) == 0);
	close(saved);
}

static bool
valid_ifname(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > PGT_HOST_IFNAME_MAX || strcmp(s, ".") == 0 ||
			strcmp(s, "..") == 0)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == '/' || s[i] == ':' || s[i] == ',' ||
				s[i] == '=' || s[i] > '~')
			return false;
	return true;
}

static void
sync_addr(struct host_iface *h, uint32_t addr, uint8_t len, bool add)
{
	char a[PGT_INET_ADDRSTRLEN];
	int rc;

	rc = pgt_host_nl_addr(h->nl_fd, h->ifindex, addr, len, add);
	/* The host may have it already (or have dropped it itself). */
	if (rc == 0 || (add && rc == -EEXIST) ||
			(!add && rc == -EADDRNOTAVAIL))
		return;
	PGT_LOG(WARNING, host, "%s: cannot %s %s on the host: %s", h->ifname,
		add ? "add" : "remove",
		pgt_inet_format_prefix(addr, len, a, sizeof(a)), strerror(-rc));
}

static void
addr_changed(uint16_t port, uint32_t addr, uint8_t len, bool added)
{
	if (ifaces[port].used)
		sync_addr(&ifaces[port], addr, len, added);
}

RTE_INIT(pgt_host_register_addr_cb)
{
	pgt_port_on_addr_change(addr_changed);
}

/* Create the tap, its netlink socket and learn its index, in its netns. */
static int
create_in_netns(struct host_iface *h, const struct pgt_port *dp,
	uint16_t *hp, struct pgt_port *hstate)
{
	char devname[32], args[128], mac[RTE_ETHER_ADDR_FMT_SIZE];
	int saved, rc;

	rc = netns_enter(h->netns, &saved);
	if (rc != 0)
		return rc;
	if (if_nametoindex(h->ifname) != 0) {
		rc = -EEXIST;
		goto out;
	}
	h->nl_fd = pgt_host_nl_open();
	if (h->nl_fd < 0) {
		rc = h->nl_fd;
		goto out;
	}
	snprintf(devname, sizeof(devname), "net_tap_pgthost%u", nb_created++);
	snprintf(args, sizeof(args), "iface=%s,mac=%s", h->ifname,
		pgt_inet_format_mac(&dp->mac, mac, sizeof(mac)));
	rc = pgt_port_attach(devname, args, hp, hstate);
	if (rc != 0) {
		close(h->nl_fd);
		goto out;
	}
	h->ifindex = (int)if_nametoindex(h->ifname);
	if (h->ifindex == 0) {
		rc = -ENODEV;
		pgt_port_detach(*hp);
		close(h->nl_fd);
	}
out:
	netns_leave(saved);
	return rc;
}

int
pgt_host_iface_add(uint16_t port, const char *ifname, const char *netns,
	const char *name)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	const struct pgt_port *dp = &v->port[port];
	struct host_iface *h = &ifaces[port];
	struct pgt_port_view *nv;
	struct pgt_port hstate;
	unsigned int i;
	uint16_t hp;
	int rc;

	if (h->used || dp->host_port != PGT_PORT_NONE)
		return -EEXIST;
	if (pgt_port_is_host(dp) || !valid_ifname(ifname) ||
			!pgt_port_valid_name(name) ||
			strlen(netns) >= sizeof(h->netns))
		return -EINVAL;
	if (pgt_port_find(name) >= 0)
		return -EEXIST;
	memset(h, 0, sizeof(*h));
	snprintf(h->ifname, sizeof(h->ifname), "%s", ifname);
	snprintf(h->netns, sizeof(h->netns), "%s", netns);
	rc = create_in_netns(h, dp, &hp, &hstate);
	if (rc != 0)
		return rc;

	/* The host sends nothing bigger than the data port carries. */
	rc = rte_eth_dev_set_mtu(hp, dp->mtu);
	if (rc != 0 && rc != -ENOTSUP)
		PGT_LOG(WARNING, host, "%s: cannot set MTU %u: %s", ifname,
			dp->mtu, strerror(-rc));
	if (!dp->up)
		rte_eth_dev_set_link_down(hp);
	nv = pgt_port_view_copy();
	if (nv == NULL) {
		pgt_port_detach(hp);
		close(h->nl_fd);
		return -ENOMEM;
	}
	hstate.host_of = port;
	hstate.up = dp->up;
	hstate.mtu = dp->mtu;
	snprintf(hstate.name, sizeof(hstate.name), "%s", name);
	nv->port[hp] = hstate;
	nv->port[port].host_port = hp;
	nv->nb_ports = RTE_MAX(nv->nb_ports, (uint16_t)(hp + 1));
	pgt_port_view_commit(nv);
	/* The view dp pointed into is gone. */
	dp = &pgt_port_view_get()->port[port];
	h->host_port = hp;
	h->used = true;
	pgt_port_renamed();
	for (i = 0; i < dp->nb_addrs; i++)
		sync_addr(h, dp->addrs[i].addr, dp->addrs[i].len, true);
	PGT_LOG(INFO, host, "%s: host interface %s%s%s (port %s)",
		dp->name, ifname, netns[0] != '\0' ? " in netns " : "", netns,
		name);
	return 0;
}

int
pgt_host_socket(uint16_t port, int type)
{
	const struct host_iface *h;
	int saved, fd, rc;

	if (port >= RTE_MAX_ETHPORTS || !ifaces[port].used)
		return -ENODEV;
	h = &ifaces[port];
	rc = netns_enter(h->netns, &saved);
	if (rc != 0)
		return rc;
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
	} else if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, h->ifname,
			(socklen_t)strlen(h->ifname)) != 0) {
		rc = -errno;
		close(fd);
	}
	netns_leave(saved);
	return rc != 0 ? rc : fd;
}

/* RPC: host_iface_add */

struct iface_add_args {
	char port[PGT_RPC_STR_MAX];
	char ifname[PGT_RPC_STR_MAX];
	bool has_ifname;
	char netns[PGT_RPC_STR_MAX];
	bool has_netns;
	char name[PGT_RPC_STR_MAX];
	bool has_name;
};

static int
rpc_iface_add(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct iface_add_args *args = argp;
	const struct pgt_port_view *v = pgt_port_view_get();
	const char *ifname, *netns;
	char name[PGT_RPC_STR_MAX];
	int pid, rc;

	pid = pgt_port_find(args->port);
	if (pid < 0)
		return pgt_rpc_errorf(err, -ENODEV, "no port named '%s'",
			args->port);
	if (pgt_port_is_host(&v->port[pid]))
		return pgt_rpc_errorf(err, -EINVAL,
			"%s is a host interface itself", args->port);
	if (v->port[pid].host_port != PGT_PORT_NONE)
		return pgt_rpc_errorf(err, -EEXIST,
			"%s has a host interface already (%s)", args->port,
			v->port[v->port[pid].host_port].name);
	ifname = args->has_ifname ? args->ifname : args->port;
	netns = args->has_netns ? args->netns : "";
	if (!valid_ifname(ifname))
		return pgt_rpc_errorf(err, -EINVAL,
			"invalid interface name '%s': 1-%u characters, no blank, '/', ':', ',' or '='",
			ifname, PGT_HOST_IFNAME_MAX);
	if (args->has_name)
		snprintf(name, sizeof(name), "%s", args->name);
	else if (strlen(args->port) + sizeof("-host") > sizeof(name))
		name[0] = '\0';
	else
		snprintf(name, sizeof(name), "%.*s-host",
			(int)(sizeof(name) - sizeof("-host")), args->port);
	if (!pgt_port_valid_name(name))
		return pgt_rpc_errorf(err, -EINVAL,
			"invalid port name '%s': 1-%u letters, digits, '_', '-' or '.', not starting with a digit (give 'name')",
			name, PGT_PORT_NAMESIZE - 1);
	if (pgt_port_find(name) >= 0)
		return pgt_rpc_errorf(err, -EEXIST, "port name '%s' is taken",
			name);
	rc = pgt_host_iface_add((uint16_t)pid, ifname, netns, name);
	if (rc == -ENOENT)
		return pgt_rpc_errorf(err, rc, "no network namespace '%s'",
			netns);
	if (rc == -EEXIST)
		return pgt_rpc_errorf(err, rc,
			"an interface named '%s' exists in %s%s", ifname,
			netns[0] != '\0' ? "network namespace " :
				"the daemon's network namespace", netns);
	if (rc == -ENOBUFS)
		return pgt_rpc_errorf(err, rc,
			"cannot create host interface %s: its receive rings would leave too few packet buffers (start pktgate with more --mbufs)",
			ifname);
	if (rc != 0)
		return pgt_rpc_errorf(err, rc,
			"cannot create host interface %s: %s", ifname,
			strerror(-rc));
	*result = json_pack("{s:s, s:s}", "name", name, "ifname", ifname);
	return 0;
}

static const struct pgt_rpc_param iface_add_params[] = {
	PGT_RPC_PARAM(struct iface_add_args, port, PGT_RPC_STRING, true,
		"data port"),
	PGT_RPC_PARAM_OPT(struct iface_add_args, ifname, PGT_RPC_STRING,
		"kernel interface name (default: the port's name)"),
	PGT_RPC_PARAM_OPT(struct iface_add_args, netns, PGT_RPC_STRING,
		"network namespace, a name under /run/netns or a path (default: the daemon's)"),
	PGT_RPC_PARAM_OPT(struct iface_add_args, name, PGT_RPC_STRING,
		"pktgate's name for it (default: <port>-host)"),
};

PGT_RPC_METHOD(iface_add_method, "host_iface_add",
	"Give a data port a host interface: a tap in the host kernel with the port's MAC, MTU and addresses, through which the host's programs send and receive",
	iface_add_params, struct iface_add_args, rpc_iface_add);

/* RPC: ip_route_import */

/* The host's routes, read from every namespace before any is imported. */
struct route_list {
	uint16_t port;
	unsigned int n, cap;
	struct host_route_entry {
		struct pgt_host_route r;
		uint16_t port;
	} *e;
	bool no_mem;
};

static void
collect_route(const struct pgt_host_route *r, void *arg)
{
	struct route_list *l = arg;
	struct host_route_entry *e;

	if (l->n == l->cap) {
		e = realloc(l->e, sizeof(*e) * (l->cap == 0 ? 64 : l->cap * 2));
		if (e == NULL) {
			l->no_mem = true;
			return;
		}
		l->e = e;
		l->cap = l->cap == 0 ? 64 : l->cap * 2;
	}
	l->e[l->n].r = *r;
	l->e[l->n].port = l->port;
	l->n++;
}

static void
import_route(const struct pgt_host_route *r, uint16_t port, json_t *imported,
	json_t *skipped)
{
	const struct pgt_port *p = &pgt_port_view_get()->port[port];
	char pfx[PGT_INET_ADDRSTRLEN], gw[PGT_INET_ADDRSTRLEN];
	const char *why = NULL;
	int rc;

	pgt_inet_format_prefix(r->prefix, r->len, pfx, sizeof(pfx));
	pgt_inet_format_addr(r->gw, gw, sizeof(gw));
	if (r->multipath)
		why = "multipath routes are not supported";
	else if (r->gw != 0 && !pgt_port_on_link(p, r->gw))
		why = "gateway is not on a subnet of the port";
	else if (r->gw != 0 && pgt_port_has_addr(p, r->gw))
		why = "gateway is a local address";
	if (why == NULL) {
		rc = pgt_route_add(r->prefix, r->len, PGT_NH_UNICAST, r->gw,
			port, PGT_ROUTE_PROTO_STATIC);
		if (rc == -EEXIST)
			why = "pktgate has a route for this prefix";
		else if (rc == -ENOSPC)
			why = "routing table full";
		else if (rc != 0)
			why = strerror(-rc);
	}
	if (why != NULL) {
		json_array_append_new(skipped, json_pack("{s:s, s:s, s:s}",
			"prefix", pfx, "port", p->name, "reason", why));
		return;
	}
	json_array_append_new(imported, r->gw != 0 ?
		json_pack("{s:s, s:s, s:s}", "prefix", pfx, "gateway", gw,
			"port", p->name) :
		json_pack("{s:s, s:s}", "prefix", pfx, "port", p->name));
}

static int
rpc_route_import(void *args, json_t **result, struct pgt_rpc_err *err)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	struct route_list l = { 0 };
	json_t *imported, *skipped;
	unsigned int i;
	uint16_t port;
	int rc;

	(void)args;
	for (port = 0; port < v->nb_ports; port++) {
		if (!ifaces[port].used)
			continue;
		l.port = port;
		rc = pgt_host_nl_routes(ifaces[port].nl_fd,
			ifaces[port].ifindex, collect_route, &l);
		if (rc == 0 && l.no_mem)
			rc = -ENOMEM;
		if (rc != 0) {
			free(l.e);
			return pgt_rpc_errorf(err, rc,
				"cannot read the host's routes via %s: %s (nothing imported)",
				ifaces[port].ifname, strerror(-rc));
		}
	}
	imported = json_array();
	skipped = json_array();
	for (i = 0; i < l.n; i++)
		import_route(&l.e[i].r, l.e[i].port, imported, skipped);
	free(l.e);
	*result = json_pack("{s:o, s:o}", "imported", imported, "skipped",
		skipped);
	return 0;
}

PGT_RPC_METHOD_NOARGS(route_import_method, "ip_route_import",
	"Copy into pktgate's table the routes the host kernel holds through the host interfaces (not the connected ones): e.g. those of a routing daemon",
	rpc_route_import);

static void
host_save(json_t *calls)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	const struct host_iface *h;
	json_t *params;
	uint16_t port;

	for (port = 0; port < v->nb_ports; port++) {
		h = &ifaces[port];
		if (!h->used)
			continue;
		params = json_pack("{s:s, s:s, s:s}", "port",
			v->port[port].name, "ifname", h->ifname, "name",
			v->port[h->host_port].name);
		if (h->netns[0] != '\0')
			json_object_set_new(params, "netns",
				json_string(h->netns));
		pgt_rpc_save_call(calls, "host_iface_add", params);
	}
}

/* After ports are named (10), before addresses (20) so they reach the host. */
/* A call of @p calls matching none of @p of (its params within, or around), or NULL. */
static json_t *
host_iface_unmatched(json_t *calls, json_t *of, bool within)
{
	json_t *c, *o, *cp, *op;
	size_t i, j;

	json_array_foreach(calls, i, c) {
		cp = json_object_get(c, "params");
		json_array_foreach(of, j, o) {
			op = json_object_get(o, "params");
			if (within ? pgt_rpc_params_within(cp, op) :
					pgt_rpc_params_within(op, cp))
				break;
		}
		if (j == json_array_size(of))
			return cp;
	}
	return NULL;
}

/*
 * A host interface is a kernel tap the host's programs and routes hold on
 * to: a reload neither makes nor removes one. A file's call may leave out
 * what the saved one spells (the host port's name).
 */
static int
host_plan(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	json_t *p;

	RTE_SET_USED(plan);
	if (phase != PGT_RPC_PHASE_ADD)
		return 0;
	p = host_iface_unmatched(wanted, running, true);
	if (p != NULL)
		return pgt_rpc_errorf(err, -EPERM,
			"host_iface_add for port %s: host interfaces are made only at start (restart to apply)",
			json_string_value(json_object_get(p, "port")));
	p = host_iface_unmatched(running, wanted, false);
	if (p != NULL)
		return pgt_rpc_errorf(err, -EPERM,
			"the file has no host_iface_add for port %s: host interfaces are removed only by a restart",
			json_string_value(json_object_get(p, "port")));
	return 0;
}

static const char *const host_methods[] = { "host_iface_add", NULL };
static struct pgt_rpc_saver host_saver = { .order = 15, .save = host_save,
	.methods = host_methods, .plan = host_plan };
PGT_RPC_REGISTER_SAVER(host_saver);
