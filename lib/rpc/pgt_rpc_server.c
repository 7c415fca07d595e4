/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON-RPC server: a Unix socket, and optionally a TCP listener.
 *
 * One epoll set, non-blocking sockets, bounded buffers. Requests are JSON
 * objects back to back on the stream (no delimiter needed, as with SPDK);
 * each is answered in order. The management thread must never stall on a
 * client, so:
 *  - a request may not exceed PGT_RPC_MAX_REQUEST bytes: error, disconnect;
 *  - bytes that are not JSON: -32700 and disconnect (the stream's framing is
 *    lost, nothing after it can be trusted);
 *  - a partial request left idle for PGT_RPC_IDLE_TIMEOUT_S: disconnect;
 *  - a client that does not read its responses stops being read from once
 *    PGT_RPC_MAX_OUTPUT bytes are queued, and is dropped if it stays so;
 *  - at most PGT_RPC_MAX_CLIENTS connections; more are refused at accept.
 * A client that connects and sends nothing costs one slot and nothing else.
 *
 * The Unix socket's permissions say who may connect. TCP has no such
 * thing, so a TCP client puts a shared token in every request (a "token"
 * member beside "method"); a request without it, or with a wrong one, is
 * answered -32001 and its connection closed. The token is compared in
 * constant time and read from a file only its owner can read, never from
 * the command line (which every local user can see).
 */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rte_cycles.h>

#include "pgt_inet.h"
#include "pgt_json.h"
#include "pgt_log.h"
#include "pgt_rpc.h"

PGT_LOG_DECLARE(rpc);

#define PGT_RPC_MAX_CLIENTS	64
#define PGT_RPC_MAX_OUTPUT	(16u << 20)
#define PGT_RPC_IDLE_TIMEOUT_S	10
#define PGT_RPC_READ_CHUNK	65536
/* A token shorter than this could be guessed; longer is not needed. */
#define TOKEN_MIN		16
#define TOKEN_MAX		256

struct rpc_client {
	int fd;
	char *in;
	size_t in_len, in_cap;
	struct pgt_json_scan scan;
	char *out;
	size_t out_len, out_off, out_cap;
	uint64_t last_progress;	/* tsc of the last byte received */
	bool closing;		/* flush the output, then close */
	bool need_token;	/* came over TCP */
	char peer[INET_ADDRSTRLEN + 8];	/* "ADDR:PORT" of a TCP client */
};

static int listen_fd = -1;
static int tcp_fd = -1;
static char token[TOKEN_MAX + 1];
static int epoll_fd = -1;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct rpc_client *clients[PGT_RPC_MAX_CLIENTS];

unsigned int
pgt_rpc_server_nb_clients(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < PGT_RPC_MAX_CLIENTS; i++)
		n += clients[i] != NULL;
	return n;
}

static void
client_free(struct rpc_client *c)
{
	unsigned int i;

	for (i = 0; i < PGT_RPC_MAX_CLIENTS; i++)
		if (clients[i] == c)
			clients[i] = NULL;
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void
client_update_events(struct rpc_client *c)
{
	struct epoll_event ev = { .data.ptr = c };

	/* Stop reading while too much output is queued: backpressure. */
	if (!c->closing && c->out_len - c->out_off < PGT_RPC_MAX_OUTPUT)
		ev.events |= EPOLLIN;
	if (c->out_len > c->out_off)
		ev.events |= EPOLLOUT;
	epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

static int
client_queue(struct rpc_client *c, json_t *resp)
{
	char *text;
	size_t len, need;
	char *nbuf;

	text = json_dumps(resp, JSON_COMPACT);
	if (text == NULL)
		return -ENOMEM;
	len = strlen(text);
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	need = c->out_len + len + 1;
	if (need > c->out_cap) {
		nbuf = realloc(c->out, need);
		if (nbuf == NULL) {
			free(text);
			return -ENOMEM;
		}
		c->out = nbuf;
		c->out_cap = need;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';	/* for humans with socat */
	c->out_len += len + 1;
	free(text);
	return 0;
}

static void
client_error_close(struct rpc_client *c, int code, const char *msg)
{
	json_t *resp;

	resp = json_pack("{s:s, s:{s:i, s:s}, s:n}", "jsonrpc", "2.0",
		"error", "code", code, "message", msg, "id");
	if (resp != NULL) {
		client_queue(c, resp);
		json_decref(resp);
	}
	c->closing = true;
}

/* Is @p given the token? In constant time: the compare says nothing of
 * how much of a guess was right. */
static bool
token_is(const json_t *given)
{
	const char *g = json_string_value(given);
	size_t i, len = strlen(token);
	unsigned char diff = 0;

	if (g == NULL || strlen(g) != len)
		return false;
	for (i = 0; i < len; i++)
		diff |= (unsigned char)(g[i] ^ token[i]);
	return diff == 0;
}

/*
 * Take the "token" member out of @p req, so no handler or error message
 * sees it; true if it was the token. (A batch, which is refused anyway,
 * has none.)
 */
static bool
take_token(json_t *req)
{
	bool ok = token_is(json_object_get(req, "token"));

	json_object_del(req, "token");
	return ok;
}

/* Answer every complete request in the input buffer. */
static void
client_process(struct rpc_client *c)
{
	json_error_t jerr;
	json_t *req, *resp;
	char msg[256];
	int end;

	while (c->in_len > 0 && !c->closing) {
		end = pgt_json_scan_feed(&c->scan, c->in, c->in_len);
		if (end == 0) {
			/* Only whitespace so far: drop it. */
			if (!c->scan.started) {
				c->in_len = 0;
				pgt_json_scan_reset(&c->scan);
			}
			break;
		}
		if (end < 0) {
			client_error_close(c, PGT_RPC_PARSE_ERROR,
				"parse error: a request must be a JSON object");
			break;
		}
		req = json_loadb(c->in, (size_t)end, 0, &jerr);
		if (req == NULL) {
			snprintf(msg, sizeof(msg), "parse error: %s (column %d)",
				jerr.text, jerr.column);
			client_error_close(c, PGT_RPC_PARSE_ERROR, msg);
			break;
		}
		if (!take_token(req) && c->need_token) {
			json_decref(req);
			PGT_LOG(WARNING, rpc,
				"RPC client %s: request without the right token; closed",
				c->peer);
			client_error_close(c, PGT_RPC_UNAUTHORIZED,
				"unauthorized: a request over TCP must carry the token (member \"token\")");
			break;
		}
		resp = pgt_rpc_handle(req);
		json_decref(req);
		if (resp != NULL) {
			if (client_queue(c, resp) < 0)
				c->closing = true;
			json_decref(resp);
		}
		memmove(c->in, c->in + end, c->in_len - (size_t)end);
		c->in_len -= (size_t)end;
		pgt_json_scan_reset(&c->scan);
	}
	if (!c->closing && c->in_len > PGT_RPC_MAX_REQUEST)
		client_error_close(c, PGT_RPC_INVALID_REQUEST,
			"request too large");
}

/* Returns false when the client is gone. */
static bool
client_flush(struct rpc_client *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len && c->closing)
		return false;
	return true;
}

/* Returns false when the client is gone. */
static bool
client_read(struct rpc_client *c)
{
	size_t cap;
	ssize_t n;
	char *nbuf;
	int rounds;

	/* Bounded work per wakeup so one client cannot monopolise us. */
	for (rounds = 0; rounds < 16; rounds++) {
		if (c->in_cap - c->in_len < PGT_RPC_READ_CHUNK) {
			cap = c->in_cap * 2 < c->in_len + PGT_RPC_READ_CHUNK ?
				c->in_len + PGT_RPC_READ_CHUNK : c->in_cap * 2;
			nbuf = realloc(c->in, cap);
			if (nbuf == NULL)
				return false;
			c->in = nbuf;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len,
			MSG_DONTWAIT);
		if (n == 0)
			return false;
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return false;
		}
		c->in_len += (size_t)n;
		c->last_progress = rte_get_tsc_cycles();
		client_process(c);
		if (c->closing || c->out_len - c->out_off >= PGT_RPC_MAX_OUTPUT)
			break;
	}
	return true;
}

static void
server_accept(int lfd, bool need_token)
{
	struct sockaddr_in peer;
	socklen_t peer_len;
	struct epoll_event ev;
	struct rpc_client *c;
	char addr[INET_ADDRSTRLEN];
	unsigned int i;
	int fd;

	for (;;) {
		peer_len = sizeof(peer);
		fd = accept4(lfd, (struct sockaddr *)&peer, &peer_len,
			SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		for (i = 0; i < PGT_RPC_MAX_CLIENTS; i++)
			if (clients[i] == NULL)
				break;
		c = i < PGT_RPC_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
		if (c == NULL) {
			PGT_LOG(WARNING, rpc,
				"refusing RPC client: %u clients connected",
				pgt_rpc_server_nb_clients());
			close(fd);
			continue;
		}
		c->fd = fd;
		c->need_token = need_token;
		if (need_token && inet_ntop(AF_INET, &peer.sin_addr, addr,
				sizeof(addr)) != NULL)
			snprintf(c->peer, sizeof(c->peer), "%s:%u", addr,
				ntohs(peer.sin_port));
		c->last_progress = rte_get_tsc_cycles();
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		clients[i] = c;
	}
}

static void
expire_idle_partial(void)
{
	uint64_t limit = rte_get_tsc_hz() * PGT_RPC_IDLE_TIMEOUT_S;
	uint64_t now = rte_get_tsc_cycles();
	struct rpc_client *c;
	unsigned int i;

	for (i = 0; i < PGT_RPC_MAX_CLIENTS; i++) {
		c = clients[i];
		if (c == NULL || now - c->last_progress < limit)
			continue;
		/* Idle with a half request, or not reading its answers. */
		if (c->in_len > 0 || c->out_len > c->out_off) {
			PGT_LOG(NOTICE, rpc,
				"dropping RPC client stalled for %d s",
				PGT_RPC_IDLE_TIMEOUT_S);
			client_free(c);
		}
	}
}

void
pgt_rpc_server_poll(int timeout_ms)
{
	struct epoll_event evs[16];
	struct rpc_client *c;
	int n, i;
	bool alive;

	if (epoll_fd < 0)
		return;
	n = epoll_wait(epoll_fd, evs, RTE_DIM(evs), timeout_ms);
	for (i = 0; i < n; i++) {
		/* The listeners' data: NULL for Unix, &tcp_fd for TCP. */
		if (evs[i].data.ptr == NULL) {
			server_accept(listen_fd, false);
			continue;
		}
		if (evs[i].data.ptr == &tcp_fd) {
			server_accept(tcp_fd, true);
			continue;
		}
		c = evs[i].data.ptr;
		alive = true;
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			alive = client_read(c);
		if (alive)
			alive = client_flush(c);
		if (alive && c->out_off == c->out_len)
			c->last_progress = rte_get_tsc_cycles();
		if (!alive)
			client_free(c);
		else
			client_update_events(c);
	}
	expire_idle_partial();
}

static int
prepare_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sock_path)];
	char *slash;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	/* Is a daemon already answering there? */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int
pgt_rpc_server_start(const char *path, const char *group)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct group *gr = NULL;
	int rc;

	if (group != NULL) {
		gr = getgrnam(group);
		if (gr == NULL)
			return -ENOENT;
	}

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	rc = prepare_path(path);
	if (rc < 0)
		return rc;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		0);
	if (listen_fd < 0)
		return -errno;
	/* Whoever can write to the socket controls the gateway: the owner
	 * and one group only. */
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			(gr != NULL && chown(path, (uid_t)-1, gr->gr_gid) < 0) ||
			chmod(path, 0660) < 0 || listen(listen_fd, 16) < 0)
		goto fail;
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd,
			&ev) < 0)
		goto fail;
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	PGT_LOG(INFO, rpc, "JSON-RPC listening on %s", path);
	return 0;
fail:
	rc = -errno;
	close(listen_fd);
	listen_fd = -1;
	if (epoll_fd >= 0)
		close(epoll_fd);
	epoll_fd = -1;
	return rc;
}

/* The first line of @p path, which only its owner may read. */
static int
read_token(const char *path)
{
	struct stat st;
	size_t len;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	if (fstat(fileno(f), &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)
		rc = -EPERM;
	else if (fgets(token, sizeof(token), f) == NULL)
		rc = -EINVAL;
	fclose(f);
	len = rc == 0 ? strcspn(token, "\r\n") : 0;
	token[len] = '\0';
	if (rc == 0 && len < TOKEN_MIN)
		rc = -EINVAL;
	if (rc != 0)
		memset(token, 0, sizeof(token));
	return rc;
}

int
pgt_rpc_server_listen_tcp(const char *spec, const char *token_file)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tcp_fd };
	struct sockaddr_in sa;
	int fd, one = 1, rc;

	if (epoll_fd < 0 || tcp_fd >= 0)
		return -EALREADY;
	if (pgt_inet_parse_listen(spec, &sa) != 0)
		return -EINVAL;
	rc = read_token(token_file);
	if (rc != 0)
		return rc == -EINVAL ? -EBADMSG : rc;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
			listen(fd, 16) != 0 ||
			epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	tcp_fd = fd;
	PGT_LOG(INFO, rpc, "JSON-RPC listening on tcp %s (token required)",
		spec);
	return 0;
}

void
pgt_rpc_server_stop(void)
{
	unsigned int i;

	for (i = 0; i < PGT_RPC_MAX_CLIENTS; i++)
		if (clients[i] != NULL)
			client_free(clients[i]);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(sock_path);
	}
	if (tcp_fd >= 0)
		close(tcp_fd);
	if (epoll_fd >= 0)
		close(epoll_fd);
	listen_fd = epoll_fd = tcp_fd = -1;
	memset(token, 0, sizeof(token));
}
