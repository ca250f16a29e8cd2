/* O2 Twin FMU runtime: the instance and the internal interfaces between its modules.
 *
 *   o2_fmi2.c     FMI 2.0 API (Model Exchange + Co-Simulation), state machine, argument checks
 *   o2_model.c    calls into the CasADi-generated model.c; Newton solvers (initialisation, algebraic loops)
 *   o2_bdf.c      variable-order, variable-step BDF/NDF integrator used by fmi2DoStep
 *   o2_state.c    FMU state snapshots and their serialisation
 *   o2_sparse_lu.c  sparse LU for the Newton iteration matrices
 * See docs/fmu-runtime.md for the numerical design.
 */
#ifndef O2_RUNTIME_H
#define O2_RUNTIME_H

#include "fmi2Functions.h"
#include "model_data.h"
#include "o2_sparse_lu.h"

#define O2_BDF_MAX_ORDER 5
#define O2_BDF_HIST (O2_BDF_MAX_ORDER + 3) /* rows of the backward-difference array D */

/* what changed since the last communication point (O2Scalars.inputs_changed) */
#define O2_CHANGED_INPUT 1 /* an input value or input derivative: restart or continue, as the jump demands */
#define O2_CHANGED_PARAM 2 /* a tunable parameter: always a restart */

typedef enum {
    O2_INSTANTIATED = 0,
    O2_INIT_MODE,
    O2_EVENT_MODE,      /* ME */
    O2_CONT_TIME_MODE,  /* ME */
    O2_STEP_COMPLETE,   /* CS */
    O2_TERMINATED,
    O2_ERROR
} o2_mode;

/* Everything that determines the future trajectory; copied as a whole by fmi2Get/SetFMUstate and serialised
 * byte for byte. Arrays live in O2Instance.sd at the offsets in O2Instance (doubles only). */
typedef struct {
    int mode;
    int init_solved;     /* initialisation system solved for the current p, u */
    int z_consistent;    /* z solves g = 0 for the current t, x, u */
    int started;         /* the integrator history D is valid */
    int inputs_changed;  /* since the last communication point (CS): O2_CHANGED_INPUT and/or O2_CHANGED_PARAM */
    int order;           /* current BDF order 1..5 */
    int n_equal_steps;   /* steps taken with the current h and order */
    int jac_valid;       /* J holds a Jacobian (possibly from an earlier step) */
    int jac_current;     /* J was evaluated in the current step attempt */
    int lu_valid;        /* the iteration matrix I - lu_c J (from the current J) has been factored */
    int jac_age;         /* steps accepted since J was evaluated */
    int stop_time_defined;
    double t;            /* FMI time: x, z hold the solution here */
    double t_int;        /* the integrator's time (>= t in Co-Simulation): the history D is for this point */
    double rtol;
    double start_time;
    double stop_time;
    double h_abs;        /* the step size D is scaled for */
    double h_want;       /* the step size the error controller asks for */
    double t_comm;       /* start of the current communication step (input interpolation) */
    double last_successful_time;
    double lu_c;         /* the c of the factored iteration matrix (reused while c stays close to it) */
    double newton_rate;  /* Newton's convergence rate estimate with this matrix (1 when not yet measured) */
    double t_hist_comm;  /* the history D was computed with the inputs uh + duh (t - t_hist_comm) */
    long n_steps, n_rejected, n_newton_fail, n_f, n_jac, n_lu, n_restarts, n_continued;
} O2Scalars;

typedef struct {
    void *block;   /* the one allocation holding the instance and all its arrays (fmi2Instantiate) */
    /* FMI environment */
    fmi2Type type;
    char *instance_name;
    fmi2CallbackFunctions cb;
    int logging_on;

    O2Scalars s;
    double *sd;    /* persistent doubles (the state's arrays) */
    int n_sd;
    /* views into sd */
    double *x, *z, *u, *p, *du, *u0, *xs, *D, *J, *zmax; /* z follows x: [x; z] is one vector y */
    double *uh, *duh; /* the inputs the history D was computed with: uh + duh (t - s.t_hist_comm) */
    int *x_set;    /* state overridden before initialisation (not part of the snapshot: only used before init) */

    /* caches (recomputed on demand; never part of the state) */
    double *xdot, *res, *v;
    int xdot_valid, v_valid;

    /* model sizes and sparsity */
    int n;                      /* nx + nz */
    int nnz_j, nnz_ju, nnz_ij;  /* dae_jac, dae_jac_u, init_jac */
    const int *j_colptr, *j_row, *ju_colptr, *ju_row, *ij_colptr, *ij_row;
    /* Newton iteration matrix [I - c Jxx, -c Jxz; Jzx, Jzz]: pattern of J plus the x diagonal */
    int nnz_a;
    int *a_colptr, *a_row;
    int *a_from_j;   /* per J nonzero: its position in A */
    int *a_diag;     /* per x row: position of the diagonal in A */
    int *j_slot;     /* per J nonzero: its slot in lu_iter's values (NULL when lu_iter is dense-only) */
    int *diag_slot;  /* per x row: the slot of the diagonal in lu_iter's values */
    double *a_val;
    o2_splu lu_iter; /* factor of A (iteration matrix or z-solve matrix) */
    int lu_holds;    /* what lu_iter holds now: 0 nothing, 1 the iteration matrix for s.lu_c, 2 z-solve matrix */
    o2_splu lu_init; /* factor of init_jac */
    double *ij_val;

    /* CasADi work memory, sized for the largest generated function */
    const double **arg;
    double **res_ptr;
    int *iw;
    double *w;

    /* scratch (n-sized unless noted) */
    double *y_pred, *psi, *d, *f, *scale, *dy, *tmp, *tmp2;
    double *dtmp;    /* O2_BDF_HIST * n: step-size change of D */
    double *jtmp;    /* nnz_j: Jacobian for z solves and directional derivatives (never the integrator's J) */
    double *jutmp;   /* nnz_ju */
    double *u_now;   /* nu: inputs at the time of an evaluation */
    double *dv;      /* nv */
    double *dxz;     /* n + nu: seeds */
} O2Instance;

/* o2_fmi2.c */
void o2_log(O2Instance *m, fmi2Status status, const char *category, const char *fmt, ...);
void o2_invalidate(O2Instance *m);

/* o2_model.c: thin wrappers around the generated functions; return 0 or -1 (evaluation error) */
int o2_eval_dae(O2Instance *m, double t, const double *x, const double *z, const double *u, double *xdot,
                double *res);
int o2_eval_jac(O2Instance *m, double t, const double *x, const double *z, const double *u, double *jval);
int o2_eval_jac_u(O2Instance *m, double t, const double *x, const double *z, const double *u, double *juval);
int o2_eval_vars(O2Instance *m, double *v);
int o2_eval_vars_fwd(O2Instance *m, const double *dx, const double *dz, const double *du, double *dv);
int o2_eval_init_guess(O2Instance *m, double *x0, double *z0);
int o2_all_finite(const double *a, int n);
void o2_inputs_at(const O2Instance *m, double t, double *u_out);
/* Newton solvers; return 0 or -1 (message logged) */
int o2_solve_initialisation(O2Instance *m);
int o2_solve_z(O2Instance *m, double t, const double *u);
int o2_factor_iteration(O2Instance *m, double c);
int o2_directional_derivative(O2Instance *m, const double *dx, const double *du, double *dv);

/* o2_bdf.c */
int o2_bdf_do_step(O2Instance *m, double t_end);

#endif
