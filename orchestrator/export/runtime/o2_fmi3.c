/* FMI 3.0 API of the O2 Twin FMU runtime: Model Exchange and Co-Simulation over the FMI 2.0 entry points of
 * o2_fmi2.c, so both versions run the same integrator, solvers and state machine. What FMI 3.0 adds and the
 * exported models do not have (clocks, Scheduled Execution, configuration mode, event mode in Co-Simulation,
 * types other than Float64, adjoint derivatives) is answered with fmi3Error and a log message. The independent
 * variable "time" has the value reference MDL_NV (after the model's variables). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmi3Functions.h"
#include "o2_runtime.h"

#define O3_MSG_MAX 2048
#define O3_TIME_VR ((fmi3ValueReference)MDL_NV)

typedef struct {
    fmi2Component c2;          /* the FMI 2.0 instance doing the work */
    fmi2CallbackFunctions cb2; /* its callbacks: the logger forwards to logMessage */
    fmi3InstanceEnvironment env;
    fmi3LogMessageCallback log;
    int logging_on;
    char name[128];
} O3Instance;

#define I ((O3Instance *)instance)
#define C2 (I->c2)

static void log3(O3Instance *inst, fmi3Status status, const char *category, const char *fmt, ...) {
    if (!inst || !inst->log) return;
    char msg[O3_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    inst->log(inst->env, status, category, msg);
}

/* fmi2CallbackLogger -> fmi3LogMessageCallback (the runtime already formatted the message) */
static void forward_log(fmi2ComponentEnvironment env, fmi2String name, fmi2Status status, fmi2String category,
                        fmi2String message, ...) {
    (void)name;
    O3Instance *inst = (O3Instance *)env;
    if (!inst || !inst->log) return;
    char msg[O3_MSG_MAX];
    va_list ap;
    va_start(ap, message);
    vsnprintf(msg, sizeof(msg), message ? message : "", ap);
    va_end(ap);
    inst->log(inst->env, status == fmi2Pending ? fmi3Warning : (fmi3Status)status, category ? category : "", msg);
}

static fmi3Status st(fmi2Status s) { return s == fmi2Pending ? fmi3Error : (fmi3Status)s; }

static fmi3Status unsupported(fmi3Instance instance, const char *fn) {
    if (instance) log3(I, fmi3Error, "logError", "%s: not supported by this FMU", fn);
    return fmi3Error;
}

/* Getting or setting variables of a type the FMU does not have: fine for none, an error otherwise. */
static fmi3Status no_such_type(fmi3Instance instance, const char *fn, size_t nvr) {
    if (!instance) return fmi3Error;
    if (nvr == 0) return fmi3OK;
    log3(I, fmi3Error, "logError", "%s: this FMU has only Float64 variables", fn);
    return fmi3Error;
}

static int scalar_counts(fmi3Instance instance, const char *fn, size_t nvr, size_t nValues) {
    if (nvr == nValues) return 0;
    log3(I, fmi3Error, "logError", "%s: %zu value references but %zu values (the FMU has no arrays)", fn, nvr,
         nValues);
    return -1;
}

static fmi3Instance instantiate(fmi2Type type, fmi3String instanceName, fmi3String token, fmi3String resourcePath,
                                fmi3Boolean visible, fmi3Boolean loggingOn, fmi3InstanceEnvironment env,
                                fmi3LogMessageCallback logMessage) {
    O3Instance *inst = (O3Instance *)calloc(1, sizeof(O3Instance));
    if (!inst) return NULL;
    inst->env = env;
    inst->log = logMessage;
    inst->logging_on = loggingOn ? 1 : 0;
    snprintf(inst->name, sizeof(inst->name), "%s", instanceName ? instanceName : "");
    inst->cb2.logger = forward_log;
    inst->cb2.allocateMemory = calloc;
    inst->cb2.freeMemory = free;
    inst->cb2.componentEnvironment = inst;
    inst->c2 = fmi2Instantiate(instanceName, type, token, resourcePath, &inst->cb2, visible ? fmi2True : fmi2False,
                               loggingOn ? fmi2True : fmi2False);
    if (!inst->c2) {
        free(inst);
        return NULL;
    }
    return inst;
}

/* ---------------------------------------------------------------- common functions */

const char *fmi3GetVersion(void) { return fmi3Version; }

fmi3Status fmi3SetDebugLogging(fmi3Instance instance, fmi3Boolean loggingOn, size_t nCategories,
                               const fmi3String categories[]) {
    if (!instance) return fmi3Error;
    I->logging_on = loggingOn ? 1 : 0;
    return st(fmi2SetDebugLogging(C2, loggingOn ? fmi2True : fmi2False, nCategories, categories));
}

fmi3Instance fmi3InstantiateModelExchange(fmi3String instanceName, fmi3String instantiationToken,
                                          fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
                                          fmi3InstanceEnvironment instanceEnvironment,
                                          fmi3LogMessageCallback logMessage) {
    return instantiate(fmi2ModelExchange, instanceName, instantiationToken, resourcePath, visible, loggingOn,
                       instanceEnvironment, logMessage);
}

fmi3Instance fmi3InstantiateCoSimulation(fmi3String instanceName, fmi3String instantiationToken,
                                         fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
                                         fmi3Boolean eventModeUsed, fmi3Boolean earlyReturnAllowed,
                                         const fmi3ValueReference requiredIntermediateVariables[],
                                         size_t nRequiredIntermediateVariables,
                                         fmi3InstanceEnvironment instanceEnvironment,
                                         fmi3LogMessageCallback logMessage,
                                         fmi3IntermediateUpdateCallback intermediateUpdate) {
    (void)earlyReturnAllowed;
    (void)requiredIntermediateVariables;
    (void)intermediateUpdate;
    if (eventModeUsed || nRequiredIntermediateVariables > 0) {
        if (logMessage)
            logMessage(instanceEnvironment, fmi3Error, "logError",
                       "fmi3InstantiateCoSimulation: this FMU has no event mode and no intermediate variables");
        return NULL;
    }
    return instantiate(fmi2CoSimulation, instanceName, instantiationToken, resourcePath, visible, loggingOn,
                       instanceEnvironment, logMessage);
}

fmi3Instance fmi3InstantiateScheduledExecution(fmi3String instanceName, fmi3String instantiationToken,
                                               fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
                                               fmi3InstanceEnvironment instanceEnvironment,
                                               fmi3LogMessageCallback logMessage,
                                               fmi3ClockUpdateCallback clockUpdate,
                                               fmi3LockPreemptionCallback lockPreemption,
                                               fmi3UnlockPreemptionCallback unlockPreemption) {
    (void)instanceName, (void)instantiationToken, (void)resourcePath, (void)visible, (void)loggingOn;
    (void)clockUpdate, (void)lockPreemption, (void)unlockPreemption;
    if (logMessage)
        logMessage(instanceEnvironment, fmi3Error, "logError", "this FMU does not provide Scheduled Execution");
    return NULL;
}

void fmi3FreeInstance(fmi3Instance instance) {
    if (!instance) return;
    fmi2FreeInstance(C2);
    free(instance);
}

fmi3Status fmi3EnterInitializationMode(fmi3Instance instance, fmi3Boolean toleranceDefined, fmi3Float64 tolerance,
                                       fmi3Float64 startTime, fmi3Boolean stopTimeDefined, fmi3Float64 stopTime) {
    if (!instance) return fmi3Error;
    fmi2Status s = fmi2SetupExperiment(C2, toleranceDefined ? fmi2True : fmi2False, tolerance, startTime,
                                       stopTimeDefined ? fmi2True : fmi2False, stopTime);
    if (s > fmi2Warning) return st(s);
    return st(fmi2EnterInitializationMode(C2));
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance instance) {
    return instance ? st(fmi2ExitInitializationMode(C2)) : fmi3Error;
}

fmi3Status fmi3EnterEventMode(fmi3Instance instance) { return instance ? st(fmi2EnterEventMode(C2)) : fmi3Error; }

fmi3Status fmi3Terminate(fmi3Instance instance) { return instance ? st(fmi2Terminate(C2)) : fmi3Error; }

fmi3Status fmi3Reset(fmi3Instance instance) { return instance ? st(fmi2Reset(C2)) : fmi3Error; }

/* ---------------------------------------------------------------- variable access */

fmi3Status fmi3GetFloat64(fmi3Instance instance, const fmi3ValueReference valueReferences[], size_t nValueReferences,
                          fmi3Float64 values[], size_t nValues) {
    if (!instance || scalar_counts(instance, "fmi3GetFloat64", nValueReferences, nValues) != 0) return fmi3Error;
    int has_time = 0;
    for (size_t i = 0; i < nValueReferences && valueReferences; i++) has_time |= valueReferences[i] == O3_TIME_VR;
    if (!has_time) return st(fmi2GetReal(C2, valueReferences, nValueReferences, values));
    fmi3Status worst = fmi3OK;
    for (size_t i = 0; i < nValueReferences; i++) {
        if (valueReferences[i] == O3_TIME_VR) {
            values[i] = ((O2Instance *)C2)->s.t;
            continue;
        }
        fmi3Status s = st(fmi2GetReal(C2, &valueReferences[i], 1, &values[i]));
        if (s > worst) worst = s;
        if (worst > fmi3Warning) break;
    }
    return worst;
}

fmi3Status fmi3SetFloat64(fmi3Instance instance, const fmi3ValueReference valueReferences[], size_t nValueReferences,
                          const fmi3Float64 values[], size_t nValues) {
    if (!instance || scalar_counts(instance, "fmi3SetFloat64", nValueReferences, nValues) != 0) return fmi3Error;
    for (size_t i = 0; i < nValueReferences && valueReferences; i++)
        if (valueReferences[i] == O3_TIME_VR) {
            log3(I, fmi3Error, "logError", "fmi3SetFloat64: time (value reference %u) cannot be set",
                 (unsigned)O3_TIME_VR);
            return fmi3Error;
        }
    return st(fmi2SetReal(C2, valueReferences, nValueReferences, values));
}

#define NO_SUCH_GET(NAME, T)                                                                                     \
    fmi3Status NAME(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, T values[], size_t n) {  \
        (void)vr, (void)values, (void)n;                                                                       \
        return no_such_type(instance, #NAME, nvr);                                                             \
    }
#define NO_SUCH_SET(NAME, T)                                                                                     \
    fmi3Status NAME(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const T values[],        \
                    size_t n) {                                                                                \
        (void)vr, (void)values, (void)n;                                                                       \
        return no_such_type(instance, #NAME, nvr);                                                             \
    }
NO_SUCH_GET(fmi3GetFloat32, fmi3Float32)
NO_SUCH_GET(fmi3GetInt8, fmi3Int8)
NO_SUCH_GET(fmi3GetUInt8, fmi3UInt8)
NO_SUCH_GET(fmi3GetInt16, fmi3Int16)
NO_SUCH_GET(fmi3GetUInt16, fmi3UInt16)
NO_SUCH_GET(fmi3GetInt32, fmi3Int32)
NO_SUCH_GET(fmi3GetUInt32, fmi3UInt32)
NO_SUCH_GET(fmi3GetInt64, fmi3Int64)
NO_SUCH_GET(fmi3GetUInt64, fmi3UInt64)
NO_SUCH_GET(fmi3GetBoolean, fmi3Boolean)
NO_SUCH_GET(fmi3GetString, fmi3String)
NO_SUCH_SET(fmi3SetFloat32, fmi3Float32)
NO_SUCH_SET(fmi3SetInt8, fmi3Int8)
NO_SUCH_SET(fmi3SetUInt8, fmi3UInt8)
NO_SUCH_SET(fmi3SetInt16, fmi3Int16)
NO_SUCH_SET(fmi3SetUInt16, fmi3UInt16)
NO_SUCH_SET(fmi3SetInt32, fmi3Int32)
NO_SUCH_SET(fmi3SetUInt32, fmi3UInt32)
NO_SUCH_SET(fmi3SetInt64, fmi3Int64)
NO_SUCH_SET(fmi3SetUInt64, fmi3UInt64)
NO_SUCH_SET(fmi3SetBoolean, fmi3Boolean)
NO_SUCH_SET(fmi3SetString, fmi3String)

fmi3Status fmi3GetBinary(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, size_t valueSizes[],
                         fmi3Binary values[], size_t nValues) {
    (void)vr, (void)valueSizes, (void)values, (void)nValues;
    return no_such_type(instance, "fmi3GetBinary", nvr);
}

fmi3Status fmi3SetBinary(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const size_t valueSizes[],
                         const fmi3Binary values[], size_t nValues) {
    (void)vr, (void)valueSizes, (void)values, (void)nValues;
    return no_such_type(instance, "fmi3SetBinary", nvr);
}

fmi3Status fmi3GetClock(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, fmi3Clock values[]) {
    (void)vr, (void)values;
    return no_such_type(instance, "fmi3GetClock", nvr);
}

fmi3Status fmi3SetClock(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const fmi3Clock values[]) {
    (void)vr, (void)values;
    return no_such_type(instance, "fmi3SetClock", nvr);
}

/* ---------------------------------------------------------------- dependencies, state, derivatives */

fmi3Status fmi3GetNumberOfVariableDependencies(fmi3Instance instance, fmi3ValueReference valueReference,
                                               size_t *nDependencies) {
    (void)valueReference, (void)nDependencies;
    return unsupported(instance, "fmi3GetNumberOfVariableDependencies (read them from modelDescription.xml)");
}

fmi3Status fmi3GetVariableDependencies(fmi3Instance instance, fmi3ValueReference dependent,
                                       size_t elementIndicesOfDependent[], fmi3ValueReference independents[],
                                       size_t elementIndicesOfIndependents[], fmi3DependencyKind dependencyKinds[],
                                       size_t nDependencies) {
    (void)dependent, (void)elementIndicesOfDependent, (void)independents, (void)elementIndicesOfIndependents;
    (void)dependencyKinds, (void)nDependencies;
    return unsupported(instance, "fmi3GetVariableDependencies (read them from modelDescription.xml)");
}

fmi3Status fmi3GetFMUState(fmi3Instance instance, fmi3FMUState *FMUState) {
    return instance ? st(fmi2GetFMUstate(C2, (fmi2FMUstate *)FMUState)) : fmi3Error;
}

fmi3Status fmi3SetFMUState(fmi3Instance instance, fmi3FMUState FMUState) {
    return instance ? st(fmi2SetFMUstate(C2, (fmi2FMUstate)FMUState)) : fmi3Error;
}

fmi3Status fmi3FreeFMUState(fmi3Instance instance, fmi3FMUState *FMUState) {
    return instance ? st(fmi2FreeFMUstate(C2, (fmi2FMUstate *)FMUState)) : fmi3Error;
}

fmi3Status fmi3SerializedFMUStateSize(fmi3Instance instance, fmi3FMUState FMUState, size_t *size) {
    return instance ? st(fmi2SerializedFMUstateSize(C2, (fmi2FMUstate)FMUState, size)) : fmi3Error;
}

fmi3Status fmi3SerializeFMUState(fmi3Instance instance, fmi3FMUState FMUState, fmi3Byte serializedState[],
                                 size_t size) {
    return instance ? st(fmi2SerializeFMUstate(C2, (fmi2FMUstate)FMUState, (fmi2Byte *)serializedState, size))
                    : fmi3Error;
}

fmi3Status fmi3DeserializeFMUState(fmi3Instance instance, const fmi3Byte serializedState[], size_t size,
                                   fmi3FMUState *FMUState) {
    return instance ? st(fmi2DeSerializeFMUstate(C2, (const fmi2Byte *)serializedState, size,
                                                 (fmi2FMUstate *)FMUState))
                    : fmi3Error;
}

fmi3Status fmi3GetDirectionalDerivative(fmi3Instance instance, const fmi3ValueReference unknowns[],
                                        size_t nUnknowns, const fmi3ValueReference knowns[], size_t nKnowns,
                                        const fmi3Float64 seed[], size_t nSeed, fmi3Float64 sensitivity[],
                                        size_t nSensitivity) {
    if (!instance) return fmi3Error;
    if (nSeed != nKnowns || nSensitivity != nUnknowns) {
        log3(I, fmi3Error, "logError", "fmi3GetDirectionalDerivative: seed/sensitivity sizes differ from the "
             "numbers of knowns/unknowns (the FMU has no arrays)");
        return fmi3Error;
    }
    return st(fmi2GetDirectionalDerivative(C2, unknowns, nUnknowns, knowns, nKnowns, seed, sensitivity));
}

fmi3Status fmi3GetAdjointDerivative(fmi3Instance instance, const fmi3ValueReference unknowns[], size_t nUnknowns,
                                    const fmi3ValueReference knowns[], size_t nKnowns, const fmi3Float64 seed[],
                                    size_t nSeed, fmi3Float64 sensitivity[], size_t nSensitivity) {
    (void)unknowns, (void)nUnknowns, (void)knowns, (void)nKnowns, (void)seed, (void)nSeed, (void)sensitivity;
    (void)nSensitivity;
    return unsupported(instance, "fmi3GetAdjointDerivative");
}

fmi3Status fmi3EnterConfigurationMode(fmi3Instance instance) {
    return unsupported(instance, "fmi3EnterConfigurationMode (no structural parameters)");
}

fmi3Status fmi3ExitConfigurationMode(fmi3Instance instance) {
    return unsupported(instance, "fmi3ExitConfigurationMode (no structural parameters)");
}

/* ---------------------------------------------------------------- clocks (none) */

fmi3Status fmi3GetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                  fmi3Float64 intervals[], fmi3IntervalQualifier qualifiers[]) {
    (void)vr, (void)intervals, (void)qualifiers;
    return no_such_type(instance, "fmi3GetIntervalDecimal", nvr);
}

fmi3Status fmi3GetIntervalFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                   fmi3UInt64 counters[], fmi3UInt64 resolutions[],
                                   fmi3IntervalQualifier qualifiers[]) {
    (void)vr, (void)counters, (void)resolutions, (void)qualifiers;
    return no_such_type(instance, "fmi3GetIntervalFraction", nvr);
}

fmi3Status fmi3GetShiftDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                               fmi3Float64 shifts[]) {
    (void)vr, (void)shifts;
    return no_such_type(instance, "fmi3GetShiftDecimal", nvr);
}

fmi3Status fmi3GetShiftFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                fmi3UInt64 counters[], fmi3UInt64 resolutions[]) {
    (void)vr, (void)counters, (void)resolutions;
    return no_such_type(instance, "fmi3GetShiftFraction", nvr);
}

fmi3Status fmi3SetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                  const fmi3Float64 intervals[]) {
    (void)vr, (void)intervals;
    return no_such_type(instance, "fmi3SetIntervalDecimal", nvr);
}

fmi3Status fmi3SetIntervalFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                   const fmi3UInt64 counters[], const fmi3UInt64 resolutions[]) {
    (void)vr, (void)counters, (void)resolutions;
    return no_such_type(instance, "fmi3SetIntervalFraction", nvr);
}

fmi3Status fmi3SetShiftDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                               const fmi3Float64 shifts[]) {
    (void)vr, (void)shifts;
    return no_such_type(instance, "fmi3SetShiftDecimal", nvr);
}

fmi3Status fmi3SetShiftFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                const fmi3UInt64 counters[], const fmi3UInt64 resolutions[]) {
    (void)vr, (void)counters, (void)resolutions;
    return no_such_type(instance, "fmi3SetShiftFraction", nvr);
}

fmi3Status fmi3EvaluateDiscreteStates(fmi3Instance instance) {
    return instance ? fmi3OK : fmi3Error; /* no discrete states */
}

fmi3Status fmi3UpdateDiscreteStates(fmi3Instance instance, fmi3Boolean *discreteStatesNeedUpdate,
                                    fmi3Boolean *terminateSimulation, fmi3Boolean *nominalsOfContinuousStatesChanged,
                                    fmi3Boolean *valuesOfContinuousStatesChanged, fmi3Boolean *nextEventTimeDefined,
                                    fmi3Float64 *nextEventTime) {
    if (!instance) return fmi3Error;
    fmi2EventInfo info;
    memset(&info, 0, sizeof(info));
    fmi3Status s = st(fmi2NewDiscreteStates(C2, &info));
    if (discreteStatesNeedUpdate) *discreteStatesNeedUpdate = info.newDiscreteStatesNeeded ? true : false;
    if (terminateSimulation) *terminateSimulation = info.terminateSimulation ? true : false;
    if (nominalsOfContinuousStatesChanged)
        *nominalsOfContinuousStatesChanged = info.nominalsOfContinuousStatesChanged ? true : false;
    if (valuesOfContinuousStatesChanged)
        *valuesOfContinuousStatesChanged = info.valuesOfContinuousStatesChanged ? true : false;
    if (nextEventTimeDefined) *nextEventTimeDefined = info.nextEventTimeDefined ? true : false;
    if (nextEventTime) *nextEventTime = info.nextEventTime;
    return s;
}

/* ---------------------------------------------------------------- Model Exchange */

fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance instance) {
    return instance ? st(fmi2EnterContinuousTimeMode(C2)) : fmi3Error;
}

fmi3Status fmi3CompletedIntegratorStep(fmi3Instance instance, fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi3Boolean *enterEventMode, fmi3Boolean *terminateSimulation) {
    if (!instance) return fmi3Error;
    fmi2Boolean enter = fmi2False, stop = fmi2False;
    fmi3Status s = st(fmi2CompletedIntegratorStep(C2, noSetFMUStatePriorToCurrentPoint ? fmi2True : fmi2False,
                                                  &enter, &stop));
    if (enterEventMode) *enterEventMode = enter ? true : false;
    if (terminateSimulation) *terminateSimulation = stop ? true : false;
    return s;
}

fmi3Status fmi3SetTime(fmi3Instance instance, fmi3Float64 time) {
    return instance ? st(fmi2SetTime(C2, time)) : fmi3Error;
}

fmi3Status fmi3SetContinuousStates(fmi3Instance instance, const fmi3Float64 continuousStates[],
                                   size_t nContinuousStates) {
    return instance ? st(fmi2SetContinuousStates(C2, continuousStates, nContinuousStates)) : fmi3Error;
}

fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance instance, fmi3Float64 derivatives[],
                                             size_t nContinuousStates) {
    return instance ? st(fmi2GetDerivatives(C2, derivatives, nContinuousStates)) : fmi3Error;
}

fmi3Status fmi3GetEventIndicators(fmi3Instance instance, fmi3Float64 eventIndicators[], size_t nEventIndicators) {
    return instance ? st(fmi2GetEventIndicators(C2, eventIndicators, nEventIndicators)) : fmi3Error;
}

fmi3Status fmi3GetContinuousStates(fmi3Instance instance, fmi3Float64 continuousStates[],
                                   size_t nContinuousStates) {
    return instance ? st(fmi2GetContinuousStates(C2, continuousStates, nContinuousStates)) : fmi3Error;
}

fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance instance, fmi3Float64 nominals[],
                                             size_t nContinuousStates) {
    return instance ? st(fmi2GetNominalsOfContinuousStates(C2, nominals, nContinuousStates)) : fmi3Error;
}

fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance instance, size_t *nEventIndicators) {
    if (!instance || !nEventIndicators) return fmi3Error;
    *nEventIndicators = 0;
    return fmi3OK;
}

fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance instance, size_t *nContinuousStates) {
    if (!instance || !nContinuousStates) return fmi3Error;
    *nContinuousStates = (size_t)MDL_NX;
    return fmi3OK;
}

/* ---------------------------------------------------------------- Co-Simulation */

fmi3Status fmi3EnterStepMode(fmi3Instance instance) {
    return unsupported(instance, "fmi3EnterStepMode (no event mode in Co-Simulation)");
}

fmi3Status fmi3GetOutputDerivatives(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                    size_t nValueReferences, const fmi3Int32 orders[], fmi3Float64 values[],
                                    size_t nValues) {
    if (!instance || scalar_counts(instance, "fmi3GetOutputDerivatives", nValueReferences, nValues) != 0)
        return fmi3Error;
    return st(fmi2GetRealOutputDerivatives(C2, valueReferences, nValueReferences, (const fmi2Integer *)orders,
                                           values));
}

fmi3Status fmi3DoStep(fmi3Instance instance, fmi3Float64 currentCommunicationPoint,
                      fmi3Float64 communicationStepSize, fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                      fmi3Boolean *eventHandlingNeeded, fmi3Boolean *terminateSimulation, fmi3Boolean *earlyReturn,
                      fmi3Float64 *lastSuccessfulTime) {
    if (!instance) return fmi3Error;
    fmi2Status s = fmi2DoStep(C2, currentCommunicationPoint, communicationStepSize,
                              noSetFMUStatePriorToCurrentPoint ? fmi2True : fmi2False);
    if (eventHandlingNeeded) *eventHandlingNeeded = false;
    if (terminateSimulation) *terminateSimulation = false;
    if (earlyReturn) *earlyReturn = false;
    if (lastSuccessfulTime) {
        fmi2Real t = currentCommunicationPoint + communicationStepSize;
        if (s != fmi2OK && s != fmi2Warning) fmi2GetRealStatus(C2, fmi2LastSuccessfulTime, &t);
        *lastSuccessfulTime = t;
    }
    return st(s);
}

/* ---------------------------------------------------------------- Scheduled Execution (none) */

fmi3Status fmi3ActivateModelPartition(fmi3Instance instance, fmi3ValueReference clockReference,
                                      fmi3Float64 activationTime) {
    (void)clockReference, (void)activationTime;
    return unsupported(instance, "fmi3ActivateModelPartition (no Scheduled Execution)");
}
