/* Sparse LU with a static pivot sequence; see o2_sparse_lu.h for the method. */
#include "o2_sparse_lu.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define O2_LU_ANALYSE_MAX 20000    /* the bitset minimum-degree ordering is O(n^2/64) memory */
#define O2_LU_UPDATE_MAX 50000000L /* more update slots than this: the sparse factor is not worth it */
#define O2_LU_PIVOT_TOL 1e-8       /* |pivot| below this times its column maximum: use the dense fallback */

/* Augmenting path for the maximum transversal: try to give column col a row. */
static int augment(int col, const int *colptr, const int *rowind, int *row_owner, int *visited, int stamp) {
    for (int p = colptr[col]; p < colptr[col + 1]; p++) {
        if (row_owner[rowind[p]] < 0) {
            row_owner[rowind[p]] = col;
            return 1;
        }
    }
    for (int p = colptr[col]; p < colptr[col + 1]; p++) {
        int r = rowind[p];
        if (visited[r] != stamp) {
            visited[r] = stamp;
            if (augment(row_owner[r], colptr, rowind, row_owner, visited, stamp)) {
                row_owner[r] = col;
                return 1;
            }
        }
    }
    return 0;
}

static int popcount64(uint64_t v) {
    int c = 0;
    while (v) {
        v &= v - 1;
        c++;
    }
    return c;
}

static int ctz64(uint64_t v) {
    int c = 0;
    while (!(v & 1u)) {
        v >>= 1;
        c++;
    }
    return c;
}

static int find_in(const int *a, int lo, int hi, int key) {
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Slot in lu->val of entry (i, j) of the permuted, filled matrix; -1 if not in the pattern. */
static int slot_of(const o2_splu *lu, int i, int j) {
    if (i == j) return i;
    if (i > j) {
        int e = find_in(lu->adj, lu->adj_ptr[j], lu->adj_ptr[j + 1], i);
        return (e < lu->adj_ptr[j + 1] && lu->adj[e] == i) ? lu->n + e : -1;
    }
    int e = find_in(lu->adj, lu->adj_ptr[i], lu->adj_ptr[i + 1], j);
    return (e < lu->adj_ptr[i + 1] && lu->adj[e] == j) ? lu->n + lu->nnz_fill + e : -1;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

#include <stdlib.h>

/* the factor's lasting arrays */
#define LASTING(nobj, size) mem->lasting(mem->ctx, (nobj), (size))

int o2_splu_analyse(o2_splu *lu, int n, const int *colptr, const int *rowind, const o2_splu_memory *mem) {
    o2_calloc_fn alloc = mem->scratch_alloc; /* scratch, released below */
    o2_free_fn release = mem->scratch_free;
    memset(lu, 0, sizeof(*lu));
    lu->n = n;
    lu->in_colptr = colptr;
    lu->in_rowind = rowind;
    lu->nnz_in = colptr[n];
    if (n == 0) return 0;
    if (n > O2_LU_ANALYSE_MAX) return -1;
    lu->work = LASTING((size_t)n, sizeof(double));
    if (!lu->work) return -1;
    if (n <= O2_LU_DENSE_MAX) {
        lu->dense = LASTING((size_t)n * (size_t)n, sizeof(double));
        lu->dense_piv = LASTING((size_t)n, sizeof(int));
        if (!lu->dense || !lu->dense_piv) return -1;
    }

    /* 1. maximum transversal, diagonal entries first */
    int *row_owner = alloc((size_t)n, sizeof(int));
    int *visited = alloc((size_t)n, sizeof(int));
    int *inv_rowperm = alloc((size_t)n, sizeof(int));
    int *rowperm = alloc((size_t)n, sizeof(int));
    int *order = alloc((size_t)n, sizeof(int));
    int *newlabel = alloc((size_t)n, sizeof(int));
    int *deg = alloc((size_t)n, sizeof(int));
    int *nb = alloc((size_t)n, sizeof(int));
    int *col_done = alloc((size_t)n, sizeof(int));
    size_t words = ((size_t)n + 63) / 64;
    uint64_t *bits = alloc(words * (size_t)n, sizeof(uint64_t));
    int *fill_ptr = alloc((size_t)n + 1, sizeof(int));
    size_t fill_cap = (size_t)colptr[n] + (size_t)n, fill_len = 0;
    int *fill = alloc(fill_cap, sizeof(int));
    int rc = -1;
    if (!row_owner || !visited || !inv_rowperm || !rowperm || !order || !newlabel || !deg || !nb || !col_done ||
        !bits || !fill_ptr || !fill)
        goto done;
    for (int i = 0; i < n; i++) {
        row_owner[i] = -1;
        visited[i] = -1;
    }
    for (int c = 0; c < n; c++)
        for (int p = colptr[c]; p < colptr[c + 1]; p++)
            if (rowind[p] == c && row_owner[c] < 0) {
                row_owner[c] = c;
                col_done[c] = 1;
            }
    for (int c = 0; c < n; c++) {
        if (col_done[c]) continue;
        if (!augment(c, colptr, rowind, row_owner, visited, c)) {
            lu->structurally_singular = 1; /* no transversal: only the dense LU can (fail to) factorise it */
            rc = lu->dense ? 0 : -1;
            goto done;
        }
    }
    for (int r = 0; r < n; r++) {
        rowperm[row_owner[r]] = r; /* row r of A becomes row row_owner[r] of B, with a diagonal nonzero */
        inv_rowperm[r] = row_owner[r];
    }

    /* 2. minimum degree on the symmetrised pattern of B, recording the elimination graph (= filled pattern) */
    for (int c = 0; c < n; c++)
        for (int p = colptr[c]; p < colptr[c + 1]; p++) {
            int i = inv_rowperm[rowind[p]];
            if (i == c) continue;
            bits[(size_t)i * words + (size_t)c / 64] |= (uint64_t)1 << (c % 64);
            bits[(size_t)c * words + (size_t)i / 64] |= (uint64_t)1 << (i % 64);
        }
    for (int i = 0; i < n; i++) {
        int d = 0;
        for (size_t w = 0; w < words; w++) d += popcount64(bits[(size_t)i * words + w]);
        deg[i] = d;
        newlabel[i] = -1;
    }
    for (int s = 0; s < n; s++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (newlabel[i] < 0 && (best < 0 || deg[i] < deg[best])) best = i;
        order[s] = best;
        newlabel[best] = s;
        uint64_t *rb = bits + (size_t)best * words;
        int d = 0;
        for (size_t w = 0; w < words; w++) {
            uint64_t v = rb[w];
            while (v) {
                int b = ctz64(v);
                nb[d++] = (int)(w * 64 + (size_t)b);
                v &= v - 1;
            }
        }
        if (fill_len + (size_t)d > fill_cap) {
            size_t cap = 2 * fill_cap + (size_t)d;
            int *grown = alloc(cap, sizeof(int));
            if (!grown) goto done;
            memcpy(grown, fill, fill_len * sizeof(int));
            release(fill);
            fill = grown;
            fill_cap = cap;
        }
        fill_ptr[s] = (int)fill_len;
        for (int a = 0; a < d; a++) fill[fill_len++] = nb[a];
        for (int a = 0; a < d; a++) {
            uint64_t *ra = bits + (size_t)nb[a] * words;
            for (size_t w = 0; w < words; w++) ra[w] |= rb[w];
            ra[(size_t)nb[a] / 64] &= ~((uint64_t)1 << (nb[a] % 64));
            ra[(size_t)best / 64] &= ~((uint64_t)1 << (best % 64));
        }
        for (int a = 0; a < d; a++) {
            int cnt = 0;
            for (size_t w = 0; w < words; w++) cnt += popcount64(bits[(size_t)nb[a] * words + w]);
            deg[nb[a]] = cnt;
        }
    }
    fill_ptr[n] = (int)fill_len;

    /* 3. filled pattern in new labels, slots of the input entries, update lists */
    lu->nnz_fill = (int)fill_len;
    lu->adj_ptr = LASTING((size_t)n + 1, sizeof(int));
    lu->adj = LASTING(fill_len + 1, sizeof(int));
    lu->val = LASTING((size_t)n + 2 * fill_len, sizeof(double));
    lu->in_slot = LASTING((size_t)colptr[n] + 1, sizeof(int));
    lu->upd_ptr = LASTING((size_t)n + 1, sizeof(long));
    lu->perm_row = LASTING((size_t)n, sizeof(int));
    lu->perm_col = LASTING((size_t)n, sizeof(int));
    if (!lu->adj_ptr || !lu->adj || !lu->val || !lu->in_slot || !lu->upd_ptr || !lu->perm_row || !lu->perm_col)
        goto done;
    for (int s = 0; s <= n; s++) lu->adj_ptr[s] = fill_ptr[s];
    for (size_t e = 0; e < fill_len; e++) lu->adj[e] = newlabel[fill[e]];
    long n_upd = 0;
    for (int s = 0; s < n; s++) {
        qsort(lu->adj + lu->adj_ptr[s], (size_t)(lu->adj_ptr[s + 1] - lu->adj_ptr[s]), sizeof(int), cmp_int);
        long d = lu->adj_ptr[s + 1] - lu->adj_ptr[s];
        lu->upd_ptr[s] = n_upd;
        n_upd += d * d;
    }
    lu->upd_ptr[n] = n_upd;
    if (n_upd > O2_LU_UPDATE_MAX) {
        lu->structurally_singular = 1; /* too much fill: use the dense factorisation */
        rc = lu->dense ? 0 : -1;
        goto done;
    }
    lu->upd = LASTING((size_t)n_upd + 1, sizeof(int));
    if (!lu->upd) goto done;
    for (int s = 0; s < n; s++) {
        lu->perm_row[s] = rowperm[order[s]];
        lu->perm_col[s] = order[s];
        long q = lu->upd_ptr[s];
        for (int a = lu->adj_ptr[s]; a < lu->adj_ptr[s + 1]; a++)
            for (int b = lu->adj_ptr[s]; b < lu->adj_ptr[s + 1]; b++) lu->upd[q++] = slot_of(lu, lu->adj[a], lu->adj[b]);
    }
    for (int c = 0; c < n; c++)
        for (int p = colptr[c]; p < colptr[c + 1]; p++)
            lu->in_slot[p] = slot_of(lu, newlabel[inv_rowperm[rowind[p]]], newlabel[c]);
    /* L by rows: count per row, then place (columns come out increasing) */
    lu->lrow_ptr = LASTING((size_t)n + 1, sizeof(int));
    lu->lrow_col = LASTING(fill_len + 1, sizeof(int));
    lu->lrow_slot = LASTING(fill_len + 1, sizeof(int));
    lu->lrow_val = LASTING(fill_len + 1, sizeof(double));
    lu->inv_diag = LASTING((size_t)n, sizeof(double));
    if (!lu->lrow_ptr || !lu->lrow_col || !lu->lrow_slot || !lu->lrow_val || !lu->inv_diag) goto done;
    for (size_t e = 0; e < fill_len; e++) lu->lrow_ptr[lu->adj[e] + 1]++;
    for (int i = 0; i < n; i++) lu->lrow_ptr[i + 1] += lu->lrow_ptr[i];
    for (int i = 0; i < n; i++) deg[i] = lu->lrow_ptr[i]; /* next free position per row */
    for (int k = 0; k < n; k++)
        for (int e = lu->adj_ptr[k]; e < lu->adj_ptr[k + 1]; e++) {
            int pos = deg[lu->adj[e]]++;
            lu->lrow_col[pos] = k;
            lu->lrow_slot[pos] = e;
        }
    rc = 0;

done:
    if (row_owner) release(row_owner);
    if (visited) release(visited);
    if (inv_rowperm) release(inv_rowperm);
    if (rowperm) release(rowperm);
    if (order) release(order);
    if (newlabel) release(newlabel);
    if (deg) release(deg);
    if (nb) release(nb);
    if (col_done) release(col_done);
    if (bits) release(bits);
    if (fill_ptr) release(fill_ptr);
    if (fill) release(fill);
    return rc;
}

static int dense_factor(o2_splu *lu, const double *values) {
    int n = lu->n;
    double *a = lu->dense;
    memset(a, 0, (size_t)n * (size_t)n * sizeof(double));
    for (int c = 0; c < n; c++)
        for (int p = lu->in_colptr[c]; p < lu->in_colptr[c + 1]; p++) a[(size_t)c * n + lu->in_rowind[p]] += values[p];
    for (int k = 0; k < n; k++) {
        int piv = k;
        double best = fabs(a[(size_t)k * n + k]);
        for (int i = k + 1; i < n; i++)
            if (fabs(a[(size_t)k * n + i]) > best) {
                best = fabs(a[(size_t)k * n + i]);
                piv = i;
            }
        lu->dense_piv[k] = piv;
        if (!(best > 0.0) || !isfinite(best)) return -1;
        if (piv != k)
            for (int j = 0; j < n; j++) {
                double t = a[(size_t)j * n + k];
                a[(size_t)j * n + k] = a[(size_t)j * n + piv];
                a[(size_t)j * n + piv] = t;
            }
        double inv = 1.0 / a[(size_t)k * n + k];
        for (int i = k + 1; i < n; i++) a[(size_t)k * n + i] *= inv;
        for (int j = k + 1; j < n; j++) {
            double f = a[(size_t)j * n + k];
            if (f == 0.0) continue;
            for (int i = k + 1; i < n; i++) a[(size_t)j * n + i] -= a[(size_t)k * n + i] * f;
        }
    }
    return 0;
}

double *o2_splu_values(o2_splu *lu) {
    if (lu->n == 0 || lu->structurally_singular) return NULL;
    memset(lu->val, 0, ((size_t)lu->n + 2 * (size_t)lu->nnz_fill) * sizeof(double));
    return lu->val;
}

int o2_splu_factor_values(o2_splu *lu) {
    int n = lu->n;
    double *val = lu->val;
    lu->use_dense = 0;
    for (int k = 0; k < n; k++) {
        double piv = val[k];
        double colmax = fabs(piv);
        int e0 = lu->adj_ptr[k], e1 = lu->adj_ptr[k + 1];
        double *l = val + n + e0, *u = val + n + lu->nnz_fill + e0;
        for (int e = 0; e < e1 - e0; e++)
            if (fabs(l[e]) > colmax) colmax = fabs(l[e]);
        if (!(fabs(piv) > O2_LU_PIVOT_TOL * colmax) || !isfinite(colmax)) return -1;
        double inv = 1.0 / piv;
        for (int e = 0; e < e1 - e0; e++) l[e] *= inv;
        const int *t = lu->upd + lu->upd_ptr[k];
        for (int a = 0; a < e1 - e0; a++) {
            double la = l[a];
            if (la == 0.0) {
                t += e1 - e0;
                continue;
            }
            for (int b = 0; b < e1 - e0; b++) val[*t++] -= la * u[b];
        }
    }
    const double *l = val + n;
    for (int e = 0; e < lu->nnz_fill; e++) lu->lrow_val[e] = l[lu->lrow_slot[e]];
    for (int k = 0; k < n; k++) lu->inv_diag[k] = 1.0 / val[k];
    lu->n_sparse++;
    return 0;
}

int o2_splu_factor_dense(o2_splu *lu, const double *values) {
    if (!lu->dense) return -1;
    lu->use_dense = 1;
    lu->n_dense++;
    return dense_factor(lu, values);
}

int o2_splu_factor(o2_splu *lu, const double *values) {
    lu->use_dense = 0;
    if (lu->n == 0) return 0;
    double *val = o2_splu_values(lu);
    if (val) {
        for (int p = 0; p < lu->nnz_in; p++) val[lu->in_slot[p]] += values[p];
        if (o2_splu_factor_values(lu) == 0) return 0;
    }
    return o2_splu_factor_dense(lu, values);
}

/* sum_e a[e] y[idx[e]] over e0 <= e < e1, in four partial sums: the rows of a sparse triangle are short (about
 * eight entries in the PSA unit's), and one running sum would make every multiply-add wait for the previous one. */
static inline double sparse_dot(const double *a, const int *idx, const double *y, int e0, int e1) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int e = e0;
    for (; e + 4 <= e1; e += 4) {
        s0 += a[e] * y[idx[e]];
        s1 += a[e + 1] * y[idx[e + 1]];
        s2 += a[e + 2] * y[idx[e + 2]];
        s3 += a[e + 3] * y[idx[e + 3]];
    }
    for (; e < e1; e++) s0 += a[e] * y[idx[e]];
    return (s0 + s1) + (s2 + s3);
}

void o2_splu_solve(o2_splu *lu, double *b) {
    int n = lu->n;
    double *y = lu->work;
    if (n == 0) return;
    if (lu->use_dense) {
        const double *a = lu->dense;
        for (int k = 0; k < n; k++) {
            int p = lu->dense_piv[k];
            if (p != k) {
                double t = b[k];
                b[k] = b[p];
                b[p] = t;
            }
        }
        for (int k = 0; k < n; k++) {
            double bk = b[k];
            if (bk != 0.0)
                for (int i = k + 1; i < n; i++) b[i] -= a[(size_t)k * n + i] * bk;
        }
        for (int k = n - 1; k >= 0; k--) {
            b[k] /= a[(size_t)k * n + k];
            double bk = b[k];
            if (bk != 0.0)
                for (int i = 0; i < k; i++) b[i] -= a[(size_t)k * n + i] * bk;
        }
        return;
    }
    const double *val = lu->val;
    const double *u = val + n + lu->nnz_fill, *lv = lu->lrow_val;
    const int *adj = lu->adj, *adj_ptr = lu->adj_ptr, *lcol = lu->lrow_col, *lptr = lu->lrow_ptr;
    for (int i = 0; i < n; i++) /* L y = P b, by rows */
        y[i] = b[lu->perm_row[i]] - sparse_dot(lv, lcol, y, lptr[i], lptr[i + 1]);
    for (int k = n - 1; k >= 0; k--) /* U x = y */
        y[k] = (y[k] - sparse_dot(u, adj, y, adj_ptr[k], adj_ptr[k + 1])) * lu->inv_diag[k];
    for (int j = 0; j < n; j++) b[lu->perm_col[j]] = y[j];
}
