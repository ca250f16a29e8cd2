"""The causalised model: the hand-over point between the model compiler and the C code generator.

The model compiler (frontend + causalisation) turns a Modelica class into a CausalModel; the code generator turns
a CausalModel into C, compiles it with the FMU runtime and packages the FMU. See docs/exporter-contract.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import casadi as ca

VariableKind = Literal["parameter", "input", "state", "derivative", "calculated"]


@dataclass(frozen=True)
class ModelVariable:
    """One Real FMU variable; its value reference is its position in CausalModel.variables."""

    name: str
    kind: VariableKind
    #: Index into p, u, x or xdot for the first four kinds; -1 for calculated variables.
    index: int
    #: FMI causality: parameter, input, output or local.
    causality: str
    #: FMI variability: fixed, tunable or continuous.
    variability: str
    unit: str | None = None
    description: str = ""
    start: float | None = None
    min: float | None = None
    max: float | None = None
    nominal: float | None = None
    #: For kind == "derivative": the value reference of the state it is the derivative of.
    derivative_of: int | None = None
    #: FMI initial attribute (exact, approx, calculated); None = derived from kind (a state is "exact" when it
    #: has a start value, i.e. start/fixed=true; causalise sets "approx" for states whose start is only a guess).
    initial: str | None = None


@dataclass
class CausalModel:
    """A semi-explicit DAE  xdot = f(t,x,z,u,p), 0 = g(t,x,z,u,p)  with every variable v = vars(t,x,z,u,p).

    The four CasADi functions below are the whole numerical content; everything else is metadata. Each takes
    (t, x, z, u, p) as dense column vectors (t scalar) unless noted.
    - dae:        (t, x, z, u, p) -> (xdot, res)
    - vars:       (t, x, z, u, p) -> (v,)          all variables in value-reference order
    - init_guess: (t, u, p)       -> (x0, z0)      start values
    - init_res:   (t, x, z, u, p) -> (r,)          nx + nz initialisation residuals (fixed starts, initial
                                                    equations, and g)
    """

    name: str
    description: str
    dae: ca.Function
    vars: ca.Function
    init_guess: ca.Function
    init_res: ca.Function
    variables: list[ModelVariable]
    source_files: list[Path] = field(default_factory=list)
    default_tolerance: float = 1e-6
    default_stop_time: float = 1.0
    #: FMI modelIdentifier when not derived from the name (an export variant, see variants.py)
    model_identifier: str | None = None

    @property
    def identifier(self) -> str:
        """FMI modelIdentifier and FMU file stem, OpenModelica style: dots become underscores."""
        return self.model_identifier or self.name.replace(".", "_")

    @property
    def nx(self) -> int:
        return self.dae.size1_in(1)

    @property
    def nz(self) -> int:
        return self.dae.size1_in(2)

    @property
    def nu(self) -> int:
        return self.dae.size1_in(3)

    @property
    def np(self) -> int:
        return self.dae.size1_in(4)
