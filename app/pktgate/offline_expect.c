/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Expectations for the offline mode: what should become of each packet,
 * checked against what did (the packet's record in the trace file), so a
 * CI job fails when a ruleset change breaks one.
 *
 *   # packets are numbered from 1 in the order they were read
 *   1     out port1
 *   2-4   expect: drop ruleset_drop
 *   5     out port1 dnat 10.0.2.5:8080 rule nat:PREROUTING:1
 *   *     ct new
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "offline.h"

#define MAX_WORDS 32

struct expectation {
	unsigned int first, last;	/* packet numbers */
	unsigned int line;
	unsigned int nb_words;
	char *words[MAX_WORDS];
	char *text;
	bool used;
};

struct pktgate_expect {
	char *path;
	unsigned int nb, checked;
	struct expectation *e;
};

/* The words each check takes after its name: fixed or optional. */
static const struct {
	const char *name;
	unsigned int min, max;
} checks[] = {
	{ "out", 0, 1 }, { "drop", 0, 1 }, { "local", 0, 0 },
	{ "queued", 0, 0 }, { "dnat", 1, 1 }, { "snat", 1, 1 },
	{ "rule", 1, 1 }, { "policy", 1, 1 }, { "ct", 1, 1 },
};

static int
check_find(const char *w)
{
	unsigned int i;

	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if (strcmp(checks[i].name, w) == 0)
			return (int)i;
	return -1;
}

static int
parse_range(const char *s, unsigned int *first, unsigned int *last)
{
	unsigned long a, b;
	char *end;

	if (strcmp(s, "*") == 0) {
		*first = 1;
		*last = UINT_MAX;
		return 0;
	}
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-')
		b = strtoul(end + 1, &end, 10);
	if (*end != '\0' || a == 0 || b < a || b > UINT_MAX / 2 ||
			s[0] < '0' || s[0] > '9')
		return -EINVAL;
	*first = (unsigned int)a;
	*last = (unsigned int)b;
	return 0;
}

/* Check words @p w..: each a known check with the words it takes. */
static int
validate(struct expectation *x, unsigned int from, char *err, size_t errlen)
{
	unsigned int i = from, n;
	int c;

	if (i == x->nb_words) {
		snprintf(err, errlen, "no check after the packet numbers");
		return -EINVAL;
	}
	while (i < x->nb_words) {
		c = check_find(x->words[i]);
		if (c < 0) {
			snprintf(err, errlen,
				"'%s' is not a check (out, drop, local, queued, dnat, snat, rule, policy, ct)",
				x->words[i]);
			return -EINVAL;
		}
		i++;
		for (n = 0; n < checks[c].max && i < x->nb_words &&
				check_find(x->words[i]) < 0; n++)
			i++;
		if (n < checks[c].min) {
			snprintf(err, errlen, "%s: needs an argument",
				checks[c].name);
			return -EINVAL;
		}
	}
	return 0;
}

static void
expectation_free(struct expectation *x)
{
	unsigned int i;

	for (i = 0; i < x->nb_words; i++)
		free(x->words[i]);
	free(x->text);
}

void
pktgate_expect_free(struct pktgate_expect *x)
{
	unsigned int i;

	if (x == NULL)
		return;
	for (i = 0; i < x->nb; i++)
		expectation_free(&x->e[i]);
	free(x->e);
	free(x->path);
	free(x);
}

struct pktgate_expect *
pktgate_expect_load(const char *path, char *err, size_t errlen)
{
	struct pktgate_expect *x = calloc(1, sizeof(*x));
	char *line = NULL, *p, *w, why[160];
	struct expectation e, *ne;
	unsigned int lineno = 0, from;
	size_t cap = 0;
	FILE *f;

	if (x == NULL || (x->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		pktgate_expect_free(x);
		return NULL;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		pktgate_expect_free(x);
		return NULL;
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		p = strchr(line, '#');
		if (p != NULL)
			*p = '\0';
		memset(&e, 0, sizeof(e));
		e.line = lineno;
		for (w = strtok(line, " \t\r\n"); w != NULL;
				w = strtok(NULL, " \t\r\n")) {
			if (e.nb_words == MAX_WORDS) {
				snprintf(why, sizeof(why), "more than %u words",
					MAX_WORDS);
				goto bad;
			}
			e.words[e.nb_words] = strdup(w);
			if (e.words[e.nb_words++] == NULL) {
				snprintf(why, sizeof(why), "out of memory");
				goto bad;
			}
		}
		if (e.nb_words == 0)
			continue;
		if (parse_range(e.words[0], &e.first, &e.last) != 0) {
			snprintf(why, sizeof(why),
				"'%s' is not a packet number, N-M or *",
				e.words[0]);
			goto bad;
		}
		from = e.nb_words > 1 && strcmp(e.words[1], "expect:") == 0 ?
			2 : 1;
		if (validate(&e, from, why, sizeof(why)) != 0)
			goto bad;
		/* The checks, as the file says them, for messages. */
		e.text = strdup("");
		for (; from < e.nb_words && e.text != NULL; from++) {
			char *t;

			if (asprintf(&t, "%s%s%s", e.text,
					e.text[0] != '\0' ? " " : "",
					e.words[from]) < 0)
				t = NULL;
			free(e.text);
			e.text = t;
		}
		ne = realloc(x->e, sizeof(*ne) * (x->nb + 1));
		if (e.text == NULL || ne == NULL) {
			snprintf(why, sizeof(why), "out of memory");
			goto bad;
		}
		x->e = ne;
		x->e[x->nb++] = e;
	}
	free(line);
	fclose(f);
	return x;
bad:
	snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
	expectation_free(&e);
	free(line);
	fclose(f);
	pktgate_expect_free(x);
	return NULL;
}

/* "ADDR[:PORT]" against an output's "dst"/"dport" (or src). */
static bool
addr_match(json_t *o, const char *spec, const char *addr_key,
	const char *port_key)
{
	char buf[32];
	const char *colon = strchr(spec, ':'), *a;

	snprintf(buf, sizeof(buf), "%.*s",
		(int)(colon != NULL ? (size_t)(colon - spec) : strlen(spec)),
		spec);
	a = json_string_value(json_object_get(o, addr_key));
	if (a == NULL || strcmp(a, buf) != 0)
		return false;
	return colon == NULL || json_integer_value(json_object_get(o,
		port_key)) == strtol(colon + 1, NULL, 10);
}

/* Does any event of @p type match @p spec (TABLE:CHAIN[:N])? */
static bool
rule_seen(json_t *events, const char *type, const char *spec)
{
	char want[96], got[96];
	json_t *e;
	size_t i;

	snprintf(want, sizeof(want), "%s", spec);
	json_array_foreach(events, i, e) {
		if (json_is_true(json_object_get(e, "derived")) ||
				strcmp(json_string_value(json_object_get(e,
					"type")), type) != 0)
			continue;
		if (strcmp(type, "policy") == 0)
			snprintf(got, sizeof(got), "%s:%s",
				json_string_value(json_object_get(e, "table")),
				json_string_value(json_object_get(e, "chain")));
		else
			snprintf(got, sizeof(got), "%s:%s:%lld",
				json_string_value(json_object_get(e, "table")),
				json_string_value(json_object_get(e, "chain")),
				json_integer_value(json_object_get(e, "rule")));
		if (strcmp(got, want) == 0)
			return true;
	}
	return false;
}

static bool
ct_seen(json_t *events, const char *state)
{
	const char *s;
	json_t *e;
	size_t i;

	json_array_foreach(events, i, e) {
		s = json_string_value(json_object_get(e, "ct"));
		if (s != NULL && !json_is_true(json_object_get(e, "derived")) &&
				strcmp(s, state) == 0)
			return true;
	}
	return false;
}

/* Does one check (name and its argument, NULL if none) hold for @p r? */
static bool
check_one(const char *name, const char *arg, json_t *r)
{
	const char *verdict = json_string_value(json_object_get(r, "verdict"));
	json_t *outs = json_object_get(r, "out"), *o;
	size_t i;

	if (strcmp(name, "drop") == 0)
		return strcmp(verdict, "drop") == 0 && (arg == NULL ||
			strcmp(json_string_value(json_object_get(r, "reason")),
				arg) == 0);
	if (strcmp(name, "local") == 0 || strcmp(name, "queued") == 0)
		return strcmp(verdict, name) == 0;
	if (strcmp(name, "rule") == 0 || strcmp(name, "policy") == 0)
		return rule_seen(json_object_get(r, "events"), name, arg);
	if (strcmp(name, "ct") == 0)
		return ct_seen(json_object_get(r, "events"), arg);
	if (strcmp(name, "out") == 0 && strcmp(verdict, "out") != 0)
		return false;
	/* out PORT, dnat, snat: some output of the packet itself. */
	json_array_foreach(outs, i, o) {
		if (json_is_true(json_object_get(o, "answer")))
			continue;
		if (strcmp(name, "out") == 0 && (arg == NULL || strcmp(
				json_string_value(json_object_get(o, "port")),
				arg) == 0))
			return true;
		if (strcmp(name, "dnat") == 0 &&
				addr_match(o, arg, "dst", "dport"))
			return true;
		if (strcmp(name, "snat") == 0 &&
				addr_match(o, arg, "src", "sport"))
			return true;
	}
	return false;
}

/* What happened, in a few words, for a message. */
static void
describe(json_t *r, char *buf, size_t size)
{
	const char *verdict = json_string_value(json_object_get(r, "verdict"));
	json_t *outs = json_object_get(r, "out"), *o;
	size_t n, i;

	n = (size_t)snprintf(buf, size, "%s", verdict);
	if (strcmp(verdict, "drop") == 0 && n < size)
		n += (size_t)snprintf(buf + n, size - n, " %s",
			json_string_value(json_object_get(r, "reason")));
	json_array_foreach(outs, i, o) {
		if (n >= size)
			break;
		n += (size_t)snprintf(buf + n, size - n, "%s%s%s: %s",
			i == 0 ? " (" : "; ",
			json_is_true(json_object_get(o, "answer")) ?
			"answer " : "",
			json_string_value(json_object_get(o, "port")),
			json_string_value(json_object_get(o, "packet")));
	}
	if (json_array_size(outs) > 0 && n < size)
		snprintf(buf + n, size - n, ")");
}

unsigned int
pktgate_expect_check(const struct pktgate_expect *x, unsigned int n,
	json_t *r, FILE *f)
{
	struct pktgate_expect *xm = (struct pktgate_expect *)(uintptr_t)x;
	unsigned int i, k, failed = 0;
	struct expectation *e;
	const char *arg;
	char got[512];
	int c;

	for (i = 0; x != NULL && i < x->nb; i++) {
		e = &xm->e[i];
		if (n < e->first || n > e->last)
			continue;
		e->used = true;
		xm->checked++;
		k = strcmp(e->words[1], "expect:") == 0 ? 2 : 1;
		while (k < e->nb_words) {
			c = check_find(e->words[k++]);
			arg = k < e->nb_words && checks[c].max > 0 &&
				check_find(e->words[k]) < 0 ? e->words[k++] :
				NULL;
			if (!check_one(checks[c].name, arg, r))
				break;
			if (k == e->nb_words)
				k = UINT_MAX;
		}
		if (k == UINT_MAX)
			continue;
		describe(r, got, sizeof(got));
		fprintf(f, "packet %u: expected %s (%s:%u), got %s\n", n,
			e->text, x->path, e->line, got);
		failed++;
	}
	return failed;
}

unsigned int
pktgate_expect_count(const struct pktgate_expect *x)
{
	return x != NULL ? x->checked : 0;
}

/*
 * Expectations about packets that never came: a truncated input must not
 * pass for a good one. @return how many, each printed to @p f.
 */
unsigned int
pktgate_expect_unused(const struct pktgate_expect *x, FILE *f)
{
	unsigned int i, n = 0;

	for (i = 0; x != NULL && i < x->nb; i++) {
		if (x->e[i].used)
			continue;
		fprintf(f, "%s:%u: no packet %u (expected %s)\n", x->path,
			x->e[i].line, x->e[i].first, x->e[i].text);
		n++;
	}
	return n;
}
