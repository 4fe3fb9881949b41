/* The controller's SQLite store: schema, prepared statements, rows; with
 * etcd, the same over a working copy in memory (store-repl.c replicates). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "pb/pb.h"
#include "rpc/envelope.h"
#include "spec/workload.h"
#include "store-repl.h"

#define SCHEMA_VERSION 9
#define STMT_CACHE     64

static const char schema_v1[] =
    "CREATE TABLE nodes ("
    "  name TEXT PRIMARY KEY,"
    "  id BLOB NOT NULL UNIQUE,"
    "  phase INTEGER NOT NULL,"
    "  key1 BLOB, key2 BLOB," /* admitted keys, oldest first */
    "  pending_key BLOB,"     /* awaiting an operator's approval */
    "  info BLOB,"            /* NodeInfo, NULL until registered */
    "  generation INTEGER NOT NULL,"
    "  applied_generation INTEGER NOT NULL,"
    "  cordoned INTEGER NOT NULL,"
    "  drained INTEGER NOT NULL,"
    "  registered_ns INTEGER NOT NULL,"
    "  last_heartbeat_ns INTEGER NOT NULL,"
    "  phase_since_ns INTEGER NOT NULL,"
    "  reason TEXT NOT NULL);"
    "CREATE TABLE join_tokens ("
    "  id BLOB PRIMARY KEY,"
    "  sealed_secret BLOB," /* NULL once used */
    "  expires_ns INTEGER NOT NULL,"
    "  description TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  used_ns INTEGER NOT NULL DEFAULT 0,"
    "  used_by TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE workloads ("
    "  name TEXT PRIMARY KEY,"
    "  created_ns INTEGER NOT NULL,"
    "  workload BLOB NOT NULL);" /* Workload without status */
    "CREATE TABLE assignments ("
    "  node TEXT NOT NULL,"
    "  container_id TEXT NOT NULL,"
    "  workload TEXT NOT NULL,"
    "  replica INTEGER NOT NULL,"
    "  spec_generation INTEGER NOT NULL,"
    "  workload_generation INTEGER NOT NULL,"
    "  PRIMARY KEY (node, container_id));"
    "CREATE TABLE statuses ("
    "  node TEXT NOT NULL,"
    "  container_id TEXT NOT NULL,"
    "  status BLOB NOT NULL," /* ContainerStatus */
    "  PRIMARY KEY (node, container_id));"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time_ns INTEGER NOT NULL,"
    "  object_kind TEXT NOT NULL,"
    "  object_name TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  message TEXT NOT NULL);"
    "CREATE INDEX events_object ON events (object_kind, object_name, id);";

/* Version 2: nodes' taints (operators', apart from what nodes report). */
static const char schema_v2[] = "CREATE TABLE node_taints ("
                                "  node TEXT PRIMARY KEY,"
                                "  taints BLOB NOT NULL);"; /* TaintList */

/* Version 3: namespaces. A workload's row is named by its key (its name in
 * "default", "<ns>/<name>" elsewhere), so version 2's rows stay right. */
static const char schema_v3[] = "CREATE TABLE namespaces ("
                                "  name TEXT PRIMARY KEY,"
                                "  created_ns INTEGER NOT NULL,"
                                "  namespace BLOB NOT NULL);"; /* Namespace */

/* Version 4: each node's pod range. */
static const char schema_v4[] = "ALTER TABLE nodes ADD COLUMN pod_cidr TEXT NOT NULL DEFAULT '';";

/* Version 5: Deployments' and DaemonSets' revisions, and which one each
 * assignment runs (its hash; '' for what has none). */
static const char schema_v5[] =
    "CREATE TABLE replica_sets ("
    "  workload TEXT NOT NULL," /* its key */
    "  hash TEXT NOT NULL,"
    "  replica_set BLOB NOT NULL," /* ReplicaSet */
    "  PRIMARY KEY (workload, hash));"
    "ALTER TABLE assignments ADD COLUMN revision TEXT NOT NULL DEFAULT '';";

/* Version 6: Jobs' states. */
static const char schema_v6[] = "CREATE TABLE jobs ("
                                "  workload TEXT PRIMARY KEY,"
                                "  state BLOB NOT NULL);"; /* JobState */

/* Version 7: PodDisruptionBudgets, by key (as a workload's: the name in
 * "default", "<ns>/<name>" elsewhere). */
static const char schema_v7[] = "CREATE TABLE budgets ("
                                "  key TEXT PRIMARY KEY,"
                                "  budget BLOB NOT NULL);"; /* PodDisruptionBudget */

/* Version 8: Secrets and ConfigMaps, by key ("secret/<ns>/<name>",
 * "configmap/<ns>/<name>"); a Secret's values sealed in the row. */
static const char schema_v8[] = "CREATE TABLE objects ("
                                "  key TEXT PRIMARY KEY,"
                                "  object BLOB NOT NULL);"; /* ConfigObject */

/* Version 9: join tokens of several uses (berthctl join-token --uses). */
static const char schema_v9[] =
    "ALTER TABLE join_tokens ADD COLUMN uses INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE join_tokens ADD COLUMN used INTEGER NOT NULL DEFAULT 0;"
    "UPDATE join_tokens SET used = 1 WHERE used_ns != 0;";

typedef struct stmt_slot {
    const char *sql; /* a string literal: cached by address */
    sqlite3_stmt *stmt;
} stmt_slot;

struct berth_store {
    sqlite3 *db;
    char *path;
    int depth;                           /* nested begin count */
    bool doomed;                         /* a nested rollback happened */
    berth_prom_histogram commit_seconds; /* each outermost COMMIT (its fsync) */
    int64_t stall_end_ns, stall_ns;      /* the last slow one */
    stmt_slot stmts[STMT_CACHE];
    store_repl *repl; /* etcd's: NULL for a file */
};

static int db_error(berth_store *st, berth_error **err, const char *what)
{
    return berth_error_set(err, EIO, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

/* A prepared statement for a literal, reset and with its bindings cleared. */
static sqlite3_stmt *stmt(berth_store *st, const char *sql, berth_error **err)
{
    stmt_slot *free_slot = NULL;
    sqlite3_stmt *s = NULL;

    for (size_t i = 0; i < STMT_CACHE; i++) {
        if (st->stmts[i].sql == sql) {
            sqlite3_reset(st->stmts[i].stmt);
            sqlite3_clear_bindings(st->stmts[i].stmt);
            return st->stmts[i].stmt;
        }
        if (!st->stmts[i].sql && !free_slot)
            free_slot = &st->stmts[i];
    }
    if (!free_slot) { /* a bug: raise STMT_CACHE */
        berth_error_set(err, ENOSPC, "%s: statement cache full", st->path);
        return NULL;
    }
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
        db_error(st, err, "prepare");
        return NULL;
    }
    free_slot->sql = sql;
    free_slot->stmt = s;
    return s;
}

/* Step a statement that returns no rows. With etcd, one outside a
 * transaction is one of its own: every write is replicated at a commit. */
static int run(berth_store *st, sqlite3_stmt *s, const char *what, berth_error **err)
{
    int rc;

    if (st->repl && st->depth == 0) {
        if (berth_store_begin(st, err) < 0)
            return -1;
        if (run(st, s, what, err) < 0) {
            berth_store_rollback(st);
            return -1;
        }
        return berth_store_commit(st, err);
    }
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_error(st, err, what);
    return 0;
}

static int exec(berth_store *st, const char *sql, const char *what, berth_error **err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error(st, err, what);
    return 0;
}

/* Bind a message as a blob (packed here). */
static int bind_pb(berth_store *st, sqlite3_stmt *s, int col, const ProtobufCMessage *m,
                   berth_error **err)
{
    size_t len;
    uint8_t *buf;

    if (!m)
        return sqlite3_bind_null(s, col) == SQLITE_OK ? 0 : db_error(st, err, "bind");
    buf = berth_pb_pack(m, &len);
    if (sqlite3_bind_blob64(s, col, buf, len, free) != SQLITE_OK)
        return db_error(st, err, "bind");
    return 0;
}

/* Decode a blob column as d; NULL (and the error) when it is not one. */
static ProtobufCMessage *column_pb(berth_store *st, sqlite3_stmt *s, int col,
                                   const ProtobufCMessageDescriptor *d, const char *row,
                                   berth_error **err)
{
    const void *data = sqlite3_column_blob(s, col);
    int len = sqlite3_column_bytes(s, col);
    ProtobufCMessage *m = berth_pb_unpack(d, data ? data : "", (size_t)len);

    if (!m)
        berth_error_set(err, EIO, "%s: %s: not a valid %s", st->path, row, d->name);
    return m;
}

static int bind_text(sqlite3_stmt *s, int col, const char *t)
{
    return sqlite3_bind_text(s, col, t ? t : "", -1, SQLITE_TRANSIENT);
}

static void column_text(sqlite3_stmt *s, int col, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, col);

    snprintf(buf, size, "%s", t ? (const char *)t : "");
}

/* Copy a blob column of exactly len bytes; false when NULL or another size. */
static bool column_fixed(sqlite3_stmt *s, int col, void *out, size_t len)
{
    if (sqlite3_column_type(s, col) != SQLITE_BLOB || (size_t)sqlite3_column_bytes(s, col) != len)
        return false;
    memcpy(out, sqlite3_column_blob(s, col), len);
    return true;
}

/* ---- open, schema ---- */

static int migrate(berth_store *st, berth_error **err)
{
    sqlite3_stmt *s = NULL;
    int version;

    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return db_error(st, err, "read the schema version");
    }
    version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version == SCHEMA_VERSION)
        return 0;
    if (version > SCHEMA_VERSION)
        return berth_error_set(err, EPROTO,
                               "%s: schema version %d is newer than this controller's (%d)",
                               st->path, version, SCHEMA_VERSION);
    if (exec(st, "BEGIN IMMEDIATE", "begin", err) < 0)
        return -1;
    if ((version < 1 && exec(st, schema_v1, "create the schema", err) < 0) ||
        (version < 2 && exec(st, schema_v2, "add taints to the schema", err) < 0) ||
        (version < 3 && exec(st, schema_v3, "add namespaces to the schema", err) < 0) ||
        (version < 4 && exec(st, schema_v4, "add pod ranges to the schema", err) < 0) ||
        (version < 5 && exec(st, schema_v5, "add revisions to the schema", err) < 0) ||
        (version < 6 && exec(st, schema_v6, "add jobs to the schema", err) < 0) ||
        (version < 7 && exec(st, schema_v7, "add disruption budgets to the schema", err) < 0) ||
        (version < 8 && exec(st, schema_v8, "add Secrets and ConfigMaps to the schema", err) < 0) ||
        exec(st, schema_v9, "add join token uses to the schema", err) < 0 ||
        exec(st, "PRAGMA user_version = 9", "set the schema version", err) < 0) {
        exec(st, "ROLLBACK", "rollback", NULL);
        return -1;
    }
    return exec(st, "COMMIT", "commit the schema", err);
}

int berth_store_open(const char *path, berth_store **ret_store, berth_error **err)
{
    berth_store *st;
    int fd;

    /* Created 0600 by us: it holds node keys and sealed token secrets. */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return berth_error_errno(err, "open %s", path);
    close(fd);
    st = berth_xcalloc(1, sizeof(*st));
    st->path = berth_xstrdup(path);
    berth_prom_histogram_init(&st->commit_seconds, berth_prom_seconds_buckets,
                              berth_prom_seconds_buckets_n);
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        db_error(st, err, "open");
        berth_store_close(st);
        return -1;
    }
    sqlite3_extended_result_codes(st->db, 1);
    /* WAL: readers never block the writer; FULL: a commit is on disk
     * (fsync of the WAL) before we answer anyone. */
    if (exec(st, "PRAGMA journal_mode = WAL", "set WAL mode", err) < 0 ||
        exec(st, "PRAGMA synchronous = FULL", "set synchronous", err) < 0 ||
        exec(st, "PRAGMA foreign_keys = OFF", "pragma", err) < 0 ||
        sqlite3_busy_timeout(st->db, 5000) != SQLITE_OK || migrate(st, err) < 0) {
        berth_store_close(st);
        return -1;
    }
    *ret_store = st;
    return 0;
}

int berth_store_open_etcd(const berth_store_etcd_config *cfg, berth_store **ret_store,
                          berth_error **err)
{
    berth_store *st = berth_xcalloc(1, sizeof(*st));

    st->path = berth_xasprintf("etcd %s%s", cfg->etcd.n_endpoints ? cfg->etcd.endpoints[0] : "",
                               cfg->prefix ? cfg->prefix : "/berth/");
    berth_prom_histogram_init(&st->commit_seconds, berth_prom_seconds_buckets,
                              berth_prom_seconds_buckets_n);
    /* the working copy: etcd is what lasts */
    if (sqlite3_open_v2(":memory:", &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        db_error(st, err, "open");
        berth_store_close(st);
        return -1;
    }
    sqlite3_extended_result_codes(st->db, 1);
    if (exec(st, "PRAGMA synchronous = OFF", "set synchronous", err) < 0 || migrate(st, err) < 0 ||
        store_repl_open(st->db, cfg, SCHEMA_VERSION, &st->repl, err) < 0) {
        berth_store_close(st);
        return -1;
    }
    *ret_store = st;
    return 0;
}

int berth_store_fd(const berth_store *st)
{
    return st->repl ? store_repl_fd(st->repl) : -1;
}

int berth_store_sync(berth_store *st, berth_error **err)
{
    return st->repl ? store_repl_sync(st->repl, err) : 0;
}

berth_store_role berth_store_role_of(const berth_store *st)
{
    return st->repl ? store_repl_role(st->repl) : BERTH_STORE_SOLE;
}

const char *berth_store_role_name(berth_store_role r)
{
    switch (r) {
    case BERTH_STORE_SOLE:
        return "sole";
    case BERTH_STORE_FOLLOWER:
        return "follower";
    case BERTH_STORE_TAKEOVER:
        return "taking over";
    case BERTH_STORE_LEADER:
        return "leader";
    case BERTH_STORE_LOST:
        return "deposed";
    }
    return "?";
}

int berth_store_campaign(berth_store *st, const char *name, const char *rpc, int64_t ttl_s,
                         berth_error **err)
{
    if (!st->repl)
        return berth_error_set(err, EINVAL, "%s: one controller alone: no election", st->path);
    return store_repl_campaign(st->repl, name, rpc, ttl_s, err);
}

size_t berth_store_members(const berth_store *st, berth_store_member *ret, size_t cap)
{
    return st->repl ? store_repl_members(st->repl, ret, cap) : 0;
}

size_t berth_store_health(berth_store *st, berth_etcd_status *ret, const char **ret_endpoints)
{
    return st->repl ? store_repl_health(st->repl, ret, ret_endpoints) : 0;
}

/* ---- backup and restore ---- */

/* The tables of this schema, as migrate made them. */
static int tables_of(berth_store *st, char ***ret, size_t *ret_n, berth_error **err)
{
    sqlite3_stmt *s = NULL;
    char **v = NULL;
    size_t n = 0;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name "
                           "NOT LIKE 'sqlite_%' ORDER BY name",
                           -1, &s, NULL) != SQLITE_OK)
        return db_error(st, err, "list tables");
    while (sqlite3_step(s) == SQLITE_ROW) {
        v = berth_xreallocarray(v, n + 1, sizeof(*v));
        v[n++] = berth_xstrdup((const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    *ret = v;
    *ret_n = n;
    return 0;
}

static void tables_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int count_rows(berth_store *st, const char *schema, char **tables, size_t n, size_t *ret,
                      berth_error **err)
{
    *ret = 0;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *sql =
            berth_xasprintf("SELECT count(*) FROM %s.\"%s\"", schema, tables[i]);
        sqlite3_stmt *s = NULL;

        if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK ||
            sqlite3_step(s) != SQLITE_ROW) {
            sqlite3_finalize(s);
            return db_error(st, err, "count rows");
        }
        *ret += (size_t)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    return 0;
}

int berth_store_backup(berth_store *st, const char *path, size_t *ret_rows, berth_error **err)
{
    _cleanup_free_ char *tmp = berth_xasprintf("%s.tmp-%d", path, (int)getpid());
    sqlite3 *dst = NULL;
    sqlite3_backup *b;
    char **tables = NULL;
    size_t n_tables = 0;
    int fd, rc;

    if (st->depth > 0)
        return berth_error_set(err, EBUSY, "%s: backup inside a transaction", st->path);
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return berth_error_errno(err, "create %s", tmp);
    close(fd);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        berth_error_set(err, EIO, "open %s: %s", tmp, sqlite3_errmsg(dst));
        goto fail;
    }
    /* every page at once: one read transaction, one consistent picture */
    if (!(b = sqlite3_backup_init(dst, "main", st->db, "main"))) {
        berth_error_set(err, EIO, "backup to %s: %s", tmp, sqlite3_errmsg(dst));
        goto fail;
    }
    rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        berth_error_set(err, EIO, "backup of %s to %s: %s", st->path, tmp, sqlite3_errstr(rc));
        goto fail;
    }
    /* a file of its own: no journal beside it */
    if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        berth_error_set(err, EIO, "%s: %s", tmp, sqlite3_errmsg(dst));
        goto fail;
    }
    sqlite3_close_v2(dst);
    dst = NULL;
    if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) < 0) {
        berth_error_errno(err, "fsync %s", tmp);
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        berth_error_errno(err, "rename %s to %s", tmp, path);
        goto fail;
    }
    if (ret_rows && (tables_of(st, &tables, &n_tables, err) < 0 ||
                     count_rows(st, "main", tables, n_tables, ret_rows, err) < 0)) {
        tables_free(tables, n_tables);
        return -1;
    }
    tables_free(tables, n_tables);
    return 0;
fail:
    sqlite3_close_v2(dst);
    unlink(tmp);
    return -1;
}

int berth_store_restore(berth_store *st, const char *path, bool force, size_t *ret_rows,
                        berth_error **err)
{
    _cleanup_free_ char *copy = NULL;
    berth_store *src = NULL;
    char **tables = NULL;
    size_t n_tables = 0, have = 0;
    sqlite3_stmt *s = NULL;
    int r = -1, fd;

    /* the backup is never changed: a copy is brought up to date */
    {
        char dir[] = "/tmp/berth-restore-XXXXXX";
        sqlite3 *in = NULL, *out = NULL;
        sqlite3_backup *b;
        int rc = SQLITE_ERROR;

        if (access(path, R_OK) < 0)
            return berth_error_errno(err, "backup %s", path);
        if (!mkdtemp(dir))
            return berth_error_errno(err, "mkdtemp");
        copy = berth_xasprintf("%s/berth.db", dir);
        if ((fd = open(copy, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0)
            close(fd);
        if (sqlite3_open_v2(path, &in, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_open_v2(copy, &out, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
            (b = sqlite3_backup_init(out, "main", in, "main"))) {
            rc = sqlite3_backup_step(b, -1);
            sqlite3_backup_finish(b);
        }
        if (rc != SQLITE_DONE)
            berth_error_set(err, EIO, "backup %s: %s", path,
                            in ? sqlite3_errmsg(in) : "cannot open");
        sqlite3_close_v2(in);
        sqlite3_close_v2(out);
        if (rc != SQLITE_DONE || berth_store_open(copy, &src, err) < 0) {
            unlink(copy);
            rmdir(dir);
            return berth_error_prefix(err, "restore");
        }
        berth_store_close(src);
        src = NULL;
    }
    if (tables_of(st, &tables, &n_tables, err) < 0)
        goto out;
    {
        static const char *const fleet[] = { "nodes", "workloads", "join_tokens" };
        char **f = (char **)fleet;

        if (count_rows(st, "main", f, 3, &have, err) < 0)
            goto out;
    }
    if (have && !force) {
        berth_error_set(err, EEXIST,
                        "%s holds a fleet already (%zu nodes, workloads and tokens): restoring "
                        "would replace it (--force)",
                        st->path, have);
        goto out;
    }
    if (sqlite3_prepare_v2(st->db, "ATTACH DATABASE ?1 AS backup", -1, &s, NULL) != SQLITE_OK) {
        db_error(st, err, "attach");
        goto out;
    }
    sqlite3_bind_text(s, 1, copy, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_DONE) {
        sqlite3_finalize(s);
        db_error(st, err, "attach the backup");
        goto out;
    }
    sqlite3_finalize(s);
    if (berth_store_begin(st, err) < 0)
        goto detach;
    for (size_t i = 0; i < n_tables; i++) {
        _cleanup_free_ char *sql = berth_xasprintf(
            "DELETE FROM main.\"%s\"; INSERT INTO main.\"%s\" SELECT * FROM backup.\"%s\"",
            tables[i], tables[i], tables[i]);

        if (exec(st, sql, "restore a table", err) < 0) {
            berth_error_prefix(err, "%s", tables[i]);
            berth_store_rollback(st);
            goto detach;
        }
    }
    if (berth_store_commit(st, err) < 0)
        goto detach;
    r = ret_rows ? count_rows(st, "main", tables, n_tables, ret_rows, err) : 0;
detach:
    sqlite3_exec(st->db, "DETACH DATABASE backup", NULL, NULL, NULL);
out:
    tables_free(tables, n_tables);
    if (copy) {
        char *slash = strrchr(copy, '/');

        unlink(copy);
        *slash = '\0';
        rmdir(copy);
    }
    return r;
}

void berth_store_close(berth_store *st)
{
    if (!st)
        return;
    store_repl_free(st->repl);
    for (size_t i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(st->stmts[i].stmt);
    sqlite3_close_v2(st->db);
    free(st->path);
    free(st);
}

int berth_store_begin(berth_store *st, berth_error **err)
{
    if (st->depth++ > 0)
        return 0;
    st->doomed = false;
    if (exec(st, "BEGIN IMMEDIATE", "begin", err) < 0) {
        st->depth = 0;
        return -1;
    }
    return 0;
}

int berth_store_commit(berth_store *st, berth_error **err)
{
    int64_t t0;

    if (st->depth <= 0)
        return berth_error_set(err, EINVAL, "%s: commit without begin", st->path);
    if (--st->depth > 0)
        return 0;
    if (st->doomed) {
        exec(st, "ROLLBACK", "rollback", NULL);
        if (st->repl)
            store_repl_discard(st->repl);
        return berth_error_set(err, EIO, "%s: transaction rolled back", st->path);
    }
    t0 = berth_now_mono_ns();
    /* etcd's transaction first: the copy commits only what etcd holds */
    if (st->repl && store_repl_commit(st->repl, err) < 0) {
        exec(st, "ROLLBACK", "rollback", NULL);
        store_repl_discard(st->repl);
        return -1;
    }
    if (exec(st, "COMMIT", "commit", err) < 0) {
        exec(st, "ROLLBACK", "rollback", NULL);
        if (st->repl)
            store_repl_failed(st->repl, "the working copy could not commit what etcd took");
        return -1;
    }
    {
        int64_t now = berth_now_mono_ns();

        berth_prom_histogram_observe_ns(&st->commit_seconds, now - t0);
        if (now - t0 > BERTH_STORE_STALL_NS) {
            st->stall_end_ns = now;
            st->stall_ns = now - t0;
        }
    }
    return 0;
}

void berth_store_last_stall(const berth_store *st, int64_t *ret_end_ns, int64_t *ret_ns)
{
    *ret_end_ns = st->stall_end_ns;
    *ret_ns = st->stall_ns;
}

const berth_prom_histogram *berth_store_commit_seconds(const berth_store *st)
{
    return &st->commit_seconds;
}

void berth_store_rollback(berth_store *st)
{
    if (st->depth <= 0)
        return;
    if (--st->depth > 0) {
        st->doomed = true;
        return;
    }
    exec(st, "ROLLBACK", "rollback", NULL);
    if (st->repl)
        store_repl_discard(st->repl);
}

/* ---- nodes' taints ---- */

static const char sql_node_del_t[] = "DELETE FROM node_taints WHERE node = ?1";
static const char sql_taints_put[] =
    "INSERT OR REPLACE INTO node_taints (node, taints) VALUES (?1, ?2)";
static const char sql_taints_get[] = "SELECT taints FROM node_taints WHERE node = ?1";

int berth_store_taints_put(berth_store *st, const char *node, const TaintList *t, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, !t || !t->n_taints ? sql_node_del_t : sql_taints_put, err);

    if (!s)
        return -1;
    bind_text(s, 1, node);
    if (t && t->n_taints && bind_pb(st, s, 2, &t->base, err) < 0)
        return -1;
    if (run(st, s, "save taints", err) < 0)
        return berth_error_prefix(err, "node %s", node);
    return 0;
}

int berth_store_taints_get(berth_store *st, const char *node, TaintList **ret, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_taints_get, err);
    char row[96];
    int rc;

    if (!s)
        return -1;
    bind_text(s, 1, node);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return db_error(st, err, "read taints");
    snprintf(row, sizeof(row), "taints of %s", node);
    *ret = (TaintList *)column_pb(st, s, 0, &taint_list_descriptor, row, err);
    sqlite3_reset(s);
    return *ret ? 1 : -1;
}

/* ---- nodes ---- */

static const char sql_node_put[] =
    "INSERT OR REPLACE INTO nodes (name, id, phase, key1, key2, pending_key, info, generation,"
    " applied_generation, cordoned, drained, registered_ns, last_heartbeat_ns, phase_since_ns,"
    " reason, pod_cidr) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
    " ?16)";

#define NODE_COLUMNS                                                                               \
    "name, id, phase, key1, key2, pending_key, info, generation, applied_generation, cordoned,"    \
    " drained, registered_ns, last_heartbeat_ns, phase_since_ns, reason, pod_cidr"

int berth_store_node_put(berth_store *st, const berth_store_node *n, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_node_put, err);

    if (!s)
        return -1;
    bind_text(s, 1, n->name);
    sqlite3_bind_blob(s, 2, n->id, BERTH_ID_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, n->phase);
    for (size_t i = 0; i < BERTH_PUBKEYS_MAX; i++)
        if (i < n->n_keys)
            sqlite3_bind_blob(s, 4 + (int)i, n->keys[i], BERTH_PUBKEY_LEN, SQLITE_TRANSIENT);
    if (n->has_pending)
        sqlite3_bind_blob(s, 6, n->pending_key, BERTH_PUBKEY_LEN, SQLITE_TRANSIENT);
    if (bind_pb(st, s, 7, n->info ? &n->info->base : NULL, err) < 0)
        return -1;
    sqlite3_bind_int64(s, 8, (sqlite3_int64)n->generation);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)n->applied_generation);
    sqlite3_bind_int(s, 10, n->cordoned);
    sqlite3_bind_int(s, 11, n->drained);
    sqlite3_bind_int64(s, 12, n->registered_ns);
    sqlite3_bind_int64(s, 13, n->last_heartbeat_ns);
    sqlite3_bind_int64(s, 14, n->phase_since_ns);
    bind_text(s, 15, n->reason);
    bind_text(s, 16, n->pod_cidr);
    if (run(st, s, "save node", err) < 0)
        return berth_error_prefix(err, "node %s", n->name);
    return 0;
}

/* Read the current row (NODE_COLUMNS) into *n. */
static int node_row(berth_store *st, sqlite3_stmt *s, berth_store_node *n, berth_error **err)
{
    memset(n, 0, sizeof(*n));
    column_text(s, 0, n->name, sizeof(n->name));
    if (!column_fixed(s, 1, n->id, BERTH_ID_LEN))
        return berth_error_set(err, EIO, "%s: node %s: bad id", st->path, n->name);
    n->phase = (NodePhase)sqlite3_column_int(s, 2);
    for (int i = 0; i < BERTH_PUBKEYS_MAX; i++)
        if (column_fixed(s, 3 + i, n->keys[n->n_keys], BERTH_PUBKEY_LEN))
            n->n_keys++;
    n->has_pending = column_fixed(s, 5, n->pending_key, BERTH_PUBKEY_LEN);
    if (sqlite3_column_type(s, 6) != SQLITE_NULL) {
        char row[96];

        snprintf(row, sizeof(row), "node %s", n->name);
        n->info = (NodeInfo *)column_pb(st, s, 6, &node_info_descriptor, row, err);
        if (!n->info)
            return -1;
    }
    n->generation = (uint64_t)sqlite3_column_int64(s, 7);
    n->applied_generation = (uint64_t)sqlite3_column_int64(s, 8);
    n->cordoned = sqlite3_column_int(s, 9) != 0;
    n->drained = sqlite3_column_int(s, 10) != 0;
    n->registered_ns = sqlite3_column_int64(s, 11);
    n->last_heartbeat_ns = sqlite3_column_int64(s, 12);
    n->phase_since_ns = sqlite3_column_int64(s, 13);
    column_text(s, 14, n->reason, sizeof(n->reason));
    column_text(s, 15, n->pod_cidr, sizeof(n->pod_cidr));
    return 0;
}

static int node_get(berth_store *st, sqlite3_stmt *s, berth_store_node *ret, berth_error **err)
{
    int rc = sqlite3_step(s);

    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return db_error(st, err, "read node");
    }
    rc = node_row(st, s, ret, err);
    sqlite3_reset(s);
    return rc < 0 ? -1 : 1;
}

static const char sql_node_get[] = "SELECT " NODE_COLUMNS " FROM nodes WHERE name = ?1";
static const char sql_node_get_id[] = "SELECT " NODE_COLUMNS " FROM nodes WHERE id = ?1";
static const char sql_nodes_all[] = "SELECT " NODE_COLUMNS " FROM nodes ORDER BY name";

int berth_store_node_get(berth_store *st, const char *name, berth_store_node *ret,
                         berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_node_get, err);

    if (!s)
        return -1;
    bind_text(s, 1, name);
    return node_get(st, s, ret, err);
}

int berth_store_node_get_by_id(berth_store *st, const uint8_t id[BERTH_ID_LEN],
                               berth_store_node *ret, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_node_get_id, err);

    if (!s)
        return -1;
    sqlite3_bind_blob(s, 1, id, BERTH_ID_LEN, SQLITE_TRANSIENT);
    return node_get(st, s, ret, err);
}

static const char sql_node_del[] = "DELETE FROM nodes WHERE name = ?1";
static const char sql_node_del_a[] = "DELETE FROM assignments WHERE node = ?1";
static const char sql_node_del_s[] = "DELETE FROM statuses WHERE node = ?1";
int berth_store_node_delete(berth_store *st, const char *name, berth_error **err)
{
    const char *const sqls[] = { sql_node_del, sql_node_del_a, sql_node_del_s, sql_node_del_t };

    if (berth_store_begin(st, err) < 0)
        return -1;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(sqls); i++) {
        sqlite3_stmt *s = stmt(st, sqls[i], err);

        if (!s || (bind_text(s, 1, name), run(st, s, "delete node", err)) < 0) {
            berth_store_rollback(st);
            return -1;
        }
    }
    return berth_store_commit(st, err);
}

int berth_store_nodes_load(berth_store *st, int (*fn)(void *data, berth_store_node *n), void *data,
                           berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_nodes_all, err);
    berth_store_node n;
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (node_row(st, s, &n, err) < 0) {
            sqlite3_reset(s);
            return -1;
        }
        if ((r = fn(data, &n)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load nodes");
    return r;
}

static const char sql_pending[] = "SELECT count(*) FROM nodes WHERE pending_key IS NOT NULL";

int berth_store_pending_count(berth_store *st, size_t *ret_count, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_pending, err);

    if (!s)
        return -1;
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return db_error(st, err, "count pending nodes");
    }
    *ret_count = (size_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
}

static const char sql_pending_oldest[] = "SELECT name FROM nodes WHERE pending_key IS NOT NULL"
                                         " AND key1 IS NULL ORDER BY phase_since_ns LIMIT 1";

int berth_store_pending_oldest(berth_store *st, char *ret_name, size_t size, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_pending_oldest, err);
    int r;

    if (!s)
        return -1;
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        snprintf(ret_name, size, "%s", (const char *)sqlite3_column_text(s, 0));
        sqlite3_reset(s);
        return 1;
    }
    sqlite3_reset(s);
    return r == SQLITE_DONE ? 0 : db_error(st, err, "find the oldest pending node");
}

/* ---- join tokens ---- */

static const char sql_token_put[] = "INSERT INTO join_tokens (id, sealed_secret, expires_ns,"
                                    " description, created_ns, uses) VALUES (?1, ?2, ?3, ?4, ?5,"
                                    " ?6)";
static const char sql_token_get[] = "SELECT sealed_secret FROM join_tokens WHERE id = ?1 AND"
                                    " sealed_secret IS NOT NULL AND expires_ns > ?2";
/* (the right-hand sides see the row as it was) */
static const char sql_token_use[] =
    "UPDATE join_tokens SET used = used + 1, used_ns = ?2, used_by = ?3,"
    " sealed_secret = CASE WHEN used + 1 >= uses THEN NULL ELSE sealed_secret END"
    " WHERE id = ?1 AND sealed_secret IS NOT NULL AND used < uses AND expires_ns > ?2";
static const char sql_token_list[] = "SELECT id, description, used_by, expires_ns, created_ns,"
                                     " used_ns, uses, used FROM join_tokens"
                                     " ORDER BY created_ns, id";
static const char sql_token_one[] = "SELECT id, description, used_by, expires_ns, created_ns,"
                                    " used_ns, uses, used FROM join_tokens WHERE id = ?1";
static const char sql_token_del[] = "DELETE FROM join_tokens WHERE id = ?1";
static const char sql_token_expire[] = "DELETE FROM join_tokens WHERE expires_ns <= ?1";

int berth_store_token_put(berth_store *st, const uint8_t id[BERTH_TOKEN_ID_LEN],
                          const uint8_t *sealed, size_t sealed_len, int64_t expires_ns,
                          const char *description, int64_t created_ns, uint32_t uses,
                          berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_token_put, err);

    if (!s)
        return -1;
    sqlite3_bind_blob(s, 1, id, BERTH_TOKEN_ID_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_blob64(s, 2, sealed, sealed_len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, expires_ns);
    bind_text(s, 4, description);
    sqlite3_bind_int64(s, 5, created_ns);
    sqlite3_bind_int64(s, 6, uses);
    return run(st, s, "save join token", err);
}

static void token_row(sqlite3_stmt *s, berth_store_token *t)
{
    const void *id = sqlite3_column_blob(s, 0);
    const char *d = (const char *)sqlite3_column_text(s, 1), *by;

    memset(t, 0, sizeof(*t));
    if (id && sqlite3_column_bytes(s, 0) == BERTH_TOKEN_ID_LEN)
        memcpy(t->id, id, BERTH_TOKEN_ID_LEN);
    snprintf(t->description, sizeof(t->description), "%s", d ? d : "");
    by = (const char *)sqlite3_column_text(s, 2);
    snprintf(t->used_by, sizeof(t->used_by), "%s", by ? by : "");
    t->expires_ns = sqlite3_column_int64(s, 3);
    t->created_ns = sqlite3_column_int64(s, 4);
    t->used_ns = sqlite3_column_int64(s, 5);
    t->uses = (uint32_t)sqlite3_column_int64(s, 6);
    t->used = (uint32_t)sqlite3_column_int64(s, 7);
}

int berth_store_tokens_list(berth_store *st, berth_store_token **ret, size_t *ret_n,
                            berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_token_list, err);
    berth_store_token *v = NULL;
    size_t n = 0;
    int rc;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        v = berth_xreallocarray(v, n + 1, sizeof(*v));
        token_row(s, &v[n++]);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        free(v);
        return db_error(st, err, "list join tokens");
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

int berth_store_token_delete(berth_store *st, const uint8_t id[BERTH_TOKEN_ID_LEN],
                             berth_store_token *ret_token, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_token_one, err);
    berth_store_token t;
    int rc;

    if (!s)
        return -1;
    sqlite3_bind_blob(s, 1, id, BERTH_TOKEN_ID_LEN, SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        token_row(s, &t);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return db_error(st, err, "read join token");
    s = stmt(st, sql_token_del, err);
    if (!s)
        return -1;
    sqlite3_bind_blob(s, 1, id, BERTH_TOKEN_ID_LEN, SQLITE_TRANSIENT);
    if (run(st, s, "delete join token", err) < 0)
        return -1;
    if (ret_token)
        *ret_token = t;
    return 1;
}

int berth_store_token_get(berth_store *st, const uint8_t id[BERTH_TOKEN_ID_LEN], int64_t now_ns,
                          uint8_t *ret, size_t cap, size_t *ret_len, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_token_get, err);
    int rc, found = 0;

    if (!s)
        return -1;
    sqlite3_bind_blob(s, 1, id, BERTH_TOKEN_ID_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, now_ns);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(s, 0);

        if (len && len <= cap) {
            memcpy(ret, sqlite3_column_blob(s, 0), len);
            *ret_len = len;
            found = 1;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "read join token");
    return found;
}

int berth_store_token_use(berth_store *st, const uint8_t id[BERTH_TOKEN_ID_LEN], const char *who,
                          int64_t now_ns, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_token_use, err);

    if (!s)
        return -1;
    sqlite3_bind_blob(s, 1, id, BERTH_TOKEN_ID_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, now_ns);
    bind_text(s, 3, who);
    if (run(st, s, "use join token", err) < 0)
        return -1;
    if (sqlite3_changes(st->db) != 1)
        return berth_error_set(err, EPERM, "join token used up, revoked or expired");
    return 0;
}

int berth_store_tokens_expire(berth_store *st, int64_t now_ns, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_token_expire, err);

    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, now_ns);
    return run(st, s, "expire join tokens", err);
}

/* ---- workloads ---- */

static const char sql_wl_put[] =
    "INSERT OR REPLACE INTO workloads (name, created_ns, workload) VALUES (?1, ?2, ?3)";
static const char sql_wl_del[] = "DELETE FROM workloads WHERE name = ?1";
static const char sql_wl_del_rs[] = "DELETE FROM replica_sets WHERE workload = ?1";
static const char sql_wl_del_job[] = "DELETE FROM jobs WHERE workload = ?1";
static const char sql_wl_all[] = "SELECT name, workload FROM workloads ORDER BY created_ns, name";

int berth_store_workload_put(berth_store *st, const Workload *w, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_wl_put, err);
    char key[BERTH_WORKLOAD_KEY_BUF];
    Workload copy;

    if (!s)
        return -1;
    copy = *w;
    copy.status = NULL;
    berth_workload_key(w->namespace_, w->name, key);
    bind_text(s, 1, key);
    sqlite3_bind_int64(s, 2, w->created_unix_ns);
    if (bind_pb(st, s, 3, &copy.base, err) < 0)
        return -1;
    if (run(st, s, "save workload", err) < 0)
        return berth_error_prefix(err, "workload %s", key);
    return 0;
}

int berth_store_workload_delete(berth_store *st, const char *key, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_wl_del, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    if (run(st, s, "delete workload", err) < 0 || berth_store_replica_sets_delete(st, key, err) < 0)
        return -1;
    return berth_store_job_delete(st, key, err);
}

int berth_store_job_delete(berth_store *st, const char *key, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_wl_del_job, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    return run(st, s, "delete job state", err);
}

/* ---- disruption budgets ---- */

static const char sql_pdb_put[] = "INSERT OR REPLACE INTO budgets (key, budget) VALUES (?1, ?2)";
static const char sql_pdb_del[] = "DELETE FROM budgets WHERE key = ?1";
static const char sql_pdb_all[] = "SELECT key, budget FROM budgets ORDER BY key";

int berth_store_budget_put(berth_store *st, const char *key, const PodDisruptionBudget *b,
                           berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_pdb_put, err);
    PodDisruptionBudget copy;

    if (!s)
        return -1;
    copy = *b;
    copy.status = NULL; /* computed, never kept */
    bind_text(s, 1, key);
    if (bind_pb(st, s, 2, &copy.base, err) < 0)
        return -1;
    if (run(st, s, "save disruption budget", err) < 0)
        return berth_error_prefix(err, "PodDisruptionBudget %s", key);
    return 0;
}

int berth_store_budget_delete(berth_store *st, const char *key, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_pdb_del, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    return run(st, s, "delete disruption budget", err);
}

int berth_store_budgets_load(berth_store *st,
                             int (*fn)(void *data, const char *key, PodDisruptionBudget *b),
                             void *data, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_pdb_all, err);
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char row[200], key[BERTH_WORKLOAD_KEY_BUF];
        PodDisruptionBudget *b;

        column_text(s, 0, key, sizeof(key));
        snprintf(row, sizeof(row), "disruption budget %s", key);
        b = (PodDisruptionBudget *)column_pb(st, s, 1, &pod_disruption_budget_descriptor, row, err);
        if (!b) {
            sqlite3_reset(s);
            return -1;
        }
        if ((r = fn(data, key, b)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load disruption budgets");
    return r;
}

/* ---- Secrets and ConfigMaps ---- */

static const char sql_obj_put[] = "INSERT OR REPLACE INTO objects (key, object) VALUES (?1, ?2)";
static const char sql_obj_del[] = "DELETE FROM objects WHERE key = ?1";
static const char sql_obj_all[] = "SELECT key, object FROM objects ORDER BY key";

int berth_store_object_put(berth_store *st, const char *key, const ConfigObject *o,
                           berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_obj_put, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    if (bind_pb(st, s, 2, &o->base, err) < 0)
        return -1;
    if (run(st, s, "save object", err) < 0)
        return berth_error_prefix(err, "%s", key);
    return 0;
}

int berth_store_object_delete(berth_store *st, const char *key, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_obj_del, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    return run(st, s, "delete object", err);
}

int berth_store_objects_load(berth_store *st,
                             int (*fn)(void *data, const char *key, ConfigObject *o), void *data,
                             berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_obj_all, err);
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char key[BERTH_WORKLOAD_KEY_BUF + 16];
        ConfigObject *o;

        column_text(s, 0, key, sizeof(key));
        o = (ConfigObject *)column_pb(st, s, 1, &config_object_descriptor, key, err);
        if (!o) {
            sqlite3_reset(s);
            return -1;
        }
        if ((r = fn(data, key, o)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load objects");
    return r;
}

/* ---- jobs ---- */

static const char sql_job_put[] = "INSERT OR REPLACE INTO jobs (workload, state) VALUES (?1, ?2)";
static const char sql_job_all[] = "SELECT workload, state FROM jobs ORDER BY workload";

int berth_store_job_put(berth_store *st, const char *key, const JobState *js, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_job_put, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    if (bind_pb(st, s, 2, &js->base, err) < 0)
        return -1;
    if (run(st, s, "save job", err) < 0)
        return berth_error_prefix(err, "job %s", key);
    return 0;
}

int berth_store_jobs_load(berth_store *st, int (*fn)(void *data, const char *key, JobState *js),
                          void *data, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_job_all, err);
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char row[200], key[BERTH_WORKLOAD_KEY_BUF];
        JobState *js;

        column_text(s, 0, key, sizeof(key));
        snprintf(row, sizeof(row), "job %s", key);
        js = (JobState *)column_pb(st, s, 1, &job_state_descriptor, row, err);
        if (!js) {
            sqlite3_reset(s);
            return -1;
        }
        if ((r = fn(data, key, js)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load jobs");
    return r;
}

int berth_store_replica_sets_delete(berth_store *st, const char *key, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_wl_del_rs, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    return run(st, s, "delete workload's revisions", err);
}

/* ---- replica sets ---- */

static const char sql_rs_put[] =
    "INSERT OR REPLACE INTO replica_sets (workload, hash, replica_set) VALUES (?1, ?2, ?3)";
static const char sql_rs_del[] = "DELETE FROM replica_sets WHERE workload = ?1 AND hash = ?2";
static const char sql_rs_all[] = "SELECT workload, hash, replica_set FROM replica_sets"
                                 " ORDER BY workload, hash";

int berth_store_replica_set_put(berth_store *st, const char *key, const ReplicaSet *rs,
                                berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_rs_put, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    bind_text(s, 2, rs->hash);
    if (bind_pb(st, s, 3, &rs->base, err) < 0)
        return -1;
    if (run(st, s, "save replica set", err) < 0)
        return berth_error_prefix(err, "workload %s revision %s", key, rs->hash);
    return 0;
}

int berth_store_replica_set_delete(berth_store *st, const char *key, const char *hash,
                                   berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_rs_del, err);

    if (!s)
        return -1;
    bind_text(s, 1, key);
    bind_text(s, 2, hash);
    return run(st, s, "delete replica set", err);
}

int berth_store_replica_sets_load(berth_store *st,
                                  int (*fn)(void *data, const char *key, ReplicaSet *rs),
                                  void *data, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_rs_all, err);
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char row[200], key[BERTH_WORKLOAD_KEY_BUF];
        ReplicaSet *rs;

        column_text(s, 0, key, sizeof(key));
        snprintf(row, sizeof(row), "replica set of %s", key);
        rs = (ReplicaSet *)column_pb(st, s, 2, &replica_set_descriptor, row, err);
        if (!rs) {
            sqlite3_reset(s);
            return -1;
        }
        if ((r = fn(data, key, rs)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load replica sets");
    return r;
}

int berth_store_workloads_load(berth_store *st, int (*fn)(void *data, Workload *w), void *data,
                               berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_wl_all, err);
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char row[160], name[BERTH_WORKLOAD_KEY_BUF];
        Workload *w;

        column_text(s, 0, name, sizeof(name));
        snprintf(row, sizeof(row), "workload %s", name);
        w = (Workload *)column_pb(st, s, 1, &workload_descriptor, row, err);
        if (!w) {
            sqlite3_reset(s);
            return -1;
        }
        if ((r = fn(data, w)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load workloads");
    return r;
}

/* ---- namespaces ---- */

static const char sql_ns_put[] =
    "INSERT OR REPLACE INTO namespaces (name, created_ns, namespace) VALUES (?1, ?2, ?3)";
static const char sql_ns_del[] = "DELETE FROM namespaces WHERE name = ?1";
static const char sql_ns_all[] = "SELECT name, namespace FROM namespaces ORDER BY name";

int berth_store_namespace_put(berth_store *st, const Namespace *ns, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_ns_put, err);
    Namespace copy;

    if (!s)
        return -1;
    copy = *ns;
    copy.workloads = 0;
    bind_text(s, 1, ns->name);
    sqlite3_bind_int64(s, 2, ns->created_unix_ns);
    if (bind_pb(st, s, 3, &copy.base, err) < 0)
        return -1;
    if (run(st, s, "save namespace", err) < 0)
        return berth_error_prefix(err, "namespace %s", ns->name);
    return 0;
}

int berth_store_namespace_delete(berth_store *st, const char *name, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_ns_del, err);

    if (!s)
        return -1;
    bind_text(s, 1, name);
    return run(st, s, "delete namespace", err);
}

int berth_store_namespaces_load(berth_store *st, int (*fn)(void *data, Namespace *ns), void *data,
                                berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_ns_all, err);
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char row[96], name[BERTH_NAMESPACE_BUF];
        Namespace *ns;

        column_text(s, 0, name, sizeof(name));
        snprintf(row, sizeof(row), "namespace %s", name);
        ns = (Namespace *)column_pb(st, s, 1, &namespace_descriptor, row, err);
        if (!ns) {
            sqlite3_reset(s);
            return -1;
        }
        if ((r = fn(data, ns)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load namespaces");
    return r;
}

/* ---- assignments ---- */

static const char sql_as_put[] =
    "INSERT OR REPLACE INTO assignments (node, container_id, workload, replica,"
    " spec_generation, workload_generation, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char sql_as_del[] = "DELETE FROM assignments WHERE node = ?1 AND container_id = ?2";
static const char sql_as_all[] =
    "SELECT node, container_id, workload, replica, spec_generation, workload_generation,"
    " revision FROM assignments ORDER BY node, container_id";

int berth_store_assignment_put(berth_store *st, const berth_store_assignment *a, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_as_put, err);

    if (!s)
        return -1;
    bind_text(s, 1, a->node);
    bind_text(s, 2, a->container_id);
    bind_text(s, 3, a->workload);
    sqlite3_bind_int64(s, 4, a->replica);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)a->spec_generation);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)a->workload_generation);
    bind_text(s, 7, a->revision);
    return run(st, s, "save assignment", err);
}

int berth_store_assignment_delete(berth_store *st, const char *node, const char *container_id,
                                  berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_as_del, err);

    if (!s)
        return -1;
    bind_text(s, 1, node);
    bind_text(s, 2, container_id);
    return run(st, s, "delete assignment", err);
}

int berth_store_assignments_load(berth_store *st,
                                 int (*fn)(void *data, const berth_store_assignment *a), void *data,
                                 berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_as_all, err);
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        berth_store_assignment a = {
            .node = (const char *)sqlite3_column_text(s, 0),
            .container_id = (const char *)sqlite3_column_text(s, 1),
            .workload = (const char *)sqlite3_column_text(s, 2),
            .replica = (uint32_t)sqlite3_column_int64(s, 3),
            .spec_generation = (uint64_t)sqlite3_column_int64(s, 4),
            .workload_generation = (uint64_t)sqlite3_column_int64(s, 5),
            .revision = (const char *)sqlite3_column_text(s, 6),
        };

        if (!a.node || !a.container_id || !a.workload || !a.revision)
            continue;
        if ((r = fn(data, &a)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load assignments");
    return r;
}

/* ---- statuses ---- */

static const char sql_st_put[] =
    "INSERT OR REPLACE INTO statuses (node, container_id, status) VALUES (?1, ?2, ?3)";
static const char sql_st_del[] = "DELETE FROM statuses WHERE node = ?1 AND container_id = ?2";
static const char sql_st_all[] =
    "SELECT node, container_id, status FROM statuses ORDER BY node, container_id";

int berth_store_status_put(berth_store *st, const char *node, const ContainerStatus *cs,
                           berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_st_put, err);

    if (!s)
        return -1;
    bind_text(s, 1, node);
    bind_text(s, 2, cs->id);
    if (bind_pb(st, s, 3, &cs->base, err) < 0)
        return -1;
    return run(st, s, "save status", err);
}

int berth_store_status_delete(berth_store *st, const char *node, const char *container_id,
                              berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_st_del, err);

    if (!s)
        return -1;
    bind_text(s, 1, node);
    bind_text(s, 2, container_id);
    return run(st, s, "delete status", err);
}

int berth_store_statuses_replace(berth_store *st, const char *node,
                                 ContainerStatus *const *statuses, size_t n, berth_error **err)
{
    sqlite3_stmt *s;

    if (berth_store_begin(st, err) < 0)
        return -1;
    if (!(s = stmt(st, sql_node_del_s, err)))
        goto fail;
    bind_text(s, 1, node);
    if (run(st, s, "delete statuses", err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (berth_store_status_put(st, node, statuses[i], err) < 0)
            goto fail;
    return berth_store_commit(st, err);
fail:
    berth_store_rollback(st);
    return -1;
}

int berth_store_statuses_load(berth_store *st,
                              int (*fn)(void *data, const char *node, ContainerStatus *s),
                              void *data, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_st_all, err);
    int rc, r = 0;

    if (!s)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char node[BERTH_NAME_MAX + 1], row[160];
        ContainerStatus *cs;

        column_text(s, 0, node, sizeof(node));
        snprintf(row, sizeof(row), "status of %s on %s", sqlite3_column_text(s, 1), node);
        cs = (ContainerStatus *)column_pb(st, s, 2, &container_status_descriptor, row, err);
        if (!cs) {
            sqlite3_reset(s);
            return -1;
        }
        if ((r = fn(data, node, cs)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "load statuses");
    return r;
}

/* ---- events ---- */

static const char sql_ev_add[] = "INSERT INTO events (time_ns, object_kind, object_name, type,"
                                 " reason, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char sql_ev_trim[] = "DELETE FROM events WHERE id <= ?1";
static const char sql_ev_list[] =
    "SELECT id, time_ns, object_kind, object_name, type, reason, message FROM ("
    " SELECT * FROM events WHERE (?1 = '' OR object_kind = ?1) AND (?2 = '' OR object_name = ?2)"
    " AND id > ?4 ORDER BY CASE WHEN ?4 > 0 THEN id ELSE -id END LIMIT ?3) ORDER BY id";

int berth_store_event_add(berth_store *st, Event *e, berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_ev_add, err);
    sqlite3_int64 id;

    if (!s)
        return -1;
    sqlite3_bind_int64(s, 1, e->time_unix_ns);
    bind_text(s, 2, e->object_kind);
    bind_text(s, 3, e->object_name);
    bind_text(s, 4, e->type);
    bind_text(s, 5, e->reason);
    bind_text(s, 6, e->message);
    if (run(st, s, "add event", err) < 0)
        return -1;
    id = sqlite3_last_insert_rowid(st->db);
    e->id = (uint64_t)id;
    if (id > BERTH_STORE_EVENTS_MAX) {
        if (!(s = stmt(st, sql_ev_trim, err)))
            return -1;
        sqlite3_bind_int64(s, 1, id - BERTH_STORE_EVENTS_MAX);
        return run(st, s, "trim events", err);
    }
    return 0;
}

static char *column_dup(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);

    return berth_xstrdup(t ? (const char *)t : "");
}

int berth_store_events_list(berth_store *st, const char *kind, const char *name, uint32_t limit,
                            uint64_t after_id, int (*fn)(void *data, Event *e), void *data,
                            berth_error **err)
{
    sqlite3_stmt *s = stmt(st, sql_ev_list, err);
    int rc, r = 0;

    if (!s)
        return -1;
    bind_text(s, 1, kind);
    bind_text(s, 2, name);
    sqlite3_bind_int64(s, 3, limit);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)(after_id > INT64_MAX ? INT64_MAX : after_id));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        Event *e = berth_xmalloc(sizeof(*e));

        event_init(e);
        e->id = (uint64_t)sqlite3_column_int64(s, 0);
        e->time_unix_ns = sqlite3_column_int64(s, 1);
        e->object_kind = column_dup(s, 2);
        e->object_name = column_dup(s, 3);
        e->type = column_dup(s, 4);
        e->reason = column_dup(s, 5);
        e->message = column_dup(s, 6);
        if ((r = fn(data, e)) != 0)
            break;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, err, "list events");
    return r;
}
