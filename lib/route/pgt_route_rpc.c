/* SPDX-License-Identifier: BSD-3-Clause */
/* JSON-RPC methods for addresses and routes, and their configuration. */
#include <stdlib.h>
#include <string.h>

#include "pgt_inet.h"
#include "pgt_port.h"
#include "pgt_route.h"
#include "pgt_route_priv.h"
#include "pgt_rpc.h"

static const char *const nh_type_names[] = {
	[PGT_NH_UNICAST] = "unicast",
	[PGT_NH_LOCAL] = "local",
	[PGT_NH_BROADCAST] = "broadcast",
	[PGT_NH_BLACKHOLE] = "blackhole",
	[PGT_NH_UNREACHABLE] = "unreachable",
	[PGT_NH_PROHIBIT] = "prohibit",
};

static const char *const proto_names[] = {
	[PGT_ROUTE_PROTO_KERNEL] = "kernel",
	[PGT_ROUTE_PROTO_LOCAL] = "local",
	[PGT_ROUTE_PROTO_STATIC] = "static",
};

/* A data port by name: host interfaces carry no addresses or routes of
 * their own, they mirror their data port's. */
static int
port_arg(const char *name, struct pgt_rpc_err *err)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	int pid = pgt_port_find(name);

	if (pid < 0)
		return pgt_rpc_errorf(err, -ENODEV, "no port named '%s'", name);
	if (pgt_port_is_host(&v->port[pid]))
		return pgt_rpc_errorf(err, -EPERM,
			"%s is the host interface of %s: use %s", name,
			v->port[v->port[pid].host_of].name,
			v->port[v->port[pid].host_of].name);
	return pid;
}

/* ip_addr_add / ip_addr_del */

struct addr_args {
	struct pgt_prefix address;
	char port[PGT_RPC_STR_MAX];
};

static const struct pgt_rpc_param addr_params[] = {
	PGT_RPC_PARAM(struct addr_args, address, PGT_RPC_IFADDR, true,
		"address and prefix length, e.g. 10.0.1.1/24"),
	PGT_RPC_PARAM(struct addr_args, port, PGT_RPC_STRING, true,
		"port name"),
};

static int
rpc_addr_add(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct addr_args *args = argp;
	char a[PGT_INET_ADDRSTRLEN];
	int pid, rc;

	pid = port_arg(args->port, err);
	if (pid < 0)
		return pid;
	pgt_inet_format_prefix(args->address.addr, args->address.len, a,
		sizeof(a));
	rc = pgt_route_addr_add((uint16_t)pid, args->address.addr,
		args->address.len);
	switch (rc) {
	case 0:
		return 0;
	case -EEXIST:
		return pgt_rpc_errorf(err, rc,
			"%s: the address is already on a port, or its subnet is routed elsewhere",
			a);
	case -EINVAL:
		return pgt_rpc_errorf(err, rc,
			"%s: not a usable interface address (zero length, martian, network or broadcast address)",
			a);
	case -ENOSPC:
		return pgt_rpc_errorf(err, rc,
			"%s: port %s has %u addresses already, or the routing table is full",
			a, args->port, PGT_PORT_MAX_ADDRS);
	default:
		return rc;
	}
}

PGT_RPC_METHOD(addr_add_method, "ip_addr_add",
	"Add an address to a port (with its local and connected routes)",
	addr_params, struct addr_args, rpc_addr_add);

static int
rpc_addr_del(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct addr_args *args = argp;
	char a[PGT_INET_ADDRSTRLEN];
	int pid, rc;

	pid = port_arg(args->port, err);
	if (pid < 0)
		return pid;
	rc = pgt_route_addr_del((uint16_t)pid, args->address.addr,
		args->address.len);
	if (rc == -ENOENT)
		return pgt_rpc_errorf(err, rc, "%s is not an address of %s",
			pgt_inet_format_prefix(args->address.addr,
				args->address.len, a, sizeof(a)), args->port);
	return rc;
}

PGT_RPC_METHOD(addr_del_method, "ip_addr_del",
	"Remove an address from a port (and the routes it owns)",
	addr_params, struct addr_args, rpc_addr_del);

static int
rpc_addr_list(void *args, json_t **result, struct pgt_rpc_err *err)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	char a[PGT_INET_ADDRSTRLEN];
	const struct pgt_port *p;
	unsigned int i;
	uint16_t pid;

	*result = json_array();
	for (pid = 0; pid < v->nb_ports; pid++) {
		p = &v->port[pid];
		for (i = 0; i < p->nb_addrs; i++)
			json_array_append_new(*result, json_pack(
				"{s:s, s:s}", "port", p->name, "address",
				pgt_inet_format_prefix(p->addrs[i].addr,
					p->addrs[i].len, a, sizeof(a))));
	}
	return 0;
}

PGT_RPC_METHOD_NOARGS(addr_list_method, "ip_addr_list",
	"List the addresses of every port",
	rpc_addr_list);

/* ip_route_add / ip_route_del */

struct route_args {
	struct pgt_prefix prefix;
	uint32_t gateway;
	bool has_gateway;
	char port[PGT_RPC_STR_MAX];
	bool has_port;
	char type[PGT_RPC_STR_MAX];
	bool has_type;
	bool replace;
	bool has_replace;
};

static const struct pgt_rpc_param route_params[] = {
	PGT_RPC_PARAM(struct route_args, prefix, PGT_RPC_PREFIX, true,
		"destination prefix, e.g. 10.9.0.0/16 or 0.0.0.0/0"),
	PGT_RPC_PARAM_OPT(struct route_args, gateway, PGT_RPC_IPV4,
		"next hop address, on a connected subnet"),
	PGT_RPC_PARAM_OPT(struct route_args, port, PGT_RPC_STRING,
		"output port (the gateway's port if omitted)"),
	PGT_RPC_PARAM_OPT(struct route_args, type, PGT_RPC_STRING,
		"unicast (default), blackhole, unreachable or prohibit"),
	PGT_RPC_PARAM_OPT(struct route_args, replace, PGT_RPC_BOOL,
		"change the route to the prefix if there is one, without a moment with none (ip route replace)"),
};

static int
rpc_route_add(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct route_args *args = argp;
	const struct pgt_port_view *v = pgt_port_view_get();
	char a[PGT_INET_ADDRSTRLEN], g[PGT_INET_ADDRSTRLEN];
	enum pgt_nh_type type = PGT_NH_UNICAST;
	uint16_t port = 0;
	uint32_t gw = 0;
	int pid, rc;

	pgt_inet_format_prefix(args->prefix.addr, args->prefix.len, a,
		sizeof(a));
	if (args->has_type) {
		for (type = PGT_NH_UNICAST; type <= PGT_NH_PROHIBIT; type++)
			if (type != PGT_NH_LOCAL && type != PGT_NH_BROADCAST &&
					strcmp(nh_type_names[type],
						args->type) == 0)
				break;
		if (type > PGT_NH_PROHIBIT)
			return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
				"parameter 'type': '%s' is not unicast, blackhole, unreachable or prohibit",
				args->type);
	}
	if (type != PGT_NH_UNICAST) {
		if (args->has_gateway || args->has_port)
			return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
				"a %s route takes no gateway or port",
				args->type);
	} else {
		if (!args->has_gateway && !args->has_port)
			return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
				"a unicast route needs a gateway or a port");
		if (args->has_port) {
			pid = port_arg(args->port, err);
			if (pid < 0)
				return pid;
			port = (uint16_t)pid;
		}
		if (args->has_gateway) {
			gw = args->gateway;
			pgt_inet_format_addr(gw, g, sizeof(g));
			if (!args->has_port) {
				for (pid = 0; pid < v->nb_ports; pid++)
					if (pgt_port_on_link(&v->port[pid], gw))
						break;
				if (pid == v->nb_ports)
					return pgt_rpc_errorf(err,
						-ENETUNREACH,
						"gateway %s is not on a connected subnet",
						g);
				port = (uint16_t)pid;
			} else if (!pgt_port_on_link(&v->port[port], gw)) {
				return pgt_rpc_errorf(err, -ENETUNREACH,
					"gateway %s is not on a subnet of %s",
					g, args->port);
			}
			if (pgt_port_has_addr(&v->port[port], gw))
				return pgt_rpc_errorf(err, -EINVAL,
					"gateway %s is a local address", g);
		}
	}
	if (args->replace)
		rc = pgt_route_replace(args->prefix.addr, args->prefix.len,
			type, gw, port);
	else
		rc = pgt_route_add(args->prefix.addr, args->prefix.len, type,
			gw, port, PGT_ROUTE_PROTO_STATIC);
	if (rc == -EPERM)
		return pgt_rpc_errorf(err, rc,
			"the route to %s belongs to an address: delete the address",
			a);
	if (rc == -EEXIST)
		return pgt_rpc_errorf(err, rc, "a route to %s exists", a);
	if (rc == -ENOSPC)
		return pgt_rpc_errorf(err, rc,
			"routing table full: no room for %s", a);
	return rc;
}

PGT_RPC_METHOD(route_add_method, "ip_route_add",
	"Add a static route",
	route_params, struct route_args, rpc_route_add);

static int
rpc_route_del(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct route_args *args = argp;
	char a[PGT_INET_ADDRSTRLEN];
	struct pgt_route *r;

	pgt_inet_format_prefix(args->prefix.addr, args->prefix.len, a,
		sizeof(a));
	r = pgt_route_find(args->prefix.addr, args->prefix.len);
	if (r == NULL)
		return pgt_rpc_errorf(err, -ENOENT, "no route to %s", a);
	if (r->proto != PGT_ROUTE_PROTO_STATIC)
		return pgt_rpc_errorf(err, -EPERM,
			"%s is a %s route owned by an address: delete the address",
			a, proto_names[r->proto]);
	return pgt_route_del(args->prefix.addr, args->prefix.len);
}

static struct pgt_rpc_method route_del_method = {
	.name = "ip_route_del",
	.desc = "Delete a static route",
	.params = route_params,
	.nb_params = 1,
	.args_size = sizeof(struct route_args),
	.handler = rpc_route_del,
};
PGT_RPC_REGISTER(route_del_method);

/* ip_route_list / ip_route_get */

static json_t *
route_json(uint32_t prefix, uint8_t len, uint32_t nh_idx, int proto,
	bool installed)
{
	const struct pgt_nexthop *nh = &pgt_route_nexthops[nh_idx];
	const struct pgt_port_view *v = pgt_port_view_get();
	char a[PGT_INET_ADDRSTRLEN];
	json_t *o;

	o = json_pack("{s:s, s:s}", "prefix",
		pgt_inet_format_prefix(prefix, len, a, sizeof(a)),
		"type", nh_type_names[nh->type]);
	if (nh->type == PGT_NH_UNICAST || nh->type == PGT_NH_LOCAL ||
			nh->type == PGT_NH_BROADCAST)
		json_object_set_new(o, "port",
			json_string(v->port[nh->port].name));
	if (nh->gw != 0)
		json_object_set_new(o, "gateway", json_string(
			pgt_inet_format_addr(nh->gw, a, sizeof(a))));
	if (proto >= 0) {
		json_object_set_new(o, "proto", json_string(proto_names[proto]));
		json_object_set_new(o, "active", json_boolean(installed));
	}
	return o;
}

static int
route_cmp(const void *a, const void *b)
{
	const struct pgt_route *x = *(const struct pgt_route *const *)a;
	const struct pgt_route *y = *(const struct pgt_route *const *)b;

	if (x->key.addr != y->key.addr)
		return x->key.addr < y->key.addr ? -1 : 1;
	return (int)x->key.len - (int)y->key.len;
}

/* The routes sorted by prefix; caller frees. NULL with *n = 0 if none. */
static struct pgt_route **
sorted_routes(unsigned int *n)
{
	struct pgt_route **list;
	const void *key;
	void *data;
	uint32_t iter = 0;
	unsigned int cnt;

	cnt = (unsigned int)rte_hash_count(pgt_route_table);
	*n = 0;
	list = calloc(cnt + 1, sizeof(*list));
	if (list == NULL)
		return NULL;
	while (*n < cnt && rte_hash_iterate(pgt_route_table, &key, &data,
			&iter) >= 0)
		list[(*n)++] = data;
	qsort(list, *n, sizeof(*list), route_cmp);
	return list;
}

static int
rpc_route_list(void *args, json_t **result, struct pgt_rpc_err *err)
{
	struct pgt_route **list;
	unsigned int i, n;

	list = sorted_routes(&n);
	if (list == NULL)
		return -ENOMEM;
	*result = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(*result, route_json(list[i]->key.addr,
			list[i]->key.len, list[i]->nh, list[i]->proto,
			list[i]->installed));
	free(list);
	return 0;
}

PGT_RPC_METHOD_NOARGS(route_list_method, "ip_route_list",
	"List the routing table (connected, local and static routes)",
	rpc_route_list);

struct route_get_args {
	uint32_t address;
};

static int
rpc_route_get(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct route_get_args *args = argp;
	char a[PGT_INET_ADDRSTRLEN];
	int nh;

	nh = pgt_route_lookup(args->address);
	if (nh < 0)
		return pgt_rpc_errorf(err, -ENETUNREACH, "no route to %s",
			pgt_inet_format_addr(args->address, a, sizeof(a)));
	*result = route_json(args->address, 32, (uint32_t)nh, -1, true);
	return 0;
}

static const struct pgt_rpc_param route_get_params[] = {
	PGT_RPC_PARAM(struct route_get_args, address, PGT_RPC_IPV4, true,
		"destination to look up"),
};

PGT_RPC_METHOD(route_get_method, "ip_route_get",
	"Look a destination up as the fast path does",
	route_get_params, struct route_get_args, rpc_route_get);

/* Configuration */

static void
addr_save(json_t *calls)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	char a[PGT_INET_ADDRSTRLEN];
	unsigned int i;
	uint16_t pid;

	for (pid = 0; pid < v->nb_ports; pid++)
		for (i = 0; i < v->port[pid].nb_addrs; i++)
			pgt_rpc_save_call(calls, "ip_addr_add", json_pack(
				"{s:s, s:s}", "address", pgt_inet_format_prefix(
					v->port[pid].addrs[i].addr,
					v->port[pid].addrs[i].len, a, sizeof(a)),
				"port", v->port[pid].name));
}

static int
addr_plan(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	/* An address is on one port: moving it is a delete and an add. */
	static const char *const key[] = { "address", NULL };
	static const struct pgt_rpc_items items = { .add = "ip_addr_add",
		.del = "ip_addr_del", .key = key,
		.replace = PGT_RPC_REPLACE_BY_DELETE };

	return pgt_rpc_plan_items(&items, running, wanted, phase, plan, err);
}

static const char *const addr_methods[] = { "ip_addr_add", NULL };
static struct pgt_rpc_saver addr_saver = { .order = 20, .save = addr_save,
	.methods = addr_methods, .plan = addr_plan };
PGT_RPC_REGISTER_SAVER(addr_saver);

static void
route_save(json_t *calls)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	const struct pgt_nexthop *nh;
	char a[PGT_INET_ADDRSTRLEN];
	struct pgt_route **list;
	unsigned int i, n;
	json_t *params;

	list = sorted_routes(&n);
	for (i = 0; list != NULL && i < n; i++) {
		if (list[i]->proto != PGT_ROUTE_PROTO_STATIC)
			continue;
		nh = &pgt_route_nexthops[list[i]->nh];
		params = json_pack("{s:s}", "prefix", pgt_inet_format_prefix(
			list[i]->key.addr, list[i]->key.len, a, sizeof(a)));
		if (nh->type != PGT_NH_UNICAST) {
			json_object_set_new(params, "type",
				json_string(nh_type_names[nh->type]));
		} else {
			if (nh->gw != 0)
				json_object_set_new(params, "gateway",
					json_string(pgt_inet_format_addr(
						nh->gw, a, sizeof(a))));
			json_object_set_new(params, "port",
				json_string(v->port[nh->port].name));
		}
		pgt_rpc_save_call(calls, "ip_route_add", params);
	}
	free(list);
}

static int
route_plan(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	static const char *const key[] = { "prefix", NULL };
	static const struct pgt_rpc_items items = { .add = "ip_route_add",
		.del = "ip_route_del", .key = key, .del_params = key,
		.replace = PGT_RPC_REPLACE_BY_PARAM };

	return pgt_rpc_plan_items(&items, running, wanted, phase, plan, err);
}

static const char *const route_methods[] = { "ip_route_add", NULL };
static struct pgt_rpc_saver route_saver = { .order = 30, .save = route_save,
	.methods = route_methods, .plan = route_plan };
PGT_RPC_REGISTER_SAVER(route_saver);
