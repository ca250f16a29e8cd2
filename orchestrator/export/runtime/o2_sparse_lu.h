/* Sparse LU with a static pivot sequence for the Newton iteration matrices of the O2 Twin FMU runtime.
 *
 * The pattern of a matrix is fixed when the FMU is instantiated, so all symbolic work is done once:
 *   1. a maximum transversal (row permutation) puts a structural nonzero on every diagonal entry;
 *   2. a minimum-degree ordering of the symmetrised pattern reduces fill;
 *   3. the elimination graph gives the (structurally symmetric) filled pattern and a flat list of update targets.
 * The numeric factorisation is then a loop over precomputed slots: no searching, no allocation. A pivot that is
 * tiny relative to its column makes the factorisation fall back to a dense LU with partial pivoting (allocated
 * up front for n <= O2_LU_DENSE_MAX), so numerically awkward matrices are still solved reliably.
 * C99, libc/libm only.
 */
#ifndef O2_SPARSE_LU_H
#define O2_SPARSE_LU_H

#include <stddef.h>

#define O2_LU_DENSE_MAX 2000

typedef void *(*o2_calloc_fn)(size_t nobj, size_t size);
typedef void (*o2_free_fn)(void *obj);

/* Where memory comes from: the factor's lasting arrays from `lasting` (zeroed; owned and released by the caller,
 * e.g. carved from one block), the analysis' scratch from scratch_alloc/scratch_free (released before it returns). */
typedef struct {
    void *(*lasting)(void *ctx, size_t nobj, size_t size);
    void *ctx;
    o2_calloc_fn scratch_alloc;
    o2_free_fn scratch_free;
} o2_splu_memory;

typedef struct {
    int n;
    int nnz_in;       /* nonzeros of the input pattern (CCS) */
    int nnz_fill;     /* off-diagonal entries per triangle of the filled pattern */
    int *perm_row;    /* pivot row i of the factor <- original row perm_row[i] */
    int *perm_col;    /* pivot column j of the factor <- original column perm_col[j] */
    int *adj_ptr;     /* n+1: filled pattern, pivot k couples to adj[adj_ptr[k] .. adj_ptr[k+1]) (all > k) */
    int *adj;
    double *val;      /* n diagonal, nnz_fill L (column k), nnz_fill U (row k) */
    int *in_slot;     /* per input nonzero: its slot in val */
    long *upd_ptr;    /* n+1 */
    int *upd;         /* update targets, deg(k)^2 per pivot */
    int *lrow_ptr;    /* n+1: L by rows for the forward substitution (a gather, faster than scattering columns): */
    int *lrow_col;    /*   row i has L(i, lrow_col[e]) = lrow_val[e] for e in lrow_ptr[i] .. lrow_ptr[i+1] */
    int *lrow_slot;   /*   and lrow_val[e] is copied from val[n + lrow_slot[e]] after each factorisation */
    double *lrow_val;
    double *inv_diag; /*  1 / U(k, k), after each factorisation */
    double *work;     /* n */
    /* dense fallback (column-major), NULL when n > O2_LU_DENSE_MAX */
    double *dense;
    int *dense_piv;
    const int *in_colptr; /* copies of the input pattern for the dense fallback */
    const int *in_rowind;
    int use_dense;    /* the current factorisation is the dense one */
    int structurally_singular; /* no full transversal: always dense */
    long n_sparse, n_dense; /* statistics */
} o2_splu;

/* Analyse the n x n CCS pattern (colptr[n+1], rowind[nnz]); the arrays must stay valid for the lifetime of lu.
 * Returns 0 on success, -1 when out of memory or n too large for the analysis. */
int o2_splu_analyse(o2_splu *lu, int n, const int *colptr, const int *rowind, const o2_splu_memory *mem);

/* Factorise values (in the CCS order of the analysed pattern). Returns 0, or -1 when the matrix is singular. */
int o2_splu_factor(o2_splu *lu, const double *values);

/* The same in steps, for callers that assemble the matrix themselves: o2_splu_values zeroes and returns the factor's
 * value array (NULL when only the dense LU applies), to be filled at lu->in_slot[p] for input nonzero p;
 * o2_splu_factor_values factorises it in place (0, or -1 for a pivot too small: then o2_splu_factor_dense with the
 * input values). */
double *o2_splu_values(o2_splu *lu);
int o2_splu_factor_values(o2_splu *lu);
int o2_splu_factor_dense(o2_splu *lu, const double *values);

/* Solve A x = b in place (b overwritten with x). */
void o2_splu_solve(o2_splu *lu, double *b);


#endif
