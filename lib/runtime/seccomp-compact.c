/* seccomp-compact.h: a smaller program with the same decisions. */
#include "seccomp-compact.h"

#include <linux/audit.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define OP_LD   (BPF_LD | BPF_W | BPF_ABS)
#define OP_AND  (BPF_ALU | BPF_AND | BPF_K)
#define OP_JA   (BPF_JMP | BPF_JA)
#define OP_JEQ  (BPF_JMP | BPF_JEQ | BPF_K)
#define OP_JGT  (BPF_JMP | BPF_JGT | BPF_K)
#define OP_JGE  (BPF_JMP | BPF_JGE | BPF_K)
#define OP_JSET (BPF_JMP | BPF_JSET | BPF_K)
#define OP_RET  (BPF_RET | BPF_K)

#define OFF_NR   0
#define OFF_ARCH 4

#define SECCOMP_COMPACT_ARCHS_MAX 8

typedef struct {
    struct sock_filter *v;
    size_t n, cap;
} code;

static void push(code *c, uint16_t op, uint8_t jt, uint8_t jf, uint32_t k)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 32;
        c->v = berth_xreallocarray(c->v, c->cap, sizeof(*c->v));
    }
    c->v[c->n++] = (struct sock_filter){ op, jt, jf, k };
}

static void append(code *c, const code *d)
{
    for (size_t i = 0; i < d->n; i++)
        push(c, d->v[i].code, d->v[i].jt, d->v[i].jf, d->v[i].k);
}

static bool same_code(const code *a, const code *b)
{
    return a->n == b->n && memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0;
}

static bool jump_true(uint16_t op, uint32_t a, uint32_t k)
{
    switch (op) {
    case OP_JEQ:
        return a == k;
    case OP_JGT:
        return a > k;
    case OP_JGE:
        return a >= k;
    default: /* OP_JSET */
        return (a & k) != 0;
    }
}

uint32_t seccomp_bpf_eval(const struct sock_fprog *prog, const struct seccomp_data *d)
{
    const unsigned char *bytes = (const unsigned char *)d;
    uint32_t a = 0;
    size_t pc = 0;

    while (pc < prog->len) {
        const struct sock_filter *f = &prog->filter[pc];

        switch (f->code) {
        case OP_LD:
            if (f->k % 4 != 0 || f->k > sizeof(*d) - 4)
                return UINT32_MAX;
            memcpy(&a, bytes + f->k, sizeof(a));
            pc++;
            break;
        case OP_AND:
            a &= f->k;
            pc++;
            break;
        case OP_JA:
            if (f->k >= prog->len)
                return UINT32_MAX;
            pc += 1 + f->k;
            break;
        case OP_JEQ:
        case OP_JGT:
        case OP_JGE:
        case OP_JSET:
            pc += 1 + (jump_true(f->code, a, f->k) ? f->jt : f->jf);
            break;
        case OP_RET:
            return f->k;
        default:
            return UINT32_MAX;
        }
    }
    return UINT32_MAX;
}

/* --- partial evaluation: the program for one (arch, nr) ------------------ */

/* A residual instruction at (pc, what A holds): A is either a known value
 * (nr, arch, or one derived from them) or unknown (an argument or the
 * instruction pointer was loaded). Instructions on known values fold away
 * (alias to their successor); the rest are kept. */
typedef struct {
    uint32_t pc;
    bool known;
    bool from_nr; /* known: the system call number itself */
    uint32_t val;
    int alias; /* >= 0: this node is that node */
    struct sock_filter insn;
    int succ[2]; /* kept jumps: [0] taken, [1] not; LD and AND: [0] next */
    int order;   /* position among the kept nodes */
} pe_node;

typedef struct {
    const struct sock_fprog *prog;
    uint32_t arch, nr;
    pe_node *nodes;
    size_t n, cap;
    const char *fail;
} pe_ctx;

/* (The ranges between breakpoints hold only while the number is compared
 * with constants as it is: an AND on it is refused.) */
static int pe(pe_ctx *c, uint32_t pc, bool known, bool from_nr, uint32_t val)
{
    const struct sock_filter *f;
    int id, next;

    for (size_t i = 0; i < c->n; i++)
        if (c->nodes[i].pc == pc && c->nodes[i].known == known &&
            (!known || (c->nodes[i].val == val && c->nodes[i].from_nr == from_nr)))
            return (int)i;
    if (c->fail)
        return -1;
    if (pc >= c->prog->len) {
        c->fail = "a jump out of the program";
        return -1;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->nodes = berth_xreallocarray(c->nodes, c->cap, sizeof(*c->nodes));
    }
    id = (int)c->n++;
    c->nodes[id] = (pe_node){ .pc = pc,
                              .known = known,
                              .from_nr = from_nr,
                              .val = val,
                              .alias = -1,
                              .succ = { -1, -1 },
                              .order = -1 };
    f = &c->prog->filter[pc];
    c->nodes[id].insn = *f;
    switch (f->code) {
    case OP_LD:
        if (f->k == OFF_NR || f->k == OFF_ARCH) {
            next = pe(c, pc + 1, true, f->k == OFF_NR, f->k == OFF_NR ? c->nr : c->arch);
            c->nodes[id].alias = next;
        } else if (f->k % 4 != 0 || f->k > sizeof(struct seccomp_data) - 4) {
            c->fail = "a load outside seccomp_data";
        } else {
            next = pe(c, pc + 1, false, false, 0);
            c->nodes[id].succ[0] = next;
        }
        break;
    case OP_AND:
        if (known && from_nr) {
            c->fail = "an AND on the system call number";
        } else if (known) {
            next = pe(c, pc + 1, true, false, val & f->k);
            c->nodes[id].alias = next;
        } else {
            next = pe(c, pc + 1, false, false, 0);
            c->nodes[id].succ[0] = next;
        }
        break;
    case OP_JA:
        if (f->k >= c->prog->len - pc) {
            c->fail = "a jump out of the program";
            break;
        }
        next = pe(c, pc + 1 + f->k, known, from_nr, val);
        c->nodes[id].alias = next;
        break;
    case OP_JEQ:
    case OP_JGT:
    case OP_JGE:
    case OP_JSET:
        if (known) {
            next =
                pe(c, pc + 1 + (jump_true(f->code, val, f->k) ? f->jt : f->jf), true, from_nr, val);
            c->nodes[id].alias = next;
        } else {
            next = pe(c, pc + 1 + f->jt, false, false, 0);
            c->nodes[id].succ[0] = next;
            next = pe(c, pc + 1 + f->jf, false, false, 0);
            c->nodes[id].succ[1] = next;
        }
        break;
    case OP_RET:
        break;
    default:
        c->fail = "an instruction libseccomp does not emit";
        break;
    }
    return id;
}

static int resolve(const pe_ctx *c, int id)
{
    while (id >= 0 && c->nodes[id].alias >= 0)
        id = c->nodes[id].alias;
    return id;
}

static int cmp_kept(const void *a, const void *b, void *arg)
{
    const pe_node *nodes = arg, *x = &nodes[*(const int *)a], *y = &nodes[*(const int *)b];

    if (x->pc != y->pc)
        return x->pc < y->pc ? -1 : 1;
    if (x->known != y->known)
        return x->known ? 1 : -1;
    if (x->from_nr != y->from_nr)
        return x->from_nr ? 1 : -1;
    return x->val < y->val ? -1 : x->val > y->val;
}

static void mark(pe_ctx *c, int id, int *kept, size_t *n_kept)
{
    id = resolve(c, id);
    if (id < 0 || c->nodes[id].order != -1)
        return;
    c->nodes[id].order = -2; /* seen */
    kept[(*n_kept)++] = id;
    for (int s = 0; s < 2; s++)
        if (c->nodes[id].succ[s] >= 0)
            mark(c, c->nodes[id].succ[s], kept, n_kept);
}

/* The residual program of prog for (arch, nr) in *out: what it still does
 * with the arguments (a single RET when it looks at none). Forward jumps
 * only: kept nodes go in the order of their pc, as in the original. */
static const char *specialise(const struct sock_fprog *prog, uint32_t arch, uint32_t nr, code *out)
{
    pe_ctx c = { .prog = prog, .arch = arch, .nr = nr };
    int root = pe(&c, 0, false, false, 0), *kept, *pos;
    size_t n_kept = 0, n_out = 0;
    const char *fail = c.fail;

    out->n = 0;
    if (fail) {
        free(c.nodes);
        return fail;
    }
    kept = berth_xcalloc(c.n + 1, sizeof(*kept));
    pos = berth_xcalloc(c.n + 1, sizeof(*pos));
    mark(&c, root, kept, &n_kept);
    qsort_r(kept, n_kept, sizeof(*kept), cmp_kept, c.nodes);
    if (n_kept == 0 || resolve(&c, root) != kept[0])
        fail = "the program's entry is not its first instruction";
    /* where each kept node lands: LD and AND whose successor is not the
     * next kept node get a JA after them */
    for (size_t i = 0; !fail && i < n_kept; i++) {
        const pe_node *nd = &c.nodes[kept[i]];

        c.nodes[kept[i]].order = (int)i;
        pos[i] = (int)n_out++;
        if ((nd->insn.code == OP_LD || nd->insn.code == OP_AND) &&
            (i + 1 >= n_kept || resolve(&c, nd->succ[0]) != kept[i + 1]))
            n_out++;
    }
    for (size_t i = 0; !fail && i < n_kept; i++) {
        const pe_node *nd = &c.nodes[kept[i]];
        struct sock_filter f = nd->insn;

        if (f.code == OP_LD || f.code == OP_AND) {
            int to = pos[c.nodes[resolve(&c, nd->succ[0])].order];

            push(out, f.code, 0, 0, f.k);
            if (to != pos[i] + 1)
                push(out, OP_JA, 0, 0, (uint32_t)(to - pos[i] - 2));
        } else if (f.code == OP_RET) {
            push(out, f.code, 0, 0, f.k);
        } else {
            int t = pos[c.nodes[resolve(&c, nd->succ[0])].order] - pos[i] - 1;
            int e = pos[c.nodes[resolve(&c, nd->succ[1])].order] - pos[i] - 1;

            if (t < 0 || e < 0 || t > 255 || e > 255) {
                fail = "argument checks too far apart for a conditional jump";
                break;
            }
            push(out, f.code, (uint8_t)t, (uint8_t)e, f.k);
        }
    }
    free(kept);
    free(pos);
    free(c.nodes);
    return fail;
}

/* --- the compact program --------------------------------------------------- */

typedef struct {
    uint32_t lo; /* the range runs to the next one's lo - 1 */
    code res;
} range;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Every number at which a comparison in prog may change its outcome: the
 * decision for an nr is the same from one of these to the next. JSET on
 * a number would break this unless its mask is one high bit; anything
 * else is refused (libseccomp emits JSET only on arguments, and then the
 * extra points do no harm). */
static const char *breakpoints(const struct sock_fprog *prog, uint32_t **ret, size_t *ret_n)
{
    size_t n = 0, cap = 2 * prog->len + 2;
    uint32_t *v = berth_xcalloc(cap, sizeof(*v));

    v[n++] = 0;
    for (size_t i = 0; i < prog->len; i++) {
        const struct sock_filter *f = &prog->filter[i];

        if (n + 2 > cap) {
            cap *= 2;
            v = berth_xreallocarray(v, cap, sizeof(*v));
        }
        switch (f->code) {
        case OP_JEQ:
            v[n++] = f->k;
            if (f->k != UINT32_MAX)
                v[n++] = f->k + 1;
            break;
        case OP_JGT:
            if (f->k != UINT32_MAX)
                v[n++] = f->k + 1;
            break;
        case OP_JGE:
            v[n++] = f->k;
            break;
        case OP_JSET:
            if (__builtin_popcount(f->k) != 1 || f->k < (1u << 16)) {
                free(v);
                return "a bit test on a low mask";
            }
            for (uint64_t m = f->k; m <= UINT32_MAX; m += f->k) {
                if (n + 1 > cap) {
                    cap *= 2;
                    v = berth_xreallocarray(v, cap, sizeof(*v));
                }
                v[n++] = (uint32_t)m;
            }
            break;
        }
    }
    qsort(v, n, sizeof(*v), cmp_u32);
    {
        size_t w = 0;

        for (size_t i = 0; i < n; i++)
            if (w == 0 || v[i] != v[w - 1])
                v[w++] = v[i];
        n = w;
    }
    *ret = v;
    *ret_n = n;
    return NULL;
}

/* A binary search over ranges [l, r] (A holds nr), each ending in its
 * residual program. */
static void emit_tree(code *out, const range *rs, size_t l, size_t r)
{
    code left = { 0 };
    size_t m;

    if (l == r) {
        append(out, &rs[l].res);
        return;
    }
    m = (l + r + 1) / 2;
    emit_tree(&left, rs, l, m - 1);
    if (left.n <= 255) {
        push(out, OP_JGE, (uint8_t)left.n, 0, rs[m].lo);
    } else {
        push(out, OP_JGE, 0, 1, rs[m].lo);
        push(out, OP_JA, 0, 0, (uint32_t)left.n);
    }
    append(out, &left);
    free(left.v);
    emit_tree(out, rs, m, r);
}

/* The ranges of one architecture, neighbours with the same residual
 * merged. */
static const char *arch_ranges(const struct sock_fprog *prog, uint32_t arch, const uint32_t *bp,
                               size_t n_bp, range **ret, size_t *ret_n)
{
    range *rs = berth_xcalloc(n_bp, sizeof(*rs));
    size_t n = 0;
    code end = { 0 };
    const char *fail = NULL;

    for (size_t i = 0; i < n_bp && !fail; i++) {
        uint32_t hi = i + 1 < n_bp ? bp[i + 1] - 1 : UINT32_MAX;
        code res = { 0 };

        fail = specialise(prog, arch, bp[i], &res);
        if (!fail)
            fail = specialise(prog, arch, hi, &end);
        if (!fail && !same_code(&res, &end))
            fail = "a decision that changes inside a range of numbers";
        if (fail || (n > 0 && same_code(&rs[n - 1].res, &res))) {
            free(res.v);
            continue;
        }
        rs[n].lo = bp[i];
        rs[n++].res = res;
    }
    free(end.v);
    if (fail) {
        for (size_t i = 0; i < n; i++)
            free(rs[i].res.v);
        free(rs);
        return fail;
    }
    *ret = rs;
    *ret_n = n;
    return NULL;
}

/* --- the check ------------------------------------------------------------- */

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bool differ(const struct sock_fprog *a, const struct sock_fprog *b,
                   const struct seccomp_data *d, char *why, size_t why_len)
{
    uint32_t x = seccomp_bpf_eval(a, d), y = seccomp_bpf_eval(b, d);

    if (x == y && x != UINT32_MAX)
        return false;
    snprintf(why, why_len,
             "differs for arch 0x%x nr %d args 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx: "
             "0x%x against 0x%x",
             d->arch, d->nr, (unsigned long long)d->args[0], (unsigned long long)d->args[1],
             (unsigned long long)d->args[2], (unsigned long long)d->args[3],
             (unsigned long long)d->args[4], (unsigned long long)d->args[5], y, x);
    return true;
}

/* Both programs on every architecture seen (and others), all small
 * numbers and those of x32, every breakpoint and its neighbours, random
 * numbers; arguments: none, random, and for the numbers whose decision
 * looks at them every constant of the program (and its neighbours, and
 * in the high word) in each argument. */
static bool check(const struct sock_fprog *ref, const struct sock_fprog *new, const uint32_t *archs,
                  size_t n_archs, const uint32_t *bp, size_t n_bp, char *why, size_t why_len)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    /* the architectures a Linux system call may come from, whether or not
     * the program names them */
    static const uint32_t known_archs[] = { AUDIT_ARCH_X86_64,  AUDIT_ARCH_I386,
                                            AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM,
                                            AUDIT_ARCH_RISCV64, AUDIT_ARCH_PPC64LE,
                                            AUDIT_ARCH_S390X,   AUDIT_ARCH_MIPSEL64 };
    uint32_t arch_set[3 * SECCOMP_COMPACT_ARCHS_MAX + 3 + 8];
    size_t n_arch_set = 0;

    for (size_t i = 0; i < n_archs; i++) {
        arch_set[n_arch_set++] = archs[i];
        arch_set[n_arch_set++] = archs[i] + 1;
        arch_set[n_arch_set++] = archs[i] - 1;
    }
    arch_set[n_arch_set++] = 0;
    arch_set[n_arch_set++] = UINT32_MAX;
    arch_set[n_arch_set++] = (uint32_t)next_rand(&seed);
    for (size_t i = 0; i < sizeof(known_archs) / sizeof(known_archs[0]); i++)
        arch_set[n_arch_set++] = known_archs[i];
    for (size_t ai = 0; ai < n_arch_set; ai++) {
        for (size_t k = 0; k < 2 * 4096 + 3 * n_bp + 20000; k++) {
            struct seccomp_data d = { .arch = arch_set[ai] };
            uint32_t nr;
            code res = { 0 };
            bool args_matter;

            if (k < 4096)
                nr = (uint32_t)k;
            else if (k < 2 * 4096)
                nr = 0x40000000u + (uint32_t)(k - 4096);
            else if (k < 2 * 4096 + 3 * n_bp)
                nr = bp[(k - 2 * 4096) / 3] + (uint32_t)((k - 2 * 4096) % 3) - 1;
            else
                nr = (uint32_t)next_rand(&seed);
            d.nr = (int)nr;
            if (differ(ref, new, &d, why, why_len))
                return false;
            for (int r = 0; r < 2; r++) {
                for (int i = 0; i < 6; i++)
                    d.args[i] = next_rand(&seed);
                d.instruction_pointer = next_rand(&seed);
                if (differ(ref, new, &d, why, why_len))
                    return false;
            }
            if (specialise(ref, arch_set[ai], nr, &res) != NULL) {
                free(res.v);
                snprintf(why, why_len, "arch 0x%x nr %u: the original cannot be specialised",
                         arch_set[ai], nr);
                return false;
            }
            args_matter = res.n > 1;
            free(res.v);
            if (!args_matter)
                continue;
            for (size_t i = 0; i < ref->len; i++) {
                uint64_t kv = ref->filter[i].k;
                const uint64_t vals[] = { kv,
                                          kv + 1,
                                          kv - 1,
                                          kv << 32,
                                          kv | (kv << 32),
                                          ~(uint64_t)0,
                                          0,
                                          kv | 0xffffffff00000000ULL };

                for (int a = 0; a < 6; a++)
                    for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
                        memset(d.args, 0, sizeof(d.args));
                        d.args[a] = vals[v];
                        if (differ(ref, new, &d, why, why_len))
                            return false;
                    }
            }
            for (int r = 0; r < 5000; r++) {
                for (int i = 0; i < 6; i++)
                    d.args[i] = next_rand(&seed) & (r % 2 ? ~(uint64_t)0 : 0xffffffffULL);
                if (differ(ref, new, &d, why, why_len))
                    return false;
            }
        }
    }
    return true;
}

/* The architectures: every constant an equality test compares the arch
 * field with, by what A may hold at each instruction (a forward pass over
 * the program, which only jumps forward; A starts at 0). Where A may be
 * the arch, only equality tests may look at it: then every architecture
 * the program does not name takes the same path as any other, which is
 * what lets one stand for all (seccomp_compact's "other"). */
static const char *find_archs(const struct sock_fprog *prog, uint32_t *archs, size_t *n_archs)
{
    enum { MAY_ARCH = 1, MAY_OTHER = 2 };
    unsigned char *may = berth_xcalloc(prog->len + 1, 1);
    const char *fail = NULL;

    *n_archs = 0;
    if (prog->len > 0)
        may[0] = MAY_OTHER;
    for (size_t i = 0; i < prog->len && !fail; i++) {
        const struct sock_filter *f = &prog->filter[i];
        unsigned char here = may[i], next = here;
        size_t to[2] = { i + 1, SIZE_MAX };

        if (!here)
            continue; /* never reached */
        switch (f->code) {
        case OP_LD:
            next = f->k == OFF_ARCH ? MAY_ARCH : MAY_OTHER;
            break;
        case OP_AND:
            if (here & MAY_ARCH)
                fail = "an AND on the architecture";
            next = MAY_OTHER;
            break;
        case OP_JA:
            if (f->k >= prog->len - i - 1) {
                fail = "a jump out of the program";
                break;
            }
            to[0] = i + 1 + f->k;
            break;
        case OP_JEQ:
        case OP_JGT:
        case OP_JGE:
        case OP_JSET:
            to[0] = i + 1 + f->jt;
            to[1] = i + 1 + f->jf;
            if ((here & MAY_ARCH) && f->code == OP_JEQ) {
                bool seen = false;

                for (size_t a = 0; a < *n_archs; a++)
                    seen |= archs[a] == f->k;
                if (!seen && *n_archs == SECCOMP_COMPACT_ARCHS_MAX)
                    fail = "too many architectures";
                else if (!seen)
                    archs[(*n_archs)++] = f->k;
            } else if (here & MAY_ARCH) {
                fail = "an order or bit comparison of the architecture";
            }
            break;
        case OP_RET:
            to[0] = SIZE_MAX;
            break;
        default:
            fail = "an instruction libseccomp does not emit";
            break;
        }
        for (int t = 0; t < 2 && !fail; t++) {
            if (to[t] == SIZE_MAX)
                continue;
            if (to[t] >= prog->len)
                fail = "a jump out of the program";
            else
                may[to[t]] |= next;
        }
    }
    free(may);
    return fail;
}

int seccomp_compact(const struct sock_fprog *prog, struct sock_fprog *ret, char *why,
                    size_t why_len)
{
    uint32_t archs[SECCOMP_COMPACT_ARCHS_MAX], *bp = NULL, other_arch = 0;
    size_t n_archs = 0, n_bp = 0;
    code out = { 0 }, other = { 0 }, blocks[SECCOMP_COMPACT_ARCHS_MAX] = { { 0 } };
    const char *fail = NULL;
    struct sock_fprog new;

    fail = find_archs(prog, archs, &n_archs);
    if (fail)
        goto out;
    if (n_archs == 0) {
        fail = "no architecture check";
        goto out;
    }
    fail = breakpoints(prog, &bp, &n_bp);
    if (fail)
        goto out;
    /* any other architecture (find_archs: they all take one path): one
     * decision, whatever the number and the arguments, shown on an
     * architecture the program compares with nothing */
    for (bool clash = true; clash; other_arch++) {
        clash = false;
        for (size_t i = 0; i < prog->len; i++)
            clash |= prog->filter[i].code != OP_RET && prog->filter[i].k == other_arch;
    }
    other_arch--;
    {
        range *rs = NULL;
        size_t n = 0;

        fail = arch_ranges(prog, other_arch, bp, n_bp, &rs, &n);
        if (!fail && (n != 1 || rs[0].res.n != 1 || rs[0].res.v[0].code != OP_RET))
            fail = "the decision for an unknown architecture depends on more than it";
        if (!fail)
            append(&other, &rs[0].res);
        for (size_t i = 0; i < n; i++)
            free(rs[i].res.v);
        free(rs);
    }
    for (size_t a = 0; !fail && a < n_archs; a++) {
        range *rs = NULL;
        size_t n = 0;

        fail = arch_ranges(prog, archs[a], bp, n_bp, &rs, &n);
        if (fail)
            break;
        push(&blocks[a], OP_LD, 0, 0, OFF_NR);
        emit_tree(&blocks[a], rs, 0, n - 1);
        for (size_t i = 0; i < n; i++)
            free(rs[i].res.v);
        free(rs);
    }
    if (fail)
        goto out;
    /* ld arch; per arch: jeq, ja to its block; the other architectures'
     * return; the blocks */
    push(&out, OP_LD, 0, 0, OFF_ARCH);
    {
        size_t after = out.n + 2 * n_archs + 1; /* first block's position */

        for (size_t a = 0; a < n_archs; a++) {
            size_t here = out.n;

            push(&out, OP_JEQ, 0, 1, archs[a]);
            push(&out, OP_JA, 0, 0, (uint32_t)(after - (here + 2)));
            after += blocks[a].n;
        }
    }
    append(&out, &other);
    for (size_t a = 0; a < n_archs; a++)
        append(&out, &blocks[a]);
    if (out.n > BPF_MAXINSNS) {
        fail = "too long";
        goto out;
    }
    new = (struct sock_fprog){ .len = (unsigned short)out.n, .filter = out.v };
    if (!check(prog, &new, archs, n_archs, bp, n_bp, why, why_len))
        goto refused;
    ret->len = new.len;
    ret->filter = out.v;
    out.v = NULL;
    free(bp);
    free(other.v);
    for (size_t a = 0; a < n_archs; a++)
        free(blocks[a].v);
    return 0;

out:
    snprintf(why, why_len, "%s", fail);
refused:
    free(out.v);
    free(bp);
    free(other.v);
    for (size_t a = 0; a < SECCOMP_COMPACT_ARCHS_MAX; a++)
        free(blocks[a].v);
    return -1;
}
