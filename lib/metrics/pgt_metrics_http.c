/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus endpoint: a minimal HTTP server on the management thread.
 *
 * Scrapers send one small GET and read one reply, so each connection is a
 * request, a rendered reply, and close (HTTP/1.0 style, "Connection: close"
 * on 1.1). Sockets are non-blocking and every call does bounded work, so a
 * slow or stuck scraper costs a slot, never the management loop; a
 * connection that has not finished within CLIENT_TIMEOUT_S is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>

#include "pgt_inet.h"
#include "pgt_log.h"
#include "pgt_metrics.h"
#include "pgt_metrics_priv.h"

#define MAX_CLIENTS		16
#define REQUEST_MAX		4096
#define CLIENT_TIMEOUT_S	5

struct http_client {
	int fd;			/* -1: free slot */
	time_t deadline;
	size_t req_len;
	char req[REQUEST_MAX];
	char *reply;		/* NULL while reading the request */
	size_t reply_len, sent;
};

static int listen_fd = -1;
static struct http_client clients[MAX_CLIENTS];

int
pgt_metrics_http_start(const char *spec)
{
	struct sockaddr_in sa;
	int fd, one = 1, rc;
	unsigned int i;

	if (listen_fd >= 0)
		return -EALREADY;
	if (pgt_inet_parse_listen(spec, &sa) != 0)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
			listen(fd, MAX_CLIENTS) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	listen_fd = fd;
	PGT_LOG(INFO, metrics, "Prometheus metrics on http://%s/metrics", spec);
	return 0;
}

static void
client_close(struct http_client *c)
{
	close(c->fd);
	c->fd = -1;
	free(c->reply);
	c->reply = NULL;
}

static void
reply(struct http_client *c, const char *status, const char *type,
	const char *body, size_t body_len, bool head)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL) {
		client_close(c);
		return;
	}
	fprintf(f, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n",
		status, type, body_len);
	if (!head)
		fwrite(body, 1, body_len, f);
	if (ferror(f)) {
		fclose(f);
		free(text);
		client_close(c);
		return;
	}
	fclose(f);
	c->reply = text;
	c->reply_len = len;
	c->sent = 0;
}

static void
error_reply(struct http_client *c, const char *status)
{
	char body[128];

	snprintf(body, sizeof(body), "%s\n", status);
	reply(c, status, "text/plain; charset=utf-8", body, strlen(body),
		false);
}

/* A complete request is in c->req: answer it. */
static void
answer(struct http_client *c)
{
	char method[8], target[256], version[16];
	bool head;
	char *text;
	size_t len;

	c->req[c->req_len] = '\0';
	if (sscanf(c->req, "%7s %255s %15s", method, target, version) != 3 ||
			strncmp(version, "HTTP/1.", 7) != 0) {
		error_reply(c, "400 Bad Request");
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		error_reply(c, "405 Method Not Allowed");
		return;
	}
	/* A query string (?name[]=...) is accepted and ignored. */
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, "/metrics") != 0) {
		error_reply(c, "404 Not Found");
		return;
	}
	if (pgt_metrics_render(&text, &len) != 0) {
		error_reply(c, "500 Internal Server Error");
		return;
	}
	reply(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text,
		len, head);
	free(text);
}

static void
client_read(struct http_client *c)
{
	ssize_t n;

	n = recv(c->fd, c->req + c->req_len, REQUEST_MAX - 1 - c->req_len, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(c);
		return;
	}
	if (n < 0)
		return;
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	if (strstr(c->req, "\r\n\r\n") != NULL ||
			strstr(c->req, "\n\n") != NULL)
		answer(c);
	else if (c->req_len == REQUEST_MAX - 1)
		error_reply(c, "431 Request Header Fields Too Large");
}

static void
client_write(struct http_client *c)
{
	ssize_t n;

	n = send(c->fd, c->reply + c->sent, c->reply_len - c->sent,
		MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->sent += (size_t)n;
	if (c->sent == c->reply_len) {
		shutdown(c->fd, SHUT_WR);
		client_close(c);
	}
}

static void
accept_clients(time_t now)
{
	unsigned int i;
	int fd;

	for (i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd >= 0)
			continue;
		fd = accept4(listen_fd, NULL, NULL,
			SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		clients[i].fd = fd;
		clients[i].deadline = now + CLIENT_TIMEOUT_S;
		clients[i].req_len = 0;
		clients[i].reply = NULL;
	}
}

void
pgt_metrics_http_poll(void)
{
	struct http_client *c;
	time_t now;
	unsigned int i;

	if (listen_fd < 0)
		return;
	now = time(NULL);
	accept_clients(now);
	for (i = 0; i < MAX_CLIENTS; i++) {
		c = &clients[i];
		if (c->fd < 0)
			continue;
		if (now > c->deadline) {
			client_close(c);
			continue;
		}
		if (c->reply == NULL)
			client_read(c);
		if (c->fd >= 0 && c->reply != NULL)
			client_write(c);
	}
}

void
pgt_metrics_http_stop(void)
{
	unsigned int i;

	if (listen_fd < 0)
		return;
	for (i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_close(&clients[i]);
	close(listen_fd);
	listen_fd = -1;
}
