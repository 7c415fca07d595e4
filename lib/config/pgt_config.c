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

/* A configuration file, read and checked: its calls and where they are. */
struct config_file {
	char *text;
	json_t *doc;
	json_t *calls;		/* borrowed from doc */
	size_t *offsets;	/* of each call in text, for line numbers */
};

static void
config_file_free(struct config_file *cf)
{
	free(cf->offsets);
	json_decref(cf->doc);
	free(cf->text);
}

static unsigned int
config_line(const struct config_file *cf, size_t i)
{
	return pgt_json_line_of(cf->text, cf->offsets[i]);
}

/* Check the shape of document cf->text, named @p path in messages. */
static int
config_parse(const char *path, struct config_file *cf, char *msg,
	size_t msg_size)
{
	json_t *version, *call, *method, *params;
	size_t len = strlen(cf->text), i, n;
	json_error_t jerr;

	cf->doc = json_loadb(cf->text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (cf->doc == NULL) {
		snprintf(msg, msg_size, "%s:%d: %s", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	version = json_object_get(cf->doc, "version");
	cf->calls = json_object_get(cf->doc, "config");
	if (!json_is_object(cf->doc) || !json_is_integer(version) ||
			!json_is_array(cf->calls)) {
		snprintf(msg, msg_size,
			"%s:1: expected {\"version\": %d, \"config\": [calls]}",
			path, PGT_CONFIG_VERSION);
		return -EINVAL;
	}
	if (json_integer_value(version) != PGT_CONFIG_VERSION) {
		snprintf(msg, msg_size, "%s:1: unsupported version %lld (this pktgate reads %d)",
			path, (long long)json_integer_value(version),
			PGT_CONFIG_VERSION);
		return -EINVAL;
	}
	n = json_array_size(cf->calls);
	cf->offsets = calloc(n + 1, sizeof(*cf->offsets));
	if (cf->offsets == NULL)
		return -ENOMEM;
	/* Map each call back to its line for error messages. */
	if (pgt_json_array_offsets(cf->text, len, "config", cf->offsets, n) !=
			(int)n)
		memset(cf->offsets, 0, (n + 1) * sizeof(*cf->offsets));
	json_array_foreach(cf->calls, i, call) {
		method = json_object_get(call, "method");
		params = json_object_get(call, "params");
		if (!json_is_object(call) || !json_is_string(method) ||
				(params != NULL && !json_is_object(params))) {
			snprintf(msg, msg_size,
				"%s:%u: each call must be {\"method\": NAME, \"params\": {...}}",
				path, config_line(cf, i));
			return -EINVAL;
		}
		if (json_object_size(call) > (params != NULL ? 2u : 1u)) {
			snprintf(msg, msg_size,
				"%s:%u: a call has only \"method\" and \"params\"",
				path, config_line(cf, i));
			return -EINVAL;
		}
	}
	return 0;
}

/* Read @p path and check its shape; nothing is applied. */
static int
config_read(const char *path, struct config_file *cf, char *msg,
	size_t msg_size)
{
	size_t len;
	int rc;

	memset(cf, 0, sizeof(*cf));
	rc = read_file(path, &cf->text, &len);
	if (rc < 0) {
		snprintf(msg, msg_size, "%s: %s", path, strerror(-rc));
		return rc;
	}
	return config_parse(path, cf, msg, msg_size);
}

int
pgt_config_load(const char *path, char *msg, size_t msg_size)
{
	struct config_file cf;
	struct pgt_rpc_err err;
	json_t *call, *result;
	size_t i;
	int rc;

	rc = config_read(path, &cf, msg, msg_size);
	json_array_foreach(cf.calls, i, call) {
		if (rc != 0)
			break;
		rc = pgt_rpc_call(json_string_value(json_object_get(call,
			"method")), json_object_get(call, "params"), &result,
			&err);
		json_decref(result);
		if (rc != 0)
			snprintf(msg, msg_size, "%s:%u: %s: %s", path,
				config_line(&cf, i), json_string_value(
					json_object_get(call, "method")),
				err.msg);
	}
	if (rc == 0) {
		PGT_LOG(INFO, config, "%s: applied %zu calls", path,
			json_array_size(cf.calls));
		/* Saving writes back to it, wherever the daemon's directory is. */
		if (realpath(path, config_path) == NULL)
			config_path[0] = '\0';
	}
	config_file_free(&cf);
	return rc;
}

/* Run the calls of @p plan in order; on failure, @p failed is the call. */
static int
plan_run(json_t *plan, json_t **failed, struct pgt_rpc_err *err)
{
	json_t *call, *result;
	size_t i;
	int rc;

	json_array_foreach(plan, i, call) {
		rc = pgt_rpc_call(json_string_value(json_object_get(call,
			"method")), json_object_get(call, "params"), &result,
			err);
		json_decref(result);
		if (rc != 0) {
			*failed = call;
			/* A JSON-RPC code (bad params) is an invalid file. */
			return rc > -32000 ? rc : -EINVAL;
		}
	}
	return 0;
}

/*
 * After a failed step: back to @p before, by the same planner.
 * @return 0, or the error of the plan or step that failed (@p err says it).
 */
static int
reload_undo(json_t *before, struct pgt_rpc_err *err)
{
	json_t *now = pgt_rpc_save_calls(), *back = NULL, *failed;
	int rc;

	rc = pgt_rpc_plan(now, before, &back, err);
	if (rc == 0)
		rc = plan_run(back, &failed, err);
	if (rc != 0) {
		if (err->msg[0] == '\0')
			snprintf(err->msg, sizeof(err->msg), "%s",
				strerror(-rc));
		PGT_LOG(CRIT, config, "a reload failed and undoing it failed: %s",
			err->msg);
	}
	json_decref(back);
	json_decref(now);
	return rc;
}

int
pgt_config_reload(const char *path, const char *text, bool dry_run,
	json_t **changes, char *msg, size_t msg_size)
{
	json_t *running = NULL, *plan = NULL, *call, *failed;
	struct pgt_rpc_err err = { .msg = "" }, undo = { .msg = "" };
	struct config_file cf;
	size_t i;
	int rc, urc;

	*changes = NULL;
	if (text != NULL) {
		memset(&cf, 0, sizeof(cf));
		cf.text = strdup(text);
		rc = cf.text == NULL ? -ENOMEM :
			config_parse(path, &cf, msg, msg_size);
	} else if (config_path[0] == '\0') {
		snprintf(msg, msg_size,
			"pktgate was started without --config: give the document to reload");
		return -ENOENT;
	} else {
		path = config_path;
		rc = config_read(path, &cf, msg, msg_size);
	}
	json_array_foreach(cf.calls, i, call) {
		if (rc != 0)
			break;
		if (!pgt_rpc_plannable(json_string_value(json_object_get(call,
				"method")))) {
			snprintf(msg, msg_size,
				"%s:%u: %s is not a call save_config writes, so a reload cannot tell what it changes (restart to apply it, or reload what config_save writes)",
				path, config_line(&cf, i), json_string_value(
					json_object_get(call, "method")));
			rc = -ENOTSUP;
		}
	}
	if (rc != 0)
		goto out;
	running = pgt_rpc_save_calls();
	rc = pgt_rpc_plan(running, cf.calls, &plan, &err);
	if (rc != 0) {
		snprintf(msg, msg_size, "%s: %s (nothing changed)", path,
			err.msg);
		goto out;
	}
	if (!dry_run) {
		rc = plan_run(plan, &failed, &err);
		if (rc != 0) {
			urc = reload_undo(running, &undo);
			snprintf(msg, msg_size, "%s: %s: %s (%s%s)", path,
				json_string_value(json_object_get(failed,
					"method")), err.msg, urc == 0 ?
				"reload undone: nothing changed" :
				"undoing it failed too, the state is part old, part new: ",
				urc == 0 ? "" : undo.msg);
			goto out;
		}
		PGT_LOG(NOTICE, config, "%s: reloaded, %zu changes", path,
			json_array_size(plan));
	}
	*changes = plan;
	plan = NULL;
out:
	json_decref(plan);
	json_decref(running);
	config_file_free(&cf);
	return rc;
}

struct reload_args {
	const char *text;
	bool has_text;
	char name[PGT_RPC_STR_MAX];
	bool has_name;
	bool dry_run;
	bool has_dry_run;
};

static int
rpc_config_reload(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct reload_args *args = argp;
	json_t *changes;
	char msg[512];
	int rc;

	const char *name = args->has_name ? args->name : "document";

	rc = pgt_config_reload(args->has_text ? name : NULL,
		args->has_text ? args->text : NULL, args->dry_run, &changes,
		msg, sizeof(msg));
	if (rc != 0)
		return pgt_rpc_errorf(err, rc, "%s", msg);
	*result = json_pack("{s:s, s:b, s:o}", "path", args->has_text ? name :
		config_path, "dry_run", args->dry_run, "changes", changes);
	return 0;
}

static const struct pgt_rpc_param reload_params[] = {
	/* A document, not a path: the daemon runs as root and must not
	 * open files for whoever may use the socket. */
	PGT_RPC_PARAM_OPT(struct reload_args, text, PGT_RPC_TEXT,
		"a configuration document to apply (default: the file given with --config, read again)"),
	PGT_RPC_PARAM_OPT(struct reload_args, name, PGT_RPC_STRING,
		"what to call the document in messages (default \"document\")"),
	PGT_RPC_PARAM_OPT(struct reload_args, dry_run, PGT_RPC_BOOL,
		"only say what would change"),
};

PGT_RPC_METHOD(config_reload_method, "config_reload",
	"Make the running state what a restart with the file would give, changing only what differs (no port, rule or connection is disturbed by what stays); a failure undoes it; ports' names and host interfaces change only by a restart",
	reload_params, struct reload_args, rpc_config_reload);

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
