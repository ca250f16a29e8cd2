/* FMU state snapshots (fmi2Get/Set/FreeFMUstate) and their serialisation.
 * A snapshot is one flat block: a header of ints (magic, format version, GUID hash, sizes), the scalar part of
 * the state (O2Scalars) and the persistent doubles (x, z, u, p, input derivatives, integrator history D, the
 * Jacobian J in use, ...). The LU factors are not stored: they are recomputed from J and the saved step data,
 * which gives the same bits, so a restored instance replays its trajectory bit for bit. The serialised form is
 * the block itself (native byte order: same platform only). */
#include <stdlib.h>
#include <string.h>

#include "o2_runtime.h"

#define O2_STATE_MAGIC 0x4f325453 /* "O2TS" */
#define O2_STATE_VERSION 3
#define O2_HEADER_INTS 10

static int guid_hash(void) {
    unsigned h = 2166136261u;
    for (const char *p = MODEL_GUID; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return (int)(h & 0x7fffffff);
}

static size_t state_size(const O2Instance *m) {
    return O2_HEADER_INTS * sizeof(int) + sizeof(O2Scalars) + (size_t)m->n_sd * sizeof(double);
}

static void write_state(const O2Instance *m, unsigned char *blob) {
    int header[O2_HEADER_INTS] = {O2_STATE_MAGIC, O2_STATE_VERSION, guid_hash(), MDL_NX, MDL_NZ,
                                  MDL_NU,         MDL_NP,           m->nnz_j,    m->n_sd, (int)sizeof(O2Scalars)};
    memcpy(blob, header, sizeof(header));
    memcpy(blob + sizeof(header), &m->s, sizeof(O2Scalars));
    memcpy(blob + sizeof(header) + sizeof(O2Scalars), m->sd, (size_t)m->n_sd * sizeof(double));
}

static int check_state(O2Instance *m, const unsigned char *blob, const char *fn) {
    int header[O2_HEADER_INTS];
    memcpy(header, blob, sizeof(header));
    if (header[0] != O2_STATE_MAGIC || header[1] != O2_STATE_VERSION) {
        o2_log(m, fmi2Error, "logError", "%s: not an FMU state of this runtime (format %d)", fn, header[1]);
        return -1;
    }
    if (header[2] != guid_hash() || header[3] != MDL_NX || header[4] != MDL_NZ || header[5] != MDL_NU ||
        header[6] != MDL_NP || header[7] != m->nnz_j || header[8] != m->n_sd || header[9] != (int)sizeof(O2Scalars)) {
        o2_log(m, fmi2Error, "logError", "%s: the FMU state belongs to a different model or build", fn);
        return -1;
    }
    return 0;
}

static void read_state(O2Instance *m, const unsigned char *blob) {
    memcpy(&m->s, blob + O2_HEADER_INTS * sizeof(int), sizeof(O2Scalars));
    memcpy(m->sd, blob + O2_HEADER_INTS * sizeof(int) + sizeof(O2Scalars), (size_t)m->n_sd * sizeof(double));
    m->lu_holds = 0; /* refactorised from the restored J on the next step */
    o2_invalidate(m);
}

static void *state_alloc(O2Instance *m, size_t size) {
    return m->cb.allocateMemory ? m->cb.allocateMemory(1, size) : calloc(1, size);
}

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    O2Instance *m = (O2Instance *)c;
    if (!m) return fmi2Error;
    if (!FMUstate) {
        o2_log(m, fmi2Error, "logError", "fmi2GetFMUstate: FMUstate is NULL");
        return fmi2Error;
    }
    unsigned char *blob = *FMUstate;
    if (!blob) {
        blob = state_alloc(m, state_size(m));
        if (!blob) {
            o2_log(m, fmi2Error, "logError", "fmi2GetFMUstate: out of memory");
            return fmi2Error;
        }
    } else if (check_state(m, blob, "fmi2GetFMUstate") != 0) {
        return fmi2Error;
    }
    write_state(m, blob);
    *FMUstate = blob;
    return fmi2OK;
}

fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate FMUstate) {
    O2Instance *m = (O2Instance *)c;
    if (!m) return fmi2Error;
    if (!FMUstate) {
        o2_log(m, fmi2Error, "logError", "fmi2SetFMUstate: FMUstate is NULL");
        return fmi2Error;
    }
    if (check_state(m, FMUstate, "fmi2SetFMUstate") != 0) return fmi2Error;
    read_state(m, FMUstate);
    return fmi2OK;
}

fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *FMUstate) {
    O2Instance *m = (O2Instance *)c;
    if (!m) return fmi2Error;
    if (!FMUstate || !*FMUstate) return fmi2OK;
    if (m->cb.freeMemory)
        m->cb.freeMemory(*FMUstate);
    else
        free(*FMUstate);
    *FMUstate = NULL;
    return fmi2OK;
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate FMUstate, size_t *size) {
    O2Instance *m = (O2Instance *)c;
    if (!m) return fmi2Error;
    if (!FMUstate || !size) {
        o2_log(m, fmi2Error, "logError", "fmi2SerializedFMUstateSize: NULL argument");
        return fmi2Error;
    }
    *size = state_size(m);
    return fmi2OK;
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate FMUstate, fmi2Byte serializedState[], size_t size) {
    O2Instance *m = (O2Instance *)c;
    if (!m) return fmi2Error;
    if (!FMUstate || !serializedState) {
        o2_log(m, fmi2Error, "logError", "fmi2SerializeFMUstate: NULL argument");
        return fmi2Error;
    }
    if (size < state_size(m)) {
        o2_log(m, fmi2Error, "logError", "fmi2SerializeFMUstate: buffer of %zu bytes, need %zu", size, state_size(m));
        return fmi2Error;
    }
    if (check_state(m, FMUstate, "fmi2SerializeFMUstate") != 0) return fmi2Error;
    memcpy(serializedState, FMUstate, state_size(m));
    return fmi2OK;
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte serializedState[], size_t size,
                                   fmi2FMUstate *FMUstate) {
    O2Instance *m = (O2Instance *)c;
    if (!m) return fmi2Error;
    if (!serializedState || !FMUstate) {
        o2_log(m, fmi2Error, "logError", "fmi2DeSerializeFMUstate: NULL argument");
        return fmi2Error;
    }
    if (size != state_size(m)) {
        o2_log(m, fmi2Error, "logError", "fmi2DeSerializeFMUstate: %zu bytes, expected %zu (different model?)", size,
               state_size(m));
        return fmi2Error;
    }
    if (check_state(m, (const unsigned char *)serializedState, "fmi2DeSerializeFMUstate") != 0) return fmi2Error;
    void *blob = *FMUstate;
    if (!blob) blob = state_alloc(m, size);
    if (!blob) {
        o2_log(m, fmi2Error, "logError", "fmi2DeSerializeFMUstate: out of memory");
        return fmi2Error;
    }
    memcpy(blob, serializedState, size);
    *FMUstate = blob;
    return fmi2OK;
}
