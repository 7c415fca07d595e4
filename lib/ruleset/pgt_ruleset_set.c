/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Named sets, as ipset's hash:ip, hash:net and hash:ip,port, for
 * `-m set --match-set`. Each set is one lock-free rte_hash: the management
 * thread adds and deletes members in place (O(1), no chain is rebuilt) and
 * workers look them up concurrently. A deleted member's slot is reused only
 * after an RCU grace period. hash:net keeps, beside the hash, the set of
 * prefix lengths present, so a lookup tries only those (longest first).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_hash.h>
#include <rte_jhash.h>

#include "pgt_inet.h"
#include "pgt_rcu.h"
#include "pgt_ruleset_priv.h"

#define MAX_SETS 256
#define DEFAULT_MAXELEM 65536
#define MAX_MAXELEM (1u << 24)

enum set_type { SET_HASH_IP, SET_HASH_NET, SET_HASH_IP_PORT };

static const char *const type_names[] = {
	[SET_HASH_IP] = "hash:ip", [SET_HASH_NET] = "hash:net",
	[SET_HASH_IP_PORT] = "hash:ip,port",
};

struct set_key {
	uint32_t addr;
	uint8_t len;		/* hash:net: the prefix length */
	uint8_t proto;		/* hash:ip,port */
	uint16_t port;
};

struct pgt_rs_set {
	char name[PGT_RS_SET_NAMESIZE];
	uint8_t type;
	uint32_t maxelem;
	uint32_t nb_entries;
	struct rte_hash *h;
	uint64_t lens;		/* hash:net: bit L set if a /L member exists */
	uint32_t len_count[33];
};

static struct pgt_rs_set *sets[MAX_SETS];
static unsigned int nb_created;

struct pgt_rs_set *
pgt_ruleset_set_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < MAX_SETS; i++)
		if (sets[i] != NULL && strcmp(sets[i]->name, name) == 0)
			return sets[i];
	return NULL;
}

unsigned int
pgt_ruleset_set_dim(const struct pgt_rs_set *s)
{
	return s->type == SET_HASH_IP_PORT ? 2 : 1;
}

const char *
pgt_ruleset_set_name(const struct pgt_rs_set *s)
{
	return s->name;
}

bool
pgt_ruleset_set_test(const struct pgt_rs_set *s, uint32_t addr, uint8_t proto,
	uint16_t port)
{
	struct set_key k = { .addr = addr };
	uint64_t lens;
	int len;

	switch (s->type) {
	case SET_HASH_IP:
		return rte_hash_lookup(s->h, &k) >= 0;
	case SET_HASH_IP_PORT:
		k.proto = proto;
		k.port = port;
		return rte_hash_lookup(s->h, &k) >= 0;
	default:
		lens = __atomic_load_n(&s->lens, __ATOMIC_ACQUIRE);
		while (lens != 0) {
			len = 63 - __builtin_clzll(lens);
			lens &= ~(UINT64_C(1) << len);
			k.addr = addr & pgt_inet_mask((uint8_t)len);
			k.len = (uint8_t)len;
			if (rte_hash_lookup(s->h, &k) >= 0)
				return true;
		}
		return false;
	}
}

/* References from rules of the live model (sets are destroyed rarely). */
static unsigned int
set_refs(const struct pgt_rs_set *s)
{
	const struct pgt_rs_model *m = pgt_rs_live();
	const struct pgt_rs_chain *c;
	const struct pgt_rs_rule *r;
	unsigned int t, i, j, k, refs = 0;

	for (t = 0; t < PGT_TABLE_MAX; t++)
		for (i = 0; i < m->t[t]->nb_chains; i++) {
			c = m->t[t]->chains[i];
			for (j = 0; c != NULL && j < c->nb_rules; j++) {
				r = c->rules[j];
				for (k = 0; k < r->nb_matches; k++)
					if (r->m[k]->ops->uses_set != NULL &&
							r->m[k]->ops->uses_set(
								r->m[k]->data) == s)
						refs++;
			}
		}
	return refs;
}

/* A create line's type and options: the set type's index, or an error. */
static int
create_args(const char *type, int argc, char **argv, uint32_t *maxelem,
	struct pgt_rs_err *err)
{
	unsigned int t, i;

	*maxelem = DEFAULT_MAXELEM;
	for (t = 0; t < RTE_DIM(type_names); t++)
		if (strcmp(type, type_names[t]) == 0)
			break;
	if (t == RTE_DIM(type_names))
		return pgt_rs_errorf(err,
			"set type '%s' is not hash:ip, hash:net or hash:ip,port",
			type);
	for (i = 0; i < (unsigned int)argc; i += 2) {
		if (strcmp(argv[i], "maxelem") == 0 && i + 1 < (unsigned int)argc) {
			if (pgt_rs_parse_u32(argv[i + 1], 1, MAX_MAXELEM,
					maxelem) != 0)
				return pgt_rs_errorf(err,
					"maxelem: '%s' is not 1 to %u",
					argv[i + 1], MAX_MAXELEM);
		} else if ((strcmp(argv[i], "family") == 0 &&
				i + 1 < (unsigned int)argc &&
				strcmp(argv[i + 1], "inet") == 0) ||
				(strcmp(argv[i], "hashsize") == 0 &&
				 i + 1 < (unsigned int)argc)) {
			continue;	/* ipset save writes them */
		} else {
			return pgt_rs_errorf(err,
				"create: unknown option '%s'", argv[i]);
		}
	}
	return (int)t;
}

static int
set_create(const char *name, const char *type, int argc, char **argv,
	bool exist, struct pgt_rs_err *err)
{
	struct rte_hash_parameters hp = { 0 };
	char hname[RTE_HASH_NAMESIZE];
	struct pgt_rs_set *s;
	uint32_t maxelem;
	unsigned int slot;
	int t;

	t = create_args(type, argc, argv, &maxelem, err);
	if (t < 0)
		return t;
	if (strlen(name) == 0 || strlen(name) >= PGT_RS_SET_NAMESIZE)
		return pgt_rs_errorf(err, "set name '%s': 1 to %u characters",
			name, PGT_RS_SET_NAMESIZE - 1);
	s = pgt_ruleset_set_find(name);
	if (s != NULL) {
		if (exist && s->type == (uint8_t)t)
			return 0;
		pgt_rs_errorf(err, "set %s already exists", name);
		return -EEXIST;
	}
	for (slot = 0; slot < MAX_SETS && sets[slot] != NULL; slot++)
		;
	if (slot == MAX_SETS) {
		pgt_rs_errorf(err, "too many sets (at most %u)", MAX_SETS);
		return -ENOSPC;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = (uint8_t)t;
	s->maxelem = maxelem;
	snprintf(hname, sizeof(hname), "pgt_set_%u", nb_created++);
	hp.name = hname;
	hp.entries = RTE_MAX(maxelem, 8u);
	hp.key_len = sizeof(struct set_key);
	hp.hash_func = rte_jhash;
	hp.socket_id = SOCKET_ID_ANY;
	/* Lock-free readers; the management thread is the only writer. */
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
	s->h = rte_hash_create(&hp);
	if (s->h == NULL) {
		free(s);
		return -ENOMEM;
	}
	sets[slot] = s;
	return 0;
}

static void
set_free(struct pgt_rs_set *s)
{
	rte_hash_free(s->h);
	free(s);
}

static int
parse_entry(const struct pgt_rs_set *s, const char *e, struct set_key *k,
	struct pgt_rs_err *err)
{
	char buf[64], *sep, *port;
	uint32_t len = 32;

	memset(k, 0, sizeof(*k));
	if (strlen(e) >= sizeof(buf))
		goto bad;
	strcpy(buf, e);
	sep = strchr(buf, s->type == SET_HASH_IP_PORT ? ',' : '/');
	if (sep != NULL)
		*sep = '\0';
	if (pgt_inet_parse_addr(buf, &k->addr) != 0)
		goto bad;
	switch (s->type) {
	case SET_HASH_IP:
		if (sep != NULL)
			goto bad;
		return 0;
	case SET_HASH_NET:
		if (sep != NULL && pgt_rs_parse_u32(sep + 1, 1, 32, &len) != 0)
			goto bad;
		k->len = (uint8_t)len;
		k->addr &= pgt_inet_mask(k->len);
		return 0;
	default:
		if (sep == NULL)
			goto bad;
		k->proto = IPPROTO_TCP;
		port = strchr(sep + 1, ':');
		if (port != NULL) {
			*port = '\0';
			if (strcmp(sep + 1, "tcp") == 0)
				k->proto = IPPROTO_TCP;
			else if (strcmp(sep + 1, "udp") == 0)
				k->proto = IPPROTO_UDP;
			else
				goto bad;
		}
		if (pgt_rs_parse_port(port != NULL ? port + 1 : sep + 1,
				&k->port) != 0)
			goto bad;
		return 0;
	}
bad:
	return pgt_rs_errorf(err, "'%s' is not an entry of %s set %s", e,
		type_names[s->type], s->name);
}

static int
set_add(struct pgt_rs_set *s, const char *e, bool exist,
	struct pgt_rs_err *err)
{
	struct set_key k;
	int rc;

	rc = parse_entry(s, e, &k, err);
	if (rc != 0)
		return rc;
	if (rte_hash_lookup(s->h, &k) >= 0) {
		if (exist)
			return 0;
		pgt_rs_errorf(err, "%s is already in set %s", e, s->name);
		return -EEXIST;
	}
	if (s->nb_entries == s->maxelem) {
		pgt_rs_errorf(err, "set %s is full (maxelem %u)", s->name,
			s->maxelem);
		return -ENOSPC;
	}
	rc = rte_hash_add_key(s->h, &k);
	if (rc < 0) {
		pgt_rs_errorf(err, "set %s is full", s->name);
		return -ENOSPC;
	}
	s->nb_entries++;
	if (s->type == SET_HASH_NET && s->len_count[k.len]++ == 0)
		__atomic_store_n(&s->lens, s->lens | (UINT64_C(1) << k.len),
			__ATOMIC_RELEASE);
	return 0;
}

static int
set_del(struct pgt_rs_set *s, const char *e, bool exist,
	struct pgt_rs_err *err)
{
	struct set_key k;
	int32_t pos;
	int rc;

	rc = parse_entry(s, e, &k, err);
	if (rc != 0)
		return rc;
	pos = rte_hash_del_key(s->h, &k);
	if (pos < 0) {
		if (exist)
			return 0;
		pgt_rs_errorf(err, "%s is not in set %s", e, s->name);
		return -ENOENT;
	}
	s->nb_entries--;
	if (s->type == SET_HASH_NET && --s->len_count[k.len] == 0)
		__atomic_store_n(&s->lens, s->lens & ~(UINT64_C(1) << k.len),
			__ATOMIC_RELEASE);
	/* A worker may still be reading the slot. */
	pgt_rcu_synchronize();
	rte_hash_free_key_with_position(s->h, pos);
	return 0;
}

/* Delete every member: collect, delete, one grace period, free slots. */
static int
set_flush(struct pgt_rs_set *s)
{
	struct set_key *keys;
	int32_t *pos;
	const void *key;
	void *data;
	uint32_t iter = 0, n = 0, i;

	if (s->nb_entries == 0)
		return 0;
	keys = malloc(sizeof(*keys) * s->nb_entries);
	pos = malloc(sizeof(*pos) * s->nb_entries);
	if (keys == NULL || pos == NULL) {
		free(keys);
		free(pos);
		return -ENOMEM;
	}
	while (n < s->nb_entries &&
			rte_hash_iterate(s->h, &key, &data, &iter) >= 0)
		memcpy(&keys[n++], key, sizeof(*keys));
	__atomic_store_n(&s->lens, 0, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		pos[i] = rte_hash_del_key(s->h, &keys[i]);
	pgt_rcu_synchronize();
	for (i = 0; i < n; i++)
		if (pos[i] >= 0)
			rte_hash_free_key_with_position(s->h, pos[i]);
	s->nb_entries = 0;
	memset(s->len_count, 0, sizeof(s->len_count));
	free(keys);
	free(pos);
	return 0;
}

static void
print_entry(const struct pgt_rs_set *s, const struct set_key *k, FILE *f)
{
	char a[PGT_INET_ADDRSTRLEN];

	pgt_inet_format_addr(k->addr, a, sizeof(a));
	if (s->type == SET_HASH_IP)
		fprintf(f, "%s", a);
	else if (s->type == SET_HASH_NET)
		fprintf(f, k->len == 32 ? "%s" : "%s/%u", a, k->len);
	else
		fprintf(f, "%s,%s:%u", a, k->proto == IPPROTO_UDP ? "udp" :
			"tcp", k->port);
}

static void
set_save(const struct pgt_rs_set *s, FILE *f)
{
	const void *key;
	void *data;
	uint32_t iter = 0;

	fprintf(f, "create %s %s family inet hashsize 1024 maxelem %u\n",
		s->name, type_names[s->type], s->maxelem);
	while (rte_hash_iterate(s->h, &key, &data, &iter) >= 0) {
		fprintf(f, "add %s ", s->name);
		print_entry(s, key, f);
		fputc('\n', f);
	}
}

static void
set_list(const struct pgt_rs_set *s, FILE *f, bool members)
{
	const void *key;
	void *data;
	uint32_t iter = 0;

	fprintf(f, "Name: %s\nType: %s\nHeader: family inet hashsize 1024 maxelem %u\n"
		"References: %u\nNumber of entries: %u\nMembers:\n", s->name,
		type_names[s->type], s->maxelem, set_refs(s), s->nb_entries);
	while (members && rte_hash_iterate(s->h, &key, &data, &iter) >= 0) {
		print_entry(s, key, f);
		fputc('\n', f);
	}
}

/* Set @p s as JSON, with its entries in the form ipset save writes. */
static json_t *
set_json(const struct pgt_rs_set *s, bool members)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i}", "name", s->name,
		"type", type_names[s->type], "entries", (int)s->nb_entries,
		"maxelem", (int)s->maxelem, "references", (int)set_refs(s));
	const void *key;
	void *data;
	uint32_t iter = 0;
	char entry[64];
	json_t *list;
	FILE *f;

	if (!members)
		return o;
	list = json_array();
	while (rte_hash_iterate(s->h, &key, &data, &iter) >= 0) {
		f = fmemopen(entry, sizeof(entry), "w");
		if (f == NULL)
			break;
		print_entry(s, key, f);
		fclose(f);
		json_array_append_new(list, json_string(entry));
	}
	json_object_set_new(o, "members", list);
	return o;
}

json_t *
pgt_rs_sets_json(const char *name, bool members)
{
	json_t *out = json_array();
	unsigned int i;

	for (i = 0; i < MAX_SETS; i++)
		if (sets[i] != NULL && (name == NULL ||
				strcmp(sets[i]->name, name) == 0))
			json_array_append_new(out, set_json(sets[i], members));
	return out;
}

/* One line of a sets document into @p model (see pgt_rs_sets_lines()). */
static int
model_line(int argc, char **argv, json_t *model, struct pgt_rs_err *err)
{
	struct pgt_rs_set probe = { .type = 0 };
	char entry[64];
	struct set_key k;
	uint32_t maxelem;
	json_t *set;
	FILE *f;
	int t;

	if (argc > 0 && strcmp(argv[argc - 1], "-exist") == 0)
		argc--;
	if (argc >= 3 && (strcmp(argv[0], "create") == 0 ||
			strcmp(argv[0], "-N") == 0)) {
		t = create_args(argv[2], argc - 3, argv + 3, &maxelem, err);
		if (t < 0)
			return t;
		if (json_object_get(model, argv[1]) != NULL)
			return pgt_rs_errorf(err, "set %s is created twice",
				argv[1]);
		json_object_set_new(model, argv[1], json_pack(
			"{s:s, s:i, s:o}", "type", type_names[t], "maxelem",
			(json_int_t)maxelem, "entries", json_object()));
		return 0;
	}
	if (argc != 3 || (strcmp(argv[0], "add") != 0 &&
			strcmp(argv[0], "-A") != 0))
		return pgt_rs_errorf(err,
			"'%s': a set configuration creates sets and adds to them",
			argc > 0 ? argv[0] : "");
	set = json_object_get(model, argv[1]);
	if (set == NULL)
		return pgt_rs_errorf(err, "add to set %s before its create line",
			argv[1]);
	for (t = 0; t < (int)RTE_DIM(type_names); t++)
		if (strcmp(json_string_value(json_object_get(set, "type")),
				type_names[t]) == 0)
			probe.type = (uint8_t)t;
	snprintf(probe.name, sizeof(probe.name), "%s", argv[1]);
	if (parse_entry(&probe, argv[2], &k, err) != 0)
		return -EINVAL;
	/* The form ipset save writes, so equal entries compare equal. */
	f = fmemopen(entry, sizeof(entry), "w");
	if (f == NULL)
		return -ENOMEM;
	print_entry(&probe, &k, f);
	fclose(f);
	json_object_set_new(json_object_get(set, "entries"), entry,
		json_true());
	return 0;
}

bool
pgt_rs_set_in_use(const char *name)
{
	const struct pgt_rs_set *s = pgt_ruleset_set_find(name);

	return s != NULL && set_refs(s) > 0;
}

int
pgt_rs_sets_lines(const char *text, json_t *model, int *lineno,
	struct pgt_rs_err *err)
{
	const char *p = text, *nl;
	char *line, **argv;
	int argc, rc = 0;

	*lineno = 0;
	while (*p != '\0' && rc == 0) {
		nl = strchr(p, '\n');
		line = strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
		if (line == NULL)
			return -ENOMEM;
		(*lineno)++;
		argv = NULL;
		argc = 0;
		rc = pgt_rs_tokenize(line, &argv, &argc, err);
		if (rc == 0 && argc > 0 && argv[0][0] != '#')
			rc = model != NULL ? model_line(argc, argv, model, err) :
				pgt_ruleset_ipset(argc, argv, NULL, err);
		pgt_rs_free_argv(argv, argc);
		free(line);
		p = nl != NULL ? nl + 1 : p + strlen(p);
	}
	return rc;
}

static int
set_arg(const char *name, struct pgt_rs_set **s, struct pgt_rs_err *err)
{
	*s = pgt_ruleset_set_find(name);
	if (*s != NULL)
		return 0;
	pgt_rs_errorf(err, "no set named '%s'", name);
	return -ENOENT;
}

int
pgt_ruleset_ipset(int argc, char **argv, FILE *out, struct pgt_rs_err *err)
{
	struct pgt_rs_set *s = NULL;
	const char *cmd, *list_opt = NULL;
	bool exist = false;
	unsigned int i;
	int rc;

	err->msg[0] = '\0';
	if (argc > 0 && strcmp(argv[argc - 1], "-exist") == 0) {
		exist = true;
		argc--;
	}
	if (argc == 0)
		return pgt_rs_errorf(err,
			"no command (create, add, del, test, list, save, flush, destroy)");
	cmd = argv[0];
	if (strcmp(cmd, "create") == 0 || strcmp(cmd, "-N") == 0) {
		if (argc < 3)
			return pgt_rs_errorf(err, "usage: create NAME TYPE [maxelem N]");
		return set_create(argv[1], argv[2], argc - 3, argv + 3, exist,
			err);
	}
	if (strcmp(cmd, "add") == 0 || strcmp(cmd, "del") == 0 ||
			strcmp(cmd, "test") == 0 || strcmp(cmd, "-A") == 0 ||
			strcmp(cmd, "-D") == 0 || strcmp(cmd, "-T") == 0) {
		if (argc != 3)
			return pgt_rs_errorf(err, "usage: %s NAME ENTRY", cmd);
		rc = set_arg(argv[1], &s, err);
		if (rc != 0)
			return rc;
		if (cmd[0] == 'a' || cmd[1] == 'A')
			return set_add(s, argv[2], exist, err);
		if (cmd[0] == 'd' || cmd[1] == 'D')
			return set_del(s, argv[2], exist, err);
		{
			struct set_key k;

			rc = parse_entry(s, argv[2], &k, err);
			if (rc != 0)
				return rc;
			if (rte_hash_lookup(s->h, &k) < 0) {
				pgt_rs_errorf(err, "%s is NOT in set %s",
					argv[2], s->name);
				return -ENOENT;
			}
			if (out != NULL)
				fprintf(out, "%s is in set %s.\n", argv[2],
					s->name);
			return 0;
		}
	}
	/* ipset list -n (-name): the names only; -t (-terse): no members. */
	if ((strcmp(cmd, "list") == 0 || strcmp(cmd, "-L") == 0) && argc > 1 &&
			argv[argc - 1][0] == '-') {
		list_opt = argv[argc - 1];
		argc--;
		if (strcmp(list_opt, "-n") != 0 &&
				strcmp(list_opt, "-name") != 0 &&
				strcmp(list_opt, "-t") != 0 &&
				strcmp(list_opt, "-terse") != 0)
			return pgt_rs_errorf(err,
				"list: option '%s' is not -n (-name) or -t (-terse)",
				list_opt);
	}
	if (argc > 2)
		return pgt_rs_errorf(err, "%s takes at most a set name", cmd);
	if (argc == 2) {
		rc = set_arg(argv[1], &s, err);
		if (rc != 0)
			return rc;
	}
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "-L") == 0 ||
			strcmp(cmd, "save") == 0) {
		for (i = 0; out != NULL && i < MAX_SETS; i++) {
			if (sets[i] == NULL || (s != NULL && sets[i] != s))
				continue;
			if (cmd[0] == 's')
				set_save(sets[i], out);
			else if (list_opt != NULL && list_opt[1] == 'n')
				fprintf(out, "%s\n", sets[i]->name);
			else
				set_list(sets[i], out, list_opt == NULL);
		}
		return 0;
	}
	if (strcmp(cmd, "flush") == 0 || strcmp(cmd, "-F") == 0) {
		for (i = 0; i < MAX_SETS; i++)
			if (sets[i] != NULL && (s == NULL || sets[i] == s)) {
				rc = set_flush(sets[i]);
				if (rc != 0)
					return rc;
			}
		return 0;
	}
	if (strcmp(cmd, "destroy") == 0 || strcmp(cmd, "-X") == 0) {
		for (i = 0; i < MAX_SETS; i++)
			if (sets[i] != NULL && (s == NULL || sets[i] == s) &&
					set_refs(sets[i]) > 0) {
				pgt_rs_errorf(err,
					"set %s is in use by a rule", sets[i]->name);
				return -EBUSY;
			}
		for (i = 0; i < MAX_SETS; i++)
			if (sets[i] != NULL && (s == NULL || sets[i] == s)) {
				set_free(sets[i]);
				sets[i] = NULL;
			}
		return 0;
	}
	return pgt_rs_errorf(err, "unknown command '%s'", cmd);
}
