/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PKTGATECTL_H
#define PKTGATECTL_H

/*
 * What pktgatectl's files share: the RPC call, error exit, output mode and
 * the commands that live in their own files.
 */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define DEFAULT_SOCKET "/run/pktgate/pktgate.sock"

extern const char *ctl_sock_path;
extern bool ctl_json_output;	/* -j */

/*
 * Print "pktgatectl: MESSAGE" on stderr and end the command: the process
 * exits 1, or in the interactive shell the line is abandoned and the
 * prompt comes back.
 */
void ctl_die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* Call @p method (params stolen, may be NULL); the result, or ctl_die(). */
json_t *ctl_call(const char *method, json_t *params);

/*
 * As ctl_call(), but a failure returns NULL with its message in @p err
 * (for completion, which must not abandon the line being edited).
 */
json_t *ctl_try_call(const char *method, json_t *params, char *err,
	size_t errlen);

/*
 * Until called with false, SIGINT and SIGTERM only set ctl_interrupted, so
 * a command that runs until interrupted (capture, top) ends cleanly.
 */
extern volatile sig_atomic_t ctl_interrupted;
void ctl_catch_interrupts(bool on);

/* Option @p opt of command @p cmd as a number in min..max, or ctl_die(). */
long ctl_parse_number(const char *cmd, const char *opt, const char *s,
	long min, long max);

/* Append @p w to the line @p buf (of @p len characters), quoted as
 * iptables-restore reads it, after a space unless the line is empty. */
void ctl_append_word(char **buf, size_t *len, const char *w);

/* @p v as indented JSON on stdout. */
void ctl_print_json(json_t *v);

/* A command: its first word, one line about it, its usage lines. */
struct ctl_command {
	const char *name;
	const char *summary;
	const char *usage;
};

/* Every command, ending with a NULL name. */
extern const struct ctl_command ctl_commands[];

/* help: every command's usage, or @p topic's (NULL: all). */
void ctl_usage(FILE *f, const char *topic);

/*
 * In the shell, abandon the line being run and return to the prompt (does
 * not return); elsewhere, return.
 */
void ctl_shell_abort(void);

/* Run one command's words (the one-shot form and each shell line). */
void ctl_run(int argc, char **argv);

/* capture.c: pktgatectl capture (NFLOG packets as pcapng). */
void ctl_capture(int argc, char **argv);

/* trace.c: pktgatectl trace (TRACE events as they happen). */
void ctl_trace(int argc, char **argv);

/* One trace event (a trace_read object) as a line of text. */
void ctl_trace_print(FILE *f, json_t *event);

/* explain.c: pktgatectl explain (a packet through an offline engine). */
void ctl_explain(int argc, char **argv);

/* top.c: pktgatectl top (live rates). */
void ctl_top(int argc, char **argv);

/* shell.c: the interactive shell; returns the exit status. */
int ctl_shell(void);

static inline const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static inline long long
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

#endif /* PKTGATECTL_H */
