/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgt_inet.h"

static int
parse_decimal(const char **sp, unsigned int max, unsigned int *out)
{
	const char *s = *sp;
	unsigned int v = 0;
	int digits = 0;

	while (*s >= '0' && *s <= '9') {
		/* "010" is ambiguous (octal to inet_aton): refuse it. */
		if (digits == 1 && v == 0)
			return -EINVAL;
		v = v * 10 + (unsigned int)(*s - '0');
		if (v > max || ++digits > 3)
			return -EINVAL;
		s++;
	}
	if (digits == 0)
		return -EINVAL;
	*sp = s;
	*out = v;
	return 0;
}

static int
parse_addr_prefix(const char **sp, uint32_t *addr)
{
	uint32_t a = 0;
	unsigned int octet;
	int i;

	for (i = 0; i < 4; i++) {
		if (i > 0) {
			if (**sp != '.')
				return -EINVAL;
			(*sp)++;
		}
		if (parse_decimal(sp, 255, &octet) < 0)
			return -EINVAL;
		a = (a << 8) | octet;
	}
	*addr = a;
	return 0;
}

int
pgt_inet_parse_addr(const char *s, uint32_t *addr)
{
	uint32_t a;

	if (s == NULL || parse_addr_prefix(&s, &a) < 0 || *s != '\0')
		return -EINVAL;
	*addr = a;
	return 0;
}

int
pgt_inet_parse_prefix(const char *s, bool host_bits_ok, uint32_t *addr,
	uint8_t *len)
{
	unsigned int l = 32;
	uint32_t a;

	if (s == NULL || parse_addr_prefix(&s, &a) < 0)
		return -EINVAL;
	if (*s == '/') {
		s++;
		if (parse_decimal(&s, 32, &l) < 0)
			return -EINVAL;
	}
	if (*s != '\0')
		return -EINVAL;
	if (!host_bits_ok && (a & ~pgt_inet_mask((uint8_t)l)) != 0)
		return -EINVAL;
	*addr = a;
	*len = (uint8_t)l;
	return 0;
}

char *
pgt_inet_format_addr(uint32_t addr, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
		(addr >> 8) & 0xff, addr & 0xff);
	return buf;
}

char *
pgt_inet_format_prefix(uint32_t addr, uint8_t len, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u/%u", addr >> 24, (addr >> 16) & 0xff,
		(addr >> 8) & 0xff, addr & 0xff, len);
	return buf;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
pgt_inet_parse_mac(const char *s, struct rte_ether_addr *mac)
{
	int i, hi, lo;

	if (s == NULL || strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++) {
		hi = hexval(s[3 * i]);
		lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac->addr_bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

char *
pgt_inet_format_mac(const struct rte_ether_addr *mac, char *buf, size_t size)
{
	const uint8_t *b = mac->addr_bytes;

	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x",
		b[0], b[1], b[2], b[3], b[4], b[5]);
	return buf;
}

int
pgt_inet_parse_listen(const char *spec, struct sockaddr_in *sa)
{
	char addr[INET_ADDRSTRLEN] = "127.0.0.1";
	const char *colon = strrchr(spec, ':'), *port = spec;
	unsigned long v;
	char *end;

	if (colon != NULL) {
		if ((size_t)(colon - spec) >= sizeof(addr))
			return -EINVAL;
		memcpy(addr, spec, colon - spec);
		addr[colon - spec] = '\0';
		port = colon + 1;
	}
	errno = 0;
	v = strtoul(port, &end, 10);
	if (errno != 0 || end == port || *end != '\0' || v == 0 || v > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)v);
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}
