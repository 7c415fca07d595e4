/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_TEST_H
#define PGT_TEST_H

/*
 * A minimal test harness: CHECK() records a failure with its location and
 * goes on; a test program returns non-zero if any check failed.
 */

#include <stdio.h>
#include <string.h>

#include <rte_eal.h>

static int pgt_test_failures;
static int pgt_test_checks;

#define CHECK(cond) do { \
	pgt_test_checks++; \
	if (!(cond)) { \
		pgt_test_failures++; \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			__LINE__, #cond); \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long _va = (long long)(a), _vb = (long long)(b); \
	pgt_test_checks++; \
	if (_va != _vb) { \
		pgt_test_failures++; \
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
			__FILE__, __LINE__, #a, _va, #b, _vb); \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *_sa = (a), *_sb = (b); \
	pgt_test_checks++; \
	if (_sa == NULL || strcmp(_sa, _sb) != 0) { \
		pgt_test_failures++; \
		fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", \
			__FILE__, __LINE__, #a, _sa ? _sa : "(null)", _sb); \
	} \
} while (0)

static inline int
pgt_test_report(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, pgt_test_checks,
		pgt_test_failures);
	return pgt_test_failures == 0 ? 0 : 1;
}

/* Start EAL without hugepages or PCI, with @p vdevs (NULL-terminated). */
static inline int
pgt_test_eal(const char *prefix, const char *const *vdevs)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"test";
	argv[argc++] = (char *)"--no-huge";
	argv[argc++] = (char *)"--no-pci";
	argv[argc++] = (char *)"--no-shconf";
	argv[argc++] = (char *)"-m";
	argv[argc++] = (char *)"256";
	argv[argc++] = (char *)"-l";
	argv[argc++] = (char *)"0";
	argv[argc++] = (char *)"--log-level=lib.eal:error";
	argv[argc++] = (char *)"--file-prefix";
	argv[argc++] = (char *)prefix;
	while (vdevs != NULL && *vdevs != NULL && argc < 30) {
		argv[argc++] = (char *)"--vdev";
		argv[argc++] = (char *)*vdevs++;
	}
	return rte_eal_init(argc, argv) < 0 ? -1 : 0;
}

#endif /* PGT_TEST_H */
