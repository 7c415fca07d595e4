/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A minimal rtnetlink client for host interfaces: add and remove addresses,
 * dump routes. Management thread only; every call waits for the kernel's
 * answer (bounded by the socket's receive timeout).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <rte_byteorder.h>

#include "pgt_host_priv.h"

#define NL_BUFSIZE 32768

struct nl_request {
	struct nlmsghdr nh;
	union {
		struct ifaddrmsg ifa;
		struct rtmsg rtm;
	};
	char attrs[64];
};

static uint32_t nl_seq;

int
pgt_host_nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 2 };
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
			bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void
nl_put_attr(struct nl_request *req, unsigned short type, const void *data,
	unsigned short len)
{
	struct rtattr *rta = (struct rtattr *)((char *)req +
		NLMSG_ALIGN(req->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int
nl_send(int fd, struct nl_request *req)
{
	req->nh.nlmsg_seq = ++nl_seq;
	if (send(fd, req, req->nh.nlmsg_len, 0) < 0)
		return -errno;
	return 0;
}

/*
 * Read answers to request @p seq until its end: an error/ack message (its
 * error is returned) or, for a dump, NLMSG_DONE. Data messages are handed to
 * @p cb. Stale answers to earlier requests (after a timeout) are skipped.
 */
static int
nl_receive(int fd, uint32_t seq, void (*cb)(struct nlmsghdr *nh, void *arg),
	void *arg)
{
	static char buf[NL_BUFSIZE];
	struct nlmsghdr *nh;
	ssize_t n;
	int len;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		len = (int)n;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len);
				nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nh->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			if (cb != NULL)
				cb(nh, arg);
		}
	}
}

int
pgt_host_nl_addr(int fd, int ifindex, uint32_t addr, uint8_t len, bool add)
{
	struct nl_request req;
	uint32_t a = rte_cpu_to_be_32(addr), bcast;
	int rc;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.nh.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
		(add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	req.ifa.ifa_family = AF_INET;
	req.ifa.ifa_prefixlen = len;
	req.ifa.ifa_index = (unsigned int)ifindex;
	nl_put_attr(&req, IFA_LOCAL, &a, sizeof(a));
	nl_put_attr(&req, IFA_ADDRESS, &a, sizeof(a));
	/* As `ip addr add ... brd +`; /31 and /32 have none (RFC 3021). */
	if (add && len < 31) {
		bcast = rte_cpu_to_be_32(addr | (UINT32_MAX >> len));
		nl_put_attr(&req, IFA_BROADCAST, &bcast, sizeof(bcast));
	}
	rc = nl_send(fd, &req);
	if (rc != 0)
		return rc;
	return nl_receive(fd, req.nh.nlmsg_seq, NULL, NULL);
}

struct route_dump {
	int ifindex;
	void (*cb)(const struct pgt_host_route *r, void *arg);
	void *arg;
};

/* True if a multipath route has a next hop through @p ifindex. */
static bool
multipath_via(const struct rtattr *mp, int ifindex)
{
	const struct rtnexthop *nh = RTA_DATA(mp);
	int len = (int)RTA_PAYLOAD(mp);

	while (RTNH_OK(nh, len)) {
		if (nh->rtnh_ifindex == ifindex)
			return true;
		len -= NLMSG_ALIGN(nh->rtnh_len);
		nh = RTNH_NEXT(nh);
	}
	return false;
}

static void
route_msg(struct nlmsghdr *nh, void *argp)
{
	struct route_dump *d = argp;
	struct rtmsg *rtm = NLMSG_DATA(nh);
	struct pgt_host_route r;
	struct rtattr *rta;
	uint32_t table = rtm->rtm_table, v;
	int len = (int)RTM_PAYLOAD(nh), oif = 0;

	if (nh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != AF_INET ||
			rtm->rtm_type != RTN_UNICAST ||
			rtm->rtm_protocol == RTPROT_KERNEL)
		return;
	memset(&r, 0, sizeof(r));
	r.len = rtm->rtm_dst_len;
	r.protocol = rtm->rtm_protocol;
	for (rta = RTM_RTA(rtm); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		switch (rta->rta_type) {
		case RTA_DST:
			memcpy(&v, RTA_DATA(rta), 4);
			r.prefix = rte_be_to_cpu_32(v);
			break;
		case RTA_GATEWAY:
			memcpy(&v, RTA_DATA(rta), 4);
			r.gw = rte_be_to_cpu_32(v);
			break;
		case RTA_OIF:
			memcpy(&oif, RTA_DATA(rta), sizeof(oif));
			break;
		case RTA_TABLE:
			memcpy(&table, RTA_DATA(rta), sizeof(table));
			break;
		case RTA_MULTIPATH:
			r.multipath = multipath_via(rta, d->ifindex);
			break;
		}
	}
	if (table != RT_TABLE_MAIN || (oif != d->ifindex && !r.multipath))
		return;
	d->cb(&r, d->arg);
}

int
pgt_host_nl_routes(int fd, int ifindex,
	void (*cb)(const struct pgt_host_route *r, void *arg), void *arg)
{
	struct route_dump d = { .ifindex = ifindex, .cb = cb, .arg = arg };
	struct nl_request req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rtm));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.rtm.rtm_family = AF_INET;
	rc = nl_send(fd, &req);
	if (rc != 0)
		return rc;
	return nl_receive(fd, req.nh.nlmsg_seq, route_msg, &d);
}
