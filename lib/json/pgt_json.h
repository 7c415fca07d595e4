/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_JSON_H
#define PGT_JSON_H

/**
 * @file
 * Incremental JSON value boundary scanner.
 *
 * A byte stream carries JSON values back to back (the JSON-RPC socket) and a
 * configuration file holds an array whose elements we must map back to line
 * numbers. Neither needs a parse tree: the scanner only tracks nesting and
 * strings, so it finds where a top-level object or array ends in O(n) over
 * bytes fed in pieces, and jansson then parses exactly that slice once.
 */

#include <stdbool.h>
#include <stddef.h>

/** Scanner state; zero it (or call pgt_json_scan_reset()) before use. */
struct pgt_json_scan {
	size_t pos;		/**< Bytes of the current value consumed. */
	unsigned int depth;	/**< Open objects/arrays. */
	bool started;		/**< Saw the opening bracket. */
	bool in_string;
	bool escape;
};

/** Forget any partial value. */
void pgt_json_scan_reset(struct pgt_json_scan *s);

/**
 * Feed the bytes of the current value (the whole buffer from the value's
 * first byte, or from where the last call stopped: the scanner resumes at
 * s->pos). Leading whitespace before the value is skipped and counted.
 *
 * @return
 *   > 0: the value ends at that offset (exclusive) from @p buf;
 *   0: more bytes are needed;
 *   -EINVAL: the value does not start with '{' or '[' (the only top-level
 *   values this project exchanges) or closes more brackets than it opened.
 */
int pgt_json_scan_feed(struct pgt_json_scan *s, const char *buf, size_t len);

/**
 * Find the byte offsets of the elements of the array that is the value of
 * key @p key in the top-level object held in @p buf.
 *
 * @param offsets
 *   Filled with up to @p max offsets of each element's first byte.
 * @return
 *   The number of elements (possibly more than @p max), or -ENOENT when the
 *   top-level object has no such key holding an array, -EINVAL when @p buf
 *   is not well-formed enough to scan.
 */
int pgt_json_array_offsets(const char *buf, size_t len, const char *key,
	size_t *offsets, size_t max);

/** 1-based line number of byte offset @p off in @p buf. */
unsigned int pgt_json_line_of(const char *buf, size_t off);

#endif /* PGT_JSON_H */
