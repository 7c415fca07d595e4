/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Printers in iptables' own formats: iptables-save (which Linux's
 * iptables-restore accepts, and which pktgate's restore reads back to the
 * same text) and iptables -S.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgt_inet.h"
#include "pgt_ruleset_priv.h"

void
pgt_rs_print_port_range(FILE *f, uint16_t lo, uint16_t hi)
{
	if (lo == hi)
		fprintf(f, "%u", lo);
	else
		fprintf(f, "%u:%u", lo, hi);
}

/* As libxtables' xtables_save_string(): bare if only [A-Za-z0-9_-]. */
void
pgt_rs_print_quoted(FILE *f, const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (!(*p >= 'A' && *p <= 'Z') && !(*p >= 'a' && *p <= 'z') &&
				!(*p >= '0' && *p <= '9') && *p != '_' &&
				*p != '-')
			break;
	if (*p == '\0' && *s != '\0') {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\' || *p == '\'')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void
print_addr(FILE *f, const char *opt, uint32_t addr, uint32_t mask, bool inv)
{
	char a[PGT_INET_ADDRSTRLEN], m[PGT_INET_ADDRSTRLEN];
	unsigned int len = (unsigned int)__builtin_popcount(mask);

	if (mask == 0 && !inv)
		return;
	fprintf(f, "%s %s %s", inv ? " !" : "", opt,
		pgt_inet_format_addr(addr, a, sizeof(a)));
	if (pgt_inet_mask((uint8_t)len) == mask)
		fprintf(f, "/%u", len);
	else
		fprintf(f, "/%s", pgt_inet_format_addr(mask, m, sizeof(m)));
}

static void
print_jump(FILE *f, const struct pgt_rs_rule *r)
{
	switch (r->kind) {
	case PGT_RS_ACCEPT:
		fputs(" -j ACCEPT", f);
		break;
	case PGT_RS_DROP:
		fputs(" -j DROP", f);
		break;
	case PGT_RS_RETURN:
		fputs(" -j RETURN", f);
		break;
	case PGT_RS_JUMP:
		fprintf(f, " -j %s", r->jump);
		break;
	case PGT_RS_GOTO:
		fprintf(f, " -g %s", r->jump);
		break;
	case PGT_RS_TARGET:
		fprintf(f, " -j %s", r->target->name);
		if (r->target->print != NULL)
			r->target->print(r->tdata, f);
		break;
	default:
		break;
	}
}

void
pgt_rs_print_rule(FILE *f, const char *chain, const struct pgt_rs_rule *r,
	bool counters)
{
	const char *pname;
	uint64_t p, b;
	unsigned int i;

	if (counters) {
		pgt_ruleset_counter_read(r->counter, &p, &b);
		fprintf(f, "[%" PRIu64 ":%" PRIu64 "] ", p, b);
	}
	fprintf(f, "-A %s", chain);
	print_addr(f, "-s", r->src, r->smsk, r->inv & PGT_RS_INV_SRC);
	print_addr(f, "-d", r->dst, r->dmsk, r->inv & PGT_RS_INV_DST);
	if (r->in[0] != '\0')
		fprintf(f, "%s -i %s", (r->inv & PGT_RS_INV_IN) ? " !" : "",
			r->in);
	if (r->out[0] != '\0')
		fprintf(f, "%s -o %s", (r->inv & PGT_RS_INV_OUT) ? " !" : "",
			r->out);
	if (r->proto != 0) {
		pname = pgt_rs_proto_name(r->proto);
		fprintf(f, "%s -p ", (r->inv & PGT_RS_INV_PROTO) ? " !" : "");
		if (pname != NULL)
			fputs(pname, f);
		else
			fprintf(f, "%u", r->proto);
	}
	if (r->frag != PGT_RS_FRAG_ANY)
		fputs(r->frag == PGT_RS_FRAG_NOT ? " ! -f" : " -f", f);
	for (i = 0; i < r->nb_matches; i++) {
		fprintf(f, " -m %s", r->m[i]->ops->name);
		if (r->m[i]->ops->print != NULL)
			r->m[i]->ops->print(r->m[i]->data, f);
	}
	print_jump(f, r);
	fputc('\n', f);
}

static int
chain_cmp(const void *a, const void *b)
{
	const struct pgt_rs_chain *x = *(const struct pgt_rs_chain *const *)a;
	const struct pgt_rs_chain *y = *(const struct pgt_rs_chain *const *)b;

	if (x->builtin != y->builtin)
		return x->builtin ? -1 : 1;
	if (x->builtin)
		return x->slot < y->slot ? -1 : 1;
	return strcmp(x->name, y->name);
}

unsigned int
pgt_rs_sorted_chains(const struct pgt_rs_mtable *t, const char *chain,
	struct pgt_rs_chain **out)
{
	unsigned int i, n = 0;

	for (i = 0; i < t->nb_chains; i++)
		if (t->chains[i] != NULL && (chain == NULL ||
				strcmp(t->chains[i]->name, chain) == 0))
			out[n++] = t->chains[i];
	qsort(out, n, sizeof(*out), chain_cmp);
	return n;
}

void
pgt_rs_list_rules(FILE *f, int table, const char *chain, bool counters)
{
	static struct pgt_rs_chain *list[PGT_RS_MAX_CHAINS];
	const struct pgt_rs_mtable *t = pgt_rs_live()->t[table];
	const struct pgt_rs_chain *c;
	unsigned int i, j, n;
	uint64_t p, b;

	n = pgt_rs_sorted_chains(t, chain, list);
	for (i = 0; i < n; i++) {
		c = list[i];
		if (c->builtin) {
			fprintf(f, "-P %s %s", c->name,
				c->policy == PGT_RS_ACCEPT ? "ACCEPT" : "DROP");
			if (counters) {
				pgt_ruleset_counter_read(c->counter, &p, &b);
				fprintf(f, " -c %" PRIu64 " %" PRIu64, p, b);
			}
			fputc('\n', f);
		} else {
			fprintf(f, "-N %s\n", c->name);
		}
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < list[i]->nb_rules; j++)
			pgt_rs_print_rule(f, list[i]->name, list[i]->rules[j],
				counters);
}

static bool
table_is_default(const struct pgt_rs_mtable *t)
{
	unsigned int i;

	for (i = 0; i < t->nb_chains; i++)
		if (t->chains[i] != NULL && (!t->chains[i]->builtin ||
				t->chains[i]->nb_rules > 0 ||
				t->chains[i]->policy != PGT_RS_ACCEPT))
			return false;
	return true;
}

void
pgt_ruleset_save(int table, bool counters, bool header, FILE *f)
{
	static struct pgt_rs_chain *list[PGT_RS_MAX_CHAINS];
	const struct pgt_rs_mtable *t;
	const struct pgt_rs_chain *c;
	char when[64];
	unsigned int i, j, n;
	uint64_t p, b;
	time_t now = time(NULL);
	int tb;

	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", localtime(&now));
	for (tb = 0; tb < PGT_TABLE_MAX; tb++) {
		t = pgt_rs_live()->t[tb];
		if (table >= 0 ? tb != table : table_is_default(t))
			continue;
		if (header)
			fprintf(f, "# Generated by pktgate v%s on %s\n",
				PGT_VERSION, when);
		fprintf(f, "*%s\n", pgt_rs_table_names[tb]);
		n = pgt_rs_sorted_chains(t, NULL, list);
		for (i = 0; i < n; i++) {
			c = list[i];
			p = 0;
			b = 0;
			if (c->builtin && counters)
				pgt_ruleset_counter_read(c->counter, &p, &b);
			fprintf(f, ":%s %s [%" PRIu64 ":%" PRIu64 "]\n", c->name,
				!c->builtin ? "-" :
				c->policy == PGT_RS_ACCEPT ? "ACCEPT" : "DROP",
				p, b);
		}
		for (i = 0; i < n; i++)
			for (j = 0; j < list[i]->nb_rules; j++)
				pgt_rs_print_rule(f, list[i]->name,
					list[i]->rules[j], counters);
		fputs("COMMIT\n", f);
		if (header)
			fprintf(f, "# Completed on %s\n", when);
	}
}

/* iptables -L -n [-v] [-x] [--line-numbers] (iptables.c print_header(),
 * print_firewall(), xtables_print_num()), column for column. */

static void
list_num(FILE *f, uint64_t n, bool exact)
{
	static const char units[] = "KMGT";
	unsigned int u;

	if (exact) {
		fprintf(f, "%8" PRIu64 " ", n);
		return;
	}
	if (n <= 99999) {
		fprintf(f, "%5" PRIu64 " ", n);
		return;
	}
	for (u = 0; u < 4; u++) {
		n = (n + 500) / 1000;
		if (n <= 9999 || u == 3) {
			fprintf(f, "%4" PRIu64 "%c ", n, units[u]);
			return;
		}
	}
}

static void
list_addr(FILE *f, uint32_t addr, uint32_t mask, bool inv)
{
	char a[PGT_INET_ADDRSTRLEN], m[PGT_INET_ADDRSTRLEN], buf[40];
	unsigned int len = (unsigned int)__builtin_popcount(mask);

	pgt_inet_format_addr(addr, a, sizeof(a));
	if (mask == UINT32_MAX)
		snprintf(buf, sizeof(buf), "%s", a);
	else if (pgt_inet_mask((uint8_t)len) == mask)
		snprintf(buf, sizeof(buf), "%s/%u", a, len);
	else
		snprintf(buf, sizeof(buf), "%s/%s", a,
			pgt_inet_format_addr(mask, m, sizeof(m)));
	fprintf(f, "%c%-19s ", inv ? '!' : ' ', buf);
}

static void
list_iface(FILE *f, const char *name, bool inv, bool first)
{
	char buf[IFNAMSIZ + 2];

	snprintf(buf, sizeof(buf), "%s%s", inv ? "!" : "",
		name[0] != '\0' ? name : "*");
	fprintf(f, first ? " %-6s " : "%-6s ", buf);
}

static void
list_rule(FILE *f, const struct pgt_rs_rule *r, unsigned int num,
	unsigned int flags)
{
	const char *target = "";
	uint64_t p, b;
	unsigned int i;

	if (flags & PGT_RS_LIST_LINENUMBERS)
		fprintf(f, "%-4u ", num);
	if (flags & PGT_RS_LIST_VERBOSE) {
		pgt_ruleset_counter_read(r->counter, &p, &b);
		list_num(f, p, flags & PGT_RS_LIST_EXACT);
		list_num(f, b, flags & PGT_RS_LIST_EXACT);
	}
	switch (r->kind) {
	case PGT_RS_ACCEPT:
		target = "ACCEPT";
		break;
	case PGT_RS_DROP:
		target = "DROP";
		break;
	case PGT_RS_RETURN:
		target = "RETURN";
		break;
	case PGT_RS_JUMP:
	case PGT_RS_GOTO:
		target = r->jump;
		break;
	case PGT_RS_TARGET:
		target = r->target->list_name != NULL ?
			r->target->list_name : r->target->name;
		break;
	default:
		break;
	}
	fprintf(f, "%-9s %c%-5u%c%c ", target,
		(r->inv & PGT_RS_INV_PROTO) ? '!' : ' ', r->proto,
		r->frag == PGT_RS_FRAG_NOT ? '!' : '-',
		r->frag != PGT_RS_FRAG_ANY ? 'f' : '-');
	if (flags & PGT_RS_LIST_VERBOSE) {
		list_iface(f, r->in, r->inv & PGT_RS_INV_IN, true);
		list_iface(f, r->out, r->inv & PGT_RS_INV_OUT, false);
	}
	list_addr(f, r->src, r->smsk, r->inv & PGT_RS_INV_SRC);
	list_addr(f, r->dst, r->dmsk, r->inv & PGT_RS_INV_DST);
	if (r->kind == PGT_RS_GOTO)
		fputs("[goto] ", f);
	for (i = 0; i < r->nb_matches; i++)
		if (r->m[i]->ops->list != NULL)
			r->m[i]->ops->list(r->m[i]->data, f);
	if (r->kind == PGT_RS_TARGET && r->target->list != NULL)
		r->target->list(r->tdata, f);
	fputc('\n', f);
}

void
pgt_rs_list_chains(FILE *f, int table, const char *chain, unsigned int flags)
{
	static struct pgt_rs_chain *list[PGT_RS_MAX_CHAINS];
	const struct pgt_rs_mtable *t = pgt_rs_live()->t[table];
	const struct pgt_rs_chain *c;
	unsigned int i, j, n;
	uint64_t p, b;

	n = pgt_rs_sorted_chains(t, chain, list);
	for (i = 0; i < n; i++) {
		c = list[i];
		if (i > 0)
			fputc('\n', f);
		fprintf(f, "Chain %s", c->name);
		if (!c->builtin) {
			fprintf(f, " (%u references)\n",
				pgt_rs_chain_refs(t, c->name));
		} else if (flags & PGT_RS_LIST_VERBOSE) {
			pgt_ruleset_counter_read(c->counter, &p, &b);
			fprintf(f, " (policy %s %" PRIu64 " packets, %" PRIu64
				" bytes)\n", c->policy == PGT_RS_ACCEPT ?
				"ACCEPT" : "DROP", p, b);
		} else {
			fprintf(f, " (policy %s)\n", c->policy == PGT_RS_ACCEPT ?
				"ACCEPT" : "DROP");
		}
		if (flags & PGT_RS_LIST_LINENUMBERS)
			fprintf(f, "%-4s ", "num");
		if (flags & PGT_RS_LIST_VERBOSE) {
			if (flags & PGT_RS_LIST_EXACT)
				fprintf(f, "%8s %10s ", "pkts", "bytes");
			else
				fprintf(f, "%5s %5s ", "pkts", "bytes");
		}
		fprintf(f, "%-9s  prot opt", "target");
		if (flags & PGT_RS_LIST_VERBOSE)
			fprintf(f, " %-6s %-6s ", "in", "out");
		fprintf(f, " %-19s  %-19s \n", "source", "destination");
		for (j = 0; j < c->nb_rules; j++)
			list_rule(f, c->rules[j], j + 1, flags);
	}
}
