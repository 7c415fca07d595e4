/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include "pgt_json.h"
#include "pgt_test.h"

static int
scan_all(const char *s)
{
	struct pgt_json_scan sc;

	pgt_json_scan_reset(&sc);
	return pgt_json_scan_feed(&sc, s, strlen(s));
}

static void
test_scan(void)
{
	struct pgt_json_scan sc;
	const char *two = "{\"a\":1}{\"b\":2}";
	const char *tricky = " {\"s\":\"}]\\\"{\",\"n\":[1,{}]} x";
	int i, end = 0;

	CHECK_EQ(scan_all("{}"), 2);
	CHECK_EQ(scan_all(two), 7);
	CHECK_EQ(scan_all(tricky), (int)strlen(tricky) - 2);
	CHECK_EQ(scan_all("{\"a\":"), 0);
	CHECK_EQ(scan_all("   "), 0);
	CHECK_EQ(scan_all("123"), -EINVAL);
	CHECK_EQ(scan_all("\"str\""), -EINVAL);

	/* Fed one byte at a time, the end is found at the same place. */
	pgt_json_scan_reset(&sc);
	for (i = 1; i <= (int)strlen(tricky) && end == 0; i++)
		end = pgt_json_scan_feed(&sc, tricky, (size_t)i);
	CHECK_EQ(end, (int)strlen(tricky) - 2);
}

static void
test_offsets(void)
{
	const char *doc = "{\"version\": 1,\n \"config\": [\n"
		"  {\"method\": \"a\"},\n"
		"  {\"method\": \"b\", \"params\": {\"config\": []}}\n"
		" ]}";
	size_t off[4];
	int n;

	n = pgt_json_array_offsets(doc, strlen(doc), "config", off, 4);
	CHECK_EQ(n, 2);
	CHECK_EQ(pgt_json_line_of(doc, off[0]), 3);
	CHECK_EQ(pgt_json_line_of(doc, off[1]), 4);
	CHECK_EQ(pgt_json_array_offsets(doc, strlen(doc), "nope", off, 4),
		-ENOENT);
	CHECK_EQ(pgt_json_array_offsets("[1]", 3, "config", off, 4), -EINVAL);
	CHECK_EQ(pgt_json_array_offsets("{\"config\": [1,", 14, "config",
		off, 4), -EINVAL);
}

int
main(void)
{
	test_scan();
	test_offsets();
	return pgt_test_report("json");
}
