/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_CONFIG_H
#define PGT_CONFIG_H

/**
 * @file
 * The configuration file: a replay of RPC calls.
 *
 *   {"version": 1,
 *    "config": [{"method": "ip_addr_add",
 *                "params": {"address": "10.0.1.1/24", "port": "port0"}},
 *               ...]}
 *
 * Loading calls each method in order through the RPC dispatcher, so a file
 * can do exactly what a client can, with the same checks and messages.
 * `save_config` produces the same document from the running state; loading
 * a saved document reproduces that state.
 *
 * The daemon loads the file before its workers start and exits if any call
 * fails, so a bad file never leaves a half-applied configuration running.
 */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/** The only configuration format version so far. */
#define PGT_CONFIG_VERSION 1

/**
 * Load and apply the configuration file @p path.
 *
 * @param msg
 *   On failure, "PATH:LINE: reason" (LINE of the offending call).
 * @return 0; -ENOENT/-EACCES/... if the file cannot be read; -EINVAL if it
 *   is not a valid configuration document; the failing call's error code
 *   (a negative errno or a JSON-RPC code) if a call fails.
 */
int pgt_config_load(const char *path, char *msg, size_t msg_size);

/**
 * Make the running state the one a fresh start with the configuration
 * would have,
 * changing only what differs (see pgt_rpc_plan()); if a step fails, the
 * steps done are undone by the same planner.
 *
 * @param path
 *   With @p text, the name of the document in messages; else unused.
 * @param text
 *   The configuration document; NULL to read again the file
 *   pgt_config_load() loaded.
 * @param dry_run
 *   Plan only: *changes says what a reload would do, nothing is done.
 * @param[out] changes
 *   The calls run (or to run), {"method", "params"} each.
 * @param msg
 *   On failure, "PATH[:LINE]: reason", and whether the undo succeeded.
 * @return 0; -ENOENT if no text is given and no file was loaded; the
 *   read errors and -EINVAL of pgt_config_load(); -ENOTSUP if it has a call no
 *   saver writes (so no plan can say what it changes); -EPERM if it
 *   changes what only a restart changes (port names, host interfaces);
 *   the failing step's negative errno (-EINVAL for bad parameters).
 */
int pgt_config_reload(const char *path, const char *text, bool dry_run,
	json_t **changes, char *msg, size_t msg_size);

/**
 * Write the running configuration (as save_config gives it) over the file
 * pgt_config_load() loaded, atomically: a new file beside it is written and
 * flushed, then renamed over it, then the directory is flushed.
 *
 * @param[out] path  The file (empty if none was loaded).
 * @return 0; -ENOENT if no file was loaded; -ENOMEM; the negative errno
 *   of the failing open/write/fsync/rename (the old file is then intact).
 */
int pgt_config_save(const char **path);

#endif /* PGT_CONFIG_H */
