/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RPC_H
#define PGT_RPC_H

/**
 * @file
 * JSON-RPC 2.0 method registry, dispatcher and Unix socket server.
 *
 * Each module registers its methods next to its code with PGT_RPC_REGISTER().
 * A method declares its parameters as a table: the dispatcher checks every
 * parameter (type, range, required, unknown names) and decodes it into a
 * plain C struct before the handler runs, so a handler never sees malformed
 * input and every method reports bad parameters the same precise way.
 * `rpc_get_methods` returns the same tables as a schema.
 *
 * Errors: the standard codes below for protocol problems; a handler's own
 * failure is reported with code = its negative errno (e.g. -2 ENOENT "no such
 * port", -17 EEXIST, -22 EINVAL) and a one-line message.
 *
 * Everything here runs on the management thread only.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <rte_common.h>
#include <rte_ether.h>

#include "pgt_inet.h"

#define PGT_RPC_PARSE_ERROR	-32700	/**< Not JSON; connection closed. */
#define PGT_RPC_INVALID_REQUEST	-32600	/**< Not a JSON-RPC 2.0 request. */
#define PGT_RPC_METHOD_NOT_FOUND -32601
#define PGT_RPC_INVALID_PARAMS	-32602
#define PGT_RPC_INTERNAL_ERROR	-32603
/** A request over TCP without the right token; connection closed. */
#define PGT_RPC_UNAUTHORIZED	-32001

/** Longest string parameter, including the NUL. */
#define PGT_RPC_STR_MAX 64
/** Largest request accepted on the socket, in bytes. */
#define PGT_RPC_MAX_REQUEST (64u << 20)

/** Parameter value types and the C type each decodes into. */
enum pgt_rpc_type {
	PGT_RPC_STRING,	/**< char[PGT_RPC_STR_MAX] */
	PGT_RPC_BOOL,	/**< bool */
	PGT_RPC_U32,	/**< uint32_t, checked against min..max */
	PGT_RPC_IPV4,	/**< uint32_t host order, "A.B.C.D" */
	PGT_RPC_PREFIX,	/**< struct pgt_prefix, "A.B.C.D/LEN", no host bits */
	PGT_RPC_IFADDR,	/**< struct pgt_prefix, "A.B.C.D/LEN", host bits kept */
	PGT_RPC_MAC,	/**< struct rte_ether_addr, "aa:bb:cc:dd:ee:ff" */
	/** const char *, any length, valid until the handler returns. */
	PGT_RPC_TEXT,
	/** json_t * object, borrowed, valid until the handler returns. */
	PGT_RPC_OBJECT,
};

/** One parameter of a method. */
struct pgt_rpc_param {
	const char *name;
	enum pgt_rpc_type type;
	size_t offset;		/**< Where the value goes in the args struct. */
	ssize_t has_offset;	/**< bool set when present, or -1. */
	bool required;
	uint32_t min, max;	/**< Range for PGT_RPC_U32. */
	const char *desc;
};

/** A failed call: code and message returned to the client. */
struct pgt_rpc_err {
	int code;
	char msg[256];
};

/**
 * A method handler.
 *
 * @param args
 *   The decoded parameters (struct of the method's args_size, zeroed first).
 * @param result
 *   Set to the result on success (a new reference); left NULL means `true`.
 * @return
 *   0 on success, else a negative errno, with err->msg filled by
 *   pgt_rpc_errorf() (a message is made from the errno otherwise).
 */
typedef int (*pgt_rpc_handler_t)(void *args, json_t **result,
	struct pgt_rpc_err *err);

/** A method as registered. */
struct pgt_rpc_method {
	const char *name;
	const char *desc;
	const struct pgt_rpc_param *params;
	unsigned int nb_params;
	size_t args_size;
	pgt_rpc_handler_t handler;
	struct pgt_rpc_method *next;	/**< Registry link, set by registration. */
};

/** Add @p m to the registry (constructor context; names must be unique). */
void pgt_rpc_register(struct pgt_rpc_method *m);

/** Register method object @p m at program start. */
#define PGT_RPC_REGISTER(m) \
	RTE_INIT(pgt_rpc_register_##m) { pgt_rpc_register(&m); }

/**
 * Define and register method @p var, called @p mname, whose parameter table
 * @p ptable decodes into struct @p st for handler @p fn.
 */
#define PGT_RPC_METHOD(var, mname, description, ptable, st, fn) \
	static struct pgt_rpc_method var = { \
		.name = mname, .desc = description, .params = ptable, \
		.nb_params = RTE_DIM(ptable), .args_size = sizeof(st), \
		.handler = fn, \
	}; \
	PGT_RPC_REGISTER(var)

/** Define and register method @p var without parameters. */
#define PGT_RPC_METHOD_NOARGS(var, mname, description, fn) \
	static struct pgt_rpc_method var = { \
		.name = mname, .desc = description, .handler = fn, \
	}; \
	PGT_RPC_REGISTER(var)

/** Describe a parameter stored in field @p field of args struct @p st. */
#define PGT_RPC_PARAM(st, field, ptype, req, description) \
	{ .name = #field, .type = ptype, .offset = offsetof(st, field), \
	  .has_offset = -1, .required = req, .min = 0, .max = UINT32_MAX, \
	  .desc = description }

/** As PGT_RPC_PARAM(), optional, with presence recorded in bool `has_<field>`. */
#define PGT_RPC_PARAM_OPT(st, field, ptype, description) \
	{ .name = #field, .type = ptype, .offset = offsetof(st, field), \
	  .has_offset = offsetof(st, has_##field), .required = false, \
	  .min = 0, .max = UINT32_MAX, .desc = description }

/** An optional u32 with a range. */
#define PGT_RPC_PARAM_U32(st, field, lo, hi, description) \
	{ .name = #field, .type = PGT_RPC_U32, .offset = offsetof(st, field), \
	  .has_offset = offsetof(st, has_##field), .required = false, \
	  .min = lo, .max = hi, .desc = description }

/** Fill @p err with a printf-style message; returns @p errnum for chaining. */
int pgt_rpc_errorf(struct pgt_rpc_err *err, int errnum, const char *fmt, ...)
	__rte_format_printf(3, 4);

/** Look up a registered method by name, or NULL. */
const struct pgt_rpc_method *pgt_rpc_find(const char *name);

/**
 * Call a method directly (the configuration loader's path).
 *
 * @param params
 *   An object or NULL (no parameters).
 * @return 0 with *result set (new reference, may be NULL), or the error code
 *   (a standard JSON-RPC code or a negative errno) with @p err filled.
 */
int pgt_rpc_call(const char *method, json_t *params, json_t **result,
	struct pgt_rpc_err *err);

/**
 * A configuration saver: appends to @p calls the {"method", "params"}
 * objects that recreate its module's state when replayed in order.
 */
typedef void (*pgt_rpc_saver_t)(json_t *calls);

/**
 * When a reload's step runs. Additions and changes run first, savers in
 * order (an address before the routes through it); removals run after, in
 * reverse order (a route before its address, a rule before its set).
 */
enum pgt_rpc_phase {
	PGT_RPC_PHASE_ADD,
	PGT_RPC_PHASE_REMOVE,
};

/**
 * A reload planner: appends to @p plan the calls that take its module from
 * @p running (what its saver writes now) to @p wanted (a file's calls of
 * the saver's methods) in @p phase. It changes nothing itself.
 *
 * @return 0, or a negative errno with @p err filled when the file asks
 *   for a change a running daemon cannot make (-EPERM) or is malformed
 *   (-EINVAL).
 */
typedef int (*pgt_rpc_planner_t)(json_t *running, json_t *wanted,
	enum pgt_rpc_phase phase, json_t *plan, struct pgt_rpc_err *err);

/** A saver and its place in the saved configuration. */
struct pgt_rpc_saver {
	unsigned int order;	/**< Lower first: ports before addresses... */
	pgt_rpc_saver_t save;
	/** The methods save writes, NULL-terminated: a reloaded file's
	 * calls to them are this saver's to plan. */
	const char *const *methods;
	pgt_rpc_planner_t plan;	/**< How a reload converges them. */
	struct pgt_rpc_saver *next;
};

/** Add @p s to the savers (constructor context). */
void pgt_rpc_register_saver(struct pgt_rpc_saver *s);

/** Register saver object @p s at program start. */
#define PGT_RPC_REGISTER_SAVER(s) \
	RTE_INIT(pgt_rpc_register_saver_##s) { pgt_rpc_register_saver(&s); }

/** The running state as an array of calls, every saver in order. */
json_t *pgt_rpc_save_calls(void);

/** Append {"method": @p method, "params": @p params (stolen)} to @p calls. */
void pgt_rpc_save_call(json_t *calls, const char *method, json_t *params);

/**
 * Plan the reload from the running state @p running to @p wanted (arrays
 * of {"method", "params"}): the calls that, run in order, leave the state
 * a fresh start with @p wanted would have. It changes nothing.
 *
 * Calls of @p wanted that no saver plans are ignored: check each with
 * pgt_rpc_plannable() first.
 *
 * @return 0 with *plan set (new reference), or a planner's error (a
 *   negative errno) with @p err filled.
 */
int pgt_rpc_plan(json_t *running, json_t *wanted, json_t **plan,
	struct pgt_rpc_err *err);

/** Does a saver plan @p method's calls (is it part of a saved state)? */
bool pgt_rpc_plannable(const char *method);

/** True when every member of object @p part is equal in object @p whole. */
bool pgt_rpc_params_within(const json_t *part, const json_t *whole);

/** How a planner of items (addresses, routes...) replaces a changed one. */
enum pgt_rpc_replace {
	PGT_RPC_REPLACE_BY_ADD,		/**< Adding it replaces the old one. */
	PGT_RPC_REPLACE_BY_PARAM,	/**< Add with "replace": true. */
	PGT_RPC_REPLACE_BY_DELETE,	/**< Delete it, then add it. */
};

/** Items one method adds and another deletes, named by their key params. */
struct pgt_rpc_items {
	const char *add;		/**< Method adding one item. */
	const char *del;		/**< Method deleting one. */
	const char *const *key;		/**< Params naming an item, NULL-ended. */
	/** Params del takes, NULL-ended: NULL for all the item's. */
	const char *const *del_params;
	enum pgt_rpc_replace replace;
};

/**
 * Plan items: a wanted item whose params are all equal in a running one is
 * kept, one whose key names a running item replaces it, others are added
 * (PGT_RPC_PHASE_ADD); running items no wanted one names are deleted
 * (PGT_RPC_PHASE_REMOVE). Calls in @p wanted of another method are ignored.
 *
 * @return 0, or -EINVAL with @p err filled if a wanted item lacks a key.
 */
int pgt_rpc_plan_items(const struct pgt_rpc_items *items, json_t *running,
	json_t *wanted, enum pgt_rpc_phase phase, json_t *plan,
	struct pgt_rpc_err *err);

/**
 * Plan a setting whose unsaved values are @p defaults: in
 * PGT_RPC_PHASE_ADD, @p method with every value (defaults overlaid with the
 * params of the wanted calls to @p method, in order) unless the running
 * ones are the same. Steals @p defaults.
 */
void pgt_rpc_plan_setting(const char *method, json_t *defaults,
	json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan);

/**
 * Handle one decoded request value and build the response.
 *
 * @return The response object (new reference), or NULL for a notification
 *   (a request without "id"), which gets no response.
 */
json_t *pgt_rpc_handle(json_t *request);

/**
 * Start serving on Unix stream socket @p path (created mode 0660, owned by
 * the daemon's user and by group @p group, or the user's group if NULL; its
 * directory is created if missing). A stale socket file left by a dead
 * daemon is replaced; a live one is not.
 *
 * @return 0, -ENOENT if @p group does not exist, -EADDRINUSE if another
 *   daemon answers on @p path, -ENAMETOOLONG if @p path does not fit a
 *   sockaddr_un, or the negative errno of the failing socket call.
 */
int pgt_rpc_server_start(const char *path, const char *group);

/**
 * Serve clients for up to @p timeout_ms (0: do not block). Never blocks on a
 * client: reads and writes are non-blocking and bounded per call.
 */
void pgt_rpc_server_poll(int timeout_ms);

/**
 * Also serve clients over TCP on @p spec, "[ADDR:]PORT" (loopback unless an
 * address is given). Each of their requests must carry, as member "token",
 * the first line of @p token_file; else it is answered
 * PGT_RPC_UNAUTHORIZED and the connection closed. Limits and methods are
 * those of the Unix socket. Call after pgt_rpc_server_start().
 *
 * @return 0; -EINVAL if @p spec is not [ADDR:]PORT; -EPERM if @p token_file
 *   is not a regular file or others than its owner may read it; -EBADMSG if
 *   its first line is shorter than 16 characters; -EALREADY if the server
 *   is not started or already listens on TCP; the negative errno of the
 *   failing open, socket, bind or listen.
 */
int pgt_rpc_server_listen_tcp(const char *spec, const char *token_file);

/** Close every client and the listening sockets; remove the socket file. */
void pgt_rpc_server_stop(void);

/** Number of connected clients (for tests and stats). */
unsigned int pgt_rpc_server_nb_clients(void);

#endif /* PGT_RPC_H */
