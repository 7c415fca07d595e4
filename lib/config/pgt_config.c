/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "pgt_config.h"
#include "pgt_json.h"
#include "pgt_log.h"
#include "pgt_rpc.h"

PGT_LOG_REGISTER(config);

/* The file loaded at start-up: where config_save writes. */
static char config_path[PATH_MAX];

/* Largest configuration file read (a full BGP table fits). */
#define CONFIG_MAX_SIZE (256u << 20)

static int
read_file(const char *path, char **buf, size_t *len)
{
	FILE *f;
	long size;
	int rc = 0;

	f = fopen(path, "r");
	if (f == NULL)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
			fseek(f, 0, SEEK_SET) != 0) {
		rc = -errno;
		goto out;
	}
	if ((unsigned long)size > CONFIG_MAX_SIZE) {
		rc = -EFBIG;
		goto out;
	}
	*buf = malloc((size_t)size + 1);
	if (*buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (fread(*buf, 1, (size_t)size, f) != (size_t)size) {
		free(*buf);
		rc = -EIO;
		goto out;
	}
	(*buf)[size] = '\0';
	*len = (size_t)size;
out:
	fclose(f);
	return rc;
}

int
pgt_config_load(const char *path, char *msg, size_t msg_size)
{
	struct pgt_rpc_err err;
	json_error_t jerr;
	json_t *doc = NULL, *calls, *call, *method, *params, *version, *result;
	size_t *offsets = NULL, len = 0, i, n;
	char *text = NULL;
	unsigned int line;
	int rc;

	rc = read_file(path, &text, &len);
	if (rc < 0) {
		snprintf(msg, msg_size, "%s: %s", path, strerror(-rc));
		return rc;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		snprintf(msg, msg_size, "%s:%d: %s", path, jerr.line, jerr.text);
		rc = -EINVAL;
		goto out;
	}
	version = json_object_get(doc, "version");
	calls = json_object_get(doc, "config");
	if (!json_is_object(doc) || !json_is_integer(version) ||
			!json_is_array(calls)) {
		snprintf(msg, msg_size,
			"%s:1: expected {\"version\": %d, \"config\": [calls]}",
			path, PGT_CONFIG_VERSION);
		rc = -EINVAL;
		goto out;
	}
	if (json_integer_value(version) != PGT_CONFIG_VERSION) {
		snprintf(msg, msg_size, "%s:1: unsupported version %lld (this pktgate reads %d)",
			path, (long long)json_integer_value(version),
			PGT_CONFIG_VERSION);
		rc = -EINVAL;
		goto out;
	}
	n = json_array_size(calls);
	offsets = calloc(n + 1, sizeof(*offsets));
	if (offsets == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* Map each call back to its line for error messages. */
	if (pgt_json_array_offsets(text, len, "config", offsets, n) != (int)n)
		memset(offsets, 0, (n + 1) * sizeof(*offsets));

	json_array_foreach(calls, i, call) {
		line = pgt_json_line_of(text, offsets[i]);
		method = json_object_get(call, "method");
		params = json_object_get(call, "params");
		if (!json_is_object(call) || !json_is_string(method) ||
				(params != NULL && !json_is_object(params))) {
			snprintf(msg, msg_size,
				"%s:%u: each call must be {\"method\": NAME, \"params\": {...}}",
				path, line);
			rc = -EINVAL;
			goto out;
		}
		if (json_object_size(call) > (params != NULL ? 2u : 1u)) {
			snprintf(msg, msg_size,
				"%s:%u: a call has only \"method\" and \"params\"",
				path, line);
			rc = -EINVAL;
			goto out;
		}
		rc = pgt_rpc_call(json_string_value(method), params, &result,
			&err);
		json_decref(result);
		if (rc != 0) {
			snprintf(msg, msg_size, "%s:%u: %s: %s", path, line,
				json_string_value(method), err.msg);
			goto out;
		}
	}
	PGT_LOG(INFO, config, "%s: applied %zu calls", path, n);
	/* Saving writes back to it, wherever the daemon's directory is. */
	if (realpath(path, config_path) == NULL)
		config_path[0] = '\0';
	rc = 0;
out:
	free(offsets);
	json_decref(doc);
	free(text);
	return rc;
}

static int
rpc_save_config(void *args, json_t **result, struct pgt_rpc_err *err)
{
	*result = json_pack("{s:i, s:o}", "version", PGT_CONFIG_VERSION,
		"config", pgt_rpc_save_calls());
	return 0;
}

PGT_RPC_METHOD_NOARGS(save_config_method, "save_config",
	"The running configuration, as a document --config can load",
	rpc_save_config);

/* Write all of @p buf to @p fd. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pgt_config_save(const char **path)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	json_t *doc;
	char *text;
	int fd, dfd, rc;

	*path = config_path;
	if (config_path[0] == '\0')
		return -ENOENT;
	doc = json_pack("{s:i, s:o}", "version", PGT_CONFIG_VERSION,
		"config", pgt_rpc_save_calls());
	text = doc != NULL ? json_dumps(doc, JSON_INDENT(1)) : NULL;
	json_decref(doc);
	if (text == NULL)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.new", config_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	rc = write_all(fd, text, strlen(text));
	if (rc == 0)
		rc = write_all(fd, "\n", 1);
	free(text);
	/* The data on disk before the name points at it: a crash leaves
	 * the old file or the new one, never a torn one. */
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, config_path) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", config_path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0)
			rc = -errno;
		close(dfd);
	}
	if (rc == 0)
		PGT_LOG(NOTICE, config, "running configuration saved to %s",
			config_path);
	return rc;
}

static int
rpc_config_save(void *args, json_t **result, struct pgt_rpc_err *err)
{
	const char *path;
	int rc;

	RTE_SET_USED(args);
	rc = pgt_config_save(&path);
	if (rc == -ENOENT && path[0] == '\0')
		return pgt_rpc_errorf(err, rc,
			"pktgate was started without --config: there is no file to save to (use save_config and write it yourself)");
	if (rc != 0)
		return pgt_rpc_errorf(err, rc, "cannot save to %s: %s (the file is unchanged)",
			path, strerror(-rc));
	*result = json_pack("{s:s}", "path", path);
	return 0;
}

PGT_RPC_METHOD_NOARGS(config_save_method, "config_save",
	"Write the running configuration to the file given with --config, atomically (a new file, fsync, rename): what a restart will load",
	rpc_config_save);
