/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include "pgt_json.h"

void
pgt_json_scan_reset(struct pgt_json_scan *s)
{
	memset(s, 0, sizeof(*s));
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
pgt_json_scan_feed(struct pgt_json_scan *s, const char *buf, size_t len)
{
	size_t i;
	char c;

	for (i = s->pos; i < len; i++) {
		c = buf[i];
		if (!s->started) {
			if (is_space(c))
				continue;
			if (c != '{' && c != '[')
				return -EINVAL;
			s->started = true;
			s->depth = 1;
			continue;
		}
		if (s->in_string) {
			if (s->escape)
				s->escape = false;
			else if (c == '\\')
				s->escape = true;
			else if (c == '"')
				s->in_string = false;
			continue;
		}
		switch (c) {
		case '"':
			s->in_string = true;
			break;
		case '{':
		case '[':
			s->depth++;
			break;
		case '}':
		case ']':
			if (--s->depth == 0) {
				s->pos = i + 1;
				return (int)(i + 1);
			}
			break;
		default:
			break;
		}
	}
	s->pos = len;
	return 0;
}

/* Skip one JSON value of any kind starting at *i (after whitespace). */
static int
skip_value(const char *buf, size_t len, size_t *i)
{
	struct pgt_json_scan s;
	int end;

	while (*i < len && is_space(buf[*i]))
		(*i)++;
	if (*i >= len)
		return -EINVAL;
	if (buf[*i] == '{' || buf[*i] == '[') {
		pgt_json_scan_reset(&s);
		end = pgt_json_scan_feed(&s, buf + *i, len - *i);
		if (end <= 0)
			return -EINVAL;
		*i += (size_t)end;
		return 0;
	}
	if (buf[*i] == '"') {
		for ((*i)++; *i < len; (*i)++) {
			if (buf[*i] == '\\')
				(*i)++;
			else if (buf[*i] == '"') {
				(*i)++;
				return 0;
			}
		}
		return -EINVAL;
	}
	/* number, true, false, null */
	while (*i < len && !is_space(buf[*i]) && buf[*i] != ',' &&
			buf[*i] != '}' && buf[*i] != ']')
		(*i)++;
	return 0;
}

static void
skip_space(const char *buf, size_t len, size_t *i)
{
	while (*i < len && is_space(buf[*i]))
		(*i)++;
}

int
pgt_json_array_offsets(const char *buf, size_t len, const char *key,
	size_t *offsets, size_t max)
{
	size_t klen = strlen(key);
	size_t i = 0, kstart, kend;
	int n;

	skip_space(buf, len, &i);
	if (i >= len || buf[i] != '{')
		return -EINVAL;
	i++;
	for (;;) {
		skip_space(buf, len, &i);
		if (i >= len)
			return -EINVAL;
		if (buf[i] == '}')
			return -ENOENT;
		if (buf[i] == ',') {
			i++;
			continue;
		}
		if (buf[i] != '"')
			return -EINVAL;
		kstart = i + 1;
		if (skip_value(buf, len, &i) < 0)
			return -EINVAL;
		kend = i - 1;	/* the closing quote */
		skip_space(buf, len, &i);
		if (i >= len || buf[i] != ':')
			return -EINVAL;
		i++;
		skip_space(buf, len, &i);
		if (kend - kstart == klen && i < len && buf[i] == '[' &&
				memcmp(buf + kstart, key, klen) == 0)
			break;
		if (skip_value(buf, len, &i) < 0)
			return -EINVAL;
	}
	/* buf[i] == '[': walk the elements. */
	i++;
	n = 0;
	for (;;) {
		skip_space(buf, len, &i);
		if (i >= len)
			return -EINVAL;
		if (buf[i] == ']')
			return n;
		if (buf[i] == ',') {
			i++;
			continue;
		}
		if ((size_t)n < max)
			offsets[n] = i;
		n++;
		if (skip_value(buf, len, &i) < 0)
			return -EINVAL;
	}
}

unsigned int
pgt_json_line_of(const char *buf, size_t off)
{
	unsigned int line = 1;
	size_t i;

	for (i = 0; i < off && buf[i] != '\0'; i++)
		if (buf[i] == '\n')
			line++;
	return line;
}
