/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The interactive shell: `pktgatectl` without a command.
 *
 * Each line is the words of a one-shot command (`iptables -L`, `ipvsadm
 * -Ln`, ...), quoted as a POSIX shell would ("..." and '...' and \), run by
 * the same code. A failing command prints its error and the prompt comes
 * back (ctl_die() jumps here instead of exiting). Line editing, history
 * (~/.pktgatectl_history) and completion come from libedit's readline
 * interface. Completion knows the commands and, from the daemon, the
 * chains, sets, services and ports the word being completed can name.
 * Without a terminal on stdin, lines are read as a script: no prompt, no
 * history, and the exit status says whether every line succeeded.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <jansson.h>

#include "pktgatectl.h"

#define MAX_WORDS	256
#define MAX_CANDIDATES	4096
#define HISTORY_MAX	1000

static sigjmp_buf line_jmp;
static bool line_active;

void
ctl_shell_abort(void)
{
	if (line_active)
		siglongjmp(line_jmp, 1);
}

/*
 * Split @p line into words in place; quotes group, backslash escapes.
 * @return the number of words, or -1 for an unterminated quote.
 */
static int
split_words(char *line, char **words, int max)
{
	char *in = line, *out = line, quote;
	int n = 0;

	for (;;) {
		while (*in == ' ' || *in == '\t' || *in == '\n')
			in++;
		if (*in == '\0')
			return n;
		if (n == max)
			return -1;
		words[n++] = out;
		while (*in != '\0' && *in != ' ' && *in != '\t' &&
				*in != '\n') {
			if (*in == '"' || *in == '\'') {
				quote = *in++;
				while (*in != quote) {
					if (*in == '\0')
						return -1;
					if (quote == '"' && *in == '\\' &&
							in[1] != '\0')
						in++;
					*out++ = *in++;
				}
				in++;
			} else {
				if (*in == '\\' && in[1] != '\0')
					in++;
				*out++ = *in++;
			}
		}
		if (*in != '\0')
			in++;
		*out++ = '\0';
	}
}

/* Completion candidates of the word being completed. */
static char *candidates[MAX_CANDIDATES];
static unsigned int nb_candidates;

static void
add_candidate(const char *s)
{
	unsigned int i;

	if (s == NULL || *s == '\0' || nb_candidates == MAX_CANDIDATES)
		return;
	for (i = 0; i < nb_candidates; i++)
		if (strcmp(candidates[i], s) == 0)
			return;
	candidates[nb_candidates++] = strdup(s);
}

static void
add_list(const char *const *list)
{
	for (; *list != NULL; list++)
		add_candidate(*list);
}

static json_t *
quiet_call(const char *method, json_t *params)
{
	char err[256];

	return ctl_try_call(method, params, err, sizeof(err));
}

static void
add_ports(void)
{
	json_t *ports = quiet_call("port_list", NULL), *p;
	size_t i;

	json_array_foreach(ports, i, p)
		add_candidate(str(p, "name"));
	json_decref(ports);
}

static void
add_chains(const char *table)
{
	json_t *chains = quiet_call("iptables_rules_get", json_pack("{s:s}",
		"table", table != NULL ? table : "filter")), *c;
	size_t i;

	json_array_foreach(chains, i, c)
		add_candidate(str(c, "name"));
	json_decref(chains);
}

static void
add_sets(void)
{
	json_t *r = quiet_call("ipset", json_pack("{s:s}", "command",
		"list -n"));
	char *names, *save = NULL, *name;

	if (r == NULL)
		return;
	names = strdup(str(r, "output"));
	for (name = strtok_r(names, "\n", &save); name != NULL;
			name = strtok_r(NULL, "\n", &save))
		add_candidate(name);
	free(names);
	json_decref(r);
}

/* Services as ipvsadm names them: ADDR:PORT after -t/-u, N after -f. */
static void
add_services(const char *opt)
{
	json_t *ipvs = quiet_call("ipvs_get", NULL), *s;
	bool fwmark = strcmp(opt, "-f") == 0 ||
		strcmp(opt, "--fwmark-service") == 0;
	bool udp = strcmp(opt, "-u") == 0 || strcmp(opt, "--udp-service") == 0;
	char buf[64];
	size_t i;

	json_array_foreach(json_object_get(ipvs, "services"), i, s) {
		if (fwmark != (num(s, "fwmark") != 0))
			continue;
		if (fwmark)
			snprintf(buf, sizeof(buf), "%lld", num(s, "fwmark"));
		else if (udp != (strcmp(str(s, "protocol"), "udp") == 0))
			continue;
		else
			snprintf(buf, sizeof(buf), "%s:%lld", str(s, "address"),
				num(s, "port"));
		add_candidate(buf);
	}
	json_decref(ipvs);
}

static const char *const tables[] = { "filter", "nat", "mangle", "raw", NULL };
static const char *const targets[] = { "ACCEPT", "DROP", "RETURN", "REJECT",
	"LOG", "NFLOG", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "MARK",
	"CONNMARK", "TCPMSS", "TTL", "CT", "NOTRACK", NULL };
static const char *const ip_objects[] = { "link", "addr", "route", "neigh",
	NULL };
static const char *const ipset_verbs[] = { "create", "add", "del", "test",
	"list", "save", "flush", "destroy", NULL };
static const char *const shell_words[] = { "exit", "quit", NULL };

/* Candidates for word number @p n of @p words (the last is incomplete). */
static void
complete_words(char **words, int n)
{
	const char *cmd = n > 0 ? words[0] : "", *prev = n > 0 ? words[n - 1] : "";
	const char *table = NULL;
	const struct ctl_command *c;
	int i;

	if (n == 0 || strcmp(cmd, "help") == 0) {
		for (c = ctl_commands; c->name != NULL; c++)
			add_candidate(c->name);
		if (n == 0)
			add_list(shell_words);
		return;
	}
	if (strcmp(prev, "dev") == 0 || strcmp(prev, "-i") == 0 ||
			strcmp(prev, "-o") == 0 || strcmp(prev, "set") == 0 ||
			(strcmp(cmd, "host") == 0 && strcmp(prev, "add") == 0)) {
		add_ports();
		return;
	}
	if (strcmp(cmd, "ip") == 0 && n == 1) {
		add_list(ip_objects);
		return;
	}
	if (strcmp(cmd, "iptables") == 0) {
		for (i = 1; i + 1 < n; i++)
			if (strcmp(words[i], "-t") == 0)
				table = words[i + 1];
		if (strcmp(prev, "-t") == 0)
			add_list(tables);
		else if (strcmp(prev, "-j") == 0 || strcmp(prev, "-g") == 0) {
			add_chains(table);
			add_list(targets);
		} else if (prev[0] == '-' && strchr("AIDRFLSPNXZE", prev[1]) &&
				prev[1] != '\0' && prev[2] == '\0')
			add_chains(table);
		else if (strcmp(prev, "--match-set") == 0)
			add_sets();
		return;
	}
	if (strcmp(cmd, "ipset") == 0) {
		if (n == 1)
			add_list(ipset_verbs);
		else if (n == 2)
			add_sets();
		return;
	}
	if (strcmp(cmd, "ipvsadm") == 0 && prev[0] == '-')
		add_services(prev);
}

static char *
next_candidate(const char *text, int state)
{
	static unsigned int i;
	size_t len = strlen(text);

	if (state == 0)
		i = 0;
	while (i < nb_candidates)
		if (strncmp(candidates[i++], text, len) == 0)
			return strdup(candidates[i - 1]);
	return NULL;
}

static char **
complete(const char *text, int start, int end)
{
	char *before = strndup(rl_line_buffer, (size_t)start);
	char *words[MAX_WORDS + 1];
	char **matches;
	unsigned int i;
	int n;

	(void)end;
	rl_attempted_completion_over = 1;
	rl_completion_append_character = ' ';
	for (i = 0; i < nb_candidates; i++)
		free(candidates[i]);
	nb_candidates = 0;
	n = before != NULL ? split_words(before, words, MAX_WORDS) : -1;
	if (n > 0 && strcmp(words[0], "-j") == 0) {
		n--;
		memmove(words, words + 1, sizeof(words[0]) * (size_t)n);
	}
	if (n >= 0)
		complete_words(words, n);
	free(before);
	matches = rl_completion_matches(text, next_candidate);
	return matches;
}

static char *
history_path(void)
{
	const char *home = getenv("HOME");
	char *path;

	if (home == NULL || asprintf(&path, "%s/.pktgatectl_history", home) < 0)
		return NULL;
	return path;
}

/* Run one line; false if it failed. */
static bool
run_line(char *line)
{
	char *words[MAX_WORDS];
	bool json = ctl_json_output;
	volatile bool ok = true;
	int n = split_words(line, words, MAX_WORDS);

	if (n < 0) {
		fprintf(stderr, "pktgatectl: unterminated quote or too many words\n");
		return false;
	}
	if (sigsetjmp(line_jmp, 1) == 0) {
		line_active = true;
		/* "-j COMMAND": JSON for this line. */
		if (n > 0 && strcmp(words[0], "-j") == 0) {
			ctl_json_output = true;
			ctl_run(n - 1, words + 1);
		} else {
			ctl_run(n, words);
		}
	} else {
		ok = false;
	}
	line_active = false;
	ctl_json_output = json;
	fflush(stdout);
	return ok;
}

static bool
is_exit(const char *line)
{
	char copy[16];
	char *w[2];

	snprintf(copy, sizeof(copy), "%s", line);
	return strlen(line) < sizeof(copy) && split_words(copy, w, 2) == 1 &&
		(strcmp(w[0], "exit") == 0 || strcmp(w[0], "quit") == 0);
}

int
ctl_shell(void)
{
	bool tty = isatty(STDIN_FILENO), failed = false;
	char *hist = tty ? history_path() : NULL;
	char *line = NULL;
	size_t cap = 0;

	if (tty) {
		rl_readline_name = "pktgatectl";
		rl_attempted_completion_function = complete;
		using_history();
		stifle_history(HISTORY_MAX);
		if (hist != NULL)
			read_history(hist);
		printf("pktgatectl on %s: commands as in `pktgatectl help`; Tab completes, exit or Ctrl-D ends\n",
			ctl_sock_path);
	}
	for (;;) {
		if (tty) {
			free(line);
			line = readline("pktgate> ");
		} else if (getline(&line, &cap, stdin) < 0) {
			break;
		}
		if (line == NULL)
			break;
		if (line[strspn(line, " \t\n")] == '\0' || line[0] == '#')
			continue;
		if (tty)
			add_history(line);
		if (is_exit(line))
			break;
		if (!run_line(line))
			failed = true;
	}
	free(line);
	if (tty) {
		putchar('\n');
		if (hist != NULL) {
			write_history(hist);
			history_truncate_file(hist, HISTORY_MAX);
		}
	}
	free(hist);
	return failed && !tty ? 1 : 0;
}
