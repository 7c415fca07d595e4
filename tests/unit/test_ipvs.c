/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The schedulers on services built by hand: rr and wrr shares, fo's
 * choice, sh/dh/mh stability, Maglev's minimal disruption when a server
 * goes, and the fallback flags. (Load-based choices, which need live
 * connection counts, are exercised end to end: tests/e2e/test_ipvs_netns.py.)
 */
#include <stdlib.h>

#include <rte_ethdev.h>

#include "pgt_ipvs.h"
#include "pgt_test.h"

#define MAX_D 16

struct svc {
	struct pgt_ipvs_service s;
	struct pgt_ipvs_dest d[MAX_D];
	struct pgt_ipvs_sched_state st[2];
};

static void
build(struct svc *v, const char *sched, const uint32_t *weights,
	unsigned int n, uint32_t flags)
{
	unsigned int i;

	memset(v, 0, sizeof(*v));
	v->s.proto = IPPROTO_TCP;
	v->s.addr = 0x0a000001;
	v->s.port = 80;
	v->s.flags = flags;
	v->s.sched = pgt_ipvs_sched_find(sched);
	CHECK(v->s.sched != NULL);
	v->s.dests = v->d;
	v->s.nb_dests = n;
	v->s.state = v->st;
	for (i = 0; i < n; i++) {
		v->d[i].addr = 0xc0a80000 + 10 + i;
		v->d[i].port = 80;
		v->d[i].slot = (uint16_t)(i + 1);
		v->d[i].weight = weights[i];
		v->d[i].method = PGT_IPVS_MASQ;
	}
	if (v->s.sched->init != NULL)
		CHECK_EQ(v->s.sched->init(&v->s), 0);
}

static void
unbuild(struct svc *v)
{
	if (v->s.sched->fini != NULL)
		v->s.sched->fini(&v->s);
}

static int
pick(struct svc *v, unsigned int w, uint32_t src, uint16_t sport)
{
	struct pgt_ipvs_flow f = { .src = src, .dst = v->s.addr,
		.sport = sport, .dport = 80, .proto = IPPROTO_TCP };

	return v->s.sched->schedule(&v->s, &v->st[w], &f);
}

static void
test_rr_wrr_fo(void)
{
	const uint32_t ones[] = { 1, 1, 1 }, w123[] = { 1, 2, 3 },
		quiet[] = { 1, 0, 1 }, fo[] = { 2, 5, 5 };
	unsigned int got[MAX_D] = { 0 }, i;
	struct svc v;
	int d;

	build(&v, "rr", ones, 3, 0);
	for (i = 0; i < 300; i++)
		got[pick(&v, i % 2, i, 1000)]++;
	CHECK(got[0] == 100 && got[1] == 100 && got[2] == 100);
	unbuild(&v);

	/* Quiescent servers take nothing new. */
	memset(got, 0, sizeof(got));
	build(&v, "rr", quiet, 3, 0);
	for (i = 0; i < 100; i++)
		got[pick(&v, 0, i, 1000)]++;
	CHECK(got[0] == 50 && got[1] == 0 && got[2] == 50);
	unbuild(&v);

	/* wrr: exact shares over whole cycles, interleaved. */
	memset(got, 0, sizeof(got));
	build(&v, "wrr", w123, 3, 0);
	for (i = 0; i < 600; i++) {
		d = pick(&v, i % 2, i, 1000);
		CHECK(d >= 0);
		got[d]++;
	}
	CHECK_EQ(got[0], 100);
	CHECK_EQ(got[1], 200);
	CHECK_EQ(got[2], 300);
	unbuild(&v);

	/* fo: the first of the heaviest, until it is quiescent. */
	build(&v, "fo", fo, 3, 0);
	CHECK_EQ(pick(&v, 0, 1, 1), 1);
	v.d[1].weight = 0;
	CHECK_EQ(pick(&v, 0, 1, 1), 2);
	unbuild(&v);

	/* No usable server: -1, from every scheduler. */
	{
		static const char *const all[] = { "rr", "wrr", "lc", "wlc",
			"sed", "nq", "sh", "dh", "mh", "fo" };
		const uint32_t zero[] = { 0, 0 };

		for (i = 0; i < RTE_DIM(all); i++) {
			build(&v, all[i], zero, 2, PGT_IPVS_SVC_SCHED1);
			CHECK_EQ(pick(&v, 0, 7, 7), -1);
			unbuild(&v);
		}
	}
}

static void
test_hashing(void)
{
	const uint32_t ones[] = { 1, 1, 1, 1 };
	unsigned int i, moved = 0, seen[MAX_D] = { 0 };
	int before[1000], d;
	struct svc v, v2;

	/* sh: a client always lands on the same server; all are used. */
	build(&v, "sh", ones, 4, 0);
	for (i = 0; i < 1000; i++) {
		before[i] = pick(&v, 0, 0x0b000000 + i * 7919, 1000);
		CHECK(before[i] >= 0);
		seen[before[i]]++;
		CHECK_EQ(pick(&v, 1, 0x0b000000 + i * 7919, 2000),
			before[i]);
	}
	for (i = 0; i < 4; i++)
		CHECK(seen[i] > 100);
	/* Its server quiescent: refused without sh-fallback... */
	v.d[before[0]].weight = 0;
	CHECK_EQ(pick(&v, 0, 0x0b000000, 1000), -1);
	unbuild(&v);
	/* ...another one with it. */
	build(&v, "sh", ones, 4, PGT_IPVS_SVC_SCHED1);
	v.d[before[0]].weight = 0;
	d = pick(&v, 0, 0x0b000000, 1000);
	CHECK(d >= 0 && d != before[0]);
	unbuild(&v);

	/* dh: by destination. */
	build(&v, "dh", ones, 4, 0);
	d = pick(&v, 0, 1, 1);
	for (i = 0; i < 50; i++)
		CHECK_EQ(pick(&v, i % 2, 1000 + i, (uint16_t)i), d);
	unbuild(&v);

	/* mh: stable, spread, and removing one of four servers moves only
	 * its own clients (about a quarter), none of the others'. */
	memset(seen, 0, sizeof(seen));
	build(&v, "mh", ones, 4, 0);
	for (i = 0; i < 1000; i++) {
		before[i] = pick(&v, 0, 0x0c000000 + i * 104729, 1000);
		CHECK(before[i] >= 0);
		seen[before[i]]++;
	}
	for (i = 0; i < 4; i++)
		CHECK(seen[i] > 180 && seen[i] < 320);
	build(&v2, "mh", ones, 3, 0);
	/* v2 has servers 0..2 of v: server 3 is gone. */
	for (i = 0; i < 1000; i++) {
		d = pick(&v2, 0, 0x0c000000 + i * 104729, 1000);
		if (before[i] != 3)
			moved += d != before[i];
	}
	/* Maglev moves a few others' clients while its table settles; a
	 * modulo hash would move about two thirds of them. */
	CHECK(moved < 60);
	unbuild(&v2);
	unbuild(&v);
}

int
main(void)
{
	static const char *const vdevs[] = { NULL };

	if (pgt_test_eal("pgt_test_ipvs", vdevs) < 0)
		return 1;
	CHECK_EQ(pgt_ipvs_init(2), 0);
	pgt_ipvs_cfg.mh_table_size = 4093;
	test_rr_wrr_fo();
	test_hashing();
	pgt_ipvs_fini();
	return pgt_test_report("ipvs");
}
