"""What reading and writing SSP archives share: the XML namespaces, o2twin's annotation and FMU metadata helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.errors import SystemDefinitionError
from orchestrator.scenario.ssp.units import BASE, BaseUnit

NS = {
    "ssc": "http://ssp-standard.org/SSP1/SystemStructureCommon",
    "ssd": "http://ssp-standard.org/SSP1/SystemStructureDescription",
    "ssv": "http://ssp-standard.org/SSP1/SystemStructureParameterValues",
    "ssm": "http://ssp-standard.org/SSP1/SystemStructureParameterMapping",
    "ssb": "http://ssp-standard.org/SSP1/SystemStructureSignalDictionary",
}
#: The system annotation holding, as TOML, what SSP 1.0 cannot express (master, events, Python blocks, ...).
O2_NS = "urn:o2twin:ssp-scenario"
ANNOTATION_TYPE = "org.o2twin.scenario"
FMU_MIME = "application/x-fmu-sharedlibrary"
#: Keys of the annotation table that describe the system's structure rather than scenario tables.
STRUCTURE_KEYS = ("blocks", "fmus", "block_connections", "order", "connection_order", "block_fmus")


def q(prefix: str, tag: str) -> str:
    """A qualified XML tag, e.g. q("ssd", "Component")."""
    return f"{{{NS[prefix]}}}{tag}"


def fmt(value: float) -> str:
    """A float as SSP text that reads back as the same value."""
    return repr(float(value))


def read_model_description(path: Path, where: str) -> Any:
    """fmpy's model description of an .fmu; SystemDefinitionError naming the FMU when it cannot be read.

    The FMU (unpacked from an archive within its limits) is itself an archive whose members nothing has counted yet:
    it is held to the same limits (file count, declared size) before fmpy unpacks its modelDescription.xml."""
    from fmpy import read_model_description as fmpy_read

    from orchestrator.cosim.slaves.archive import open_archive

    open_archive(path, f"{where}: FMU '{path.name}'").close()
    try:
        return fmpy_read(str(path), validate=False)
    except Exception as err:  # fmpy raises plain exceptions for broken archives
        raise SystemDefinitionError(f"{where}: cannot read the FMU '{path}': {err}") from None


def var_unit(var: Any) -> str | None:
    """The unit of an FMU variable (its own or its declared type's)."""
    declared = getattr(var, "declaredType", None)
    return var.unit or (declared.unit if declared is not None else None)


def md_base_units(mds: list[Any]) -> dict[str, BaseUnit]:
    """Unit name -> base units from the FMUs' UnitDefinitions."""
    out: dict[str, BaseUnit] = {}
    for md in mds:
        for u in getattr(md, "unitDefinitions", []) or []:
            bu = getattr(u, "baseUnit", None)
            if bu is not None and u.name not in out:
                exps = tuple(int(getattr(bu, b, 0) or 0) for b in BASE)
                out[u.name] = BaseUnit(exps, float(getattr(bu, "factor", 1.0)), float(getattr(bu, "offset", 0.0)))
    return out


def parse_xml(data: bytes, where: str) -> Any:
    """An XML document from an archive (no entities, no network); SystemDefinitionError naming it if broken."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise SystemDefinitionError(f"{where} is not XML: {err}") from None


def schema_dir(version: str, where: str) -> Path:
    """The folder of the SSP schemas for a document's version: 1.x from fmpy, 2.0 from pyssp-standard (the interop
    extra), which ships the SSP 2.0 schemas."""
    if version.startswith("2."):
        try:
            from importlib.resources import files

            folder = Path(str(files("pyssp_standard"))) / "resources" / "ssp2"
        except ModuleNotFoundError:
            raise SystemDefinitionError(
                f"{where}: an SSP {version} document; reading it needs the SSP 2.0 schemas of pyssp-standard: "
                'pip install -e ".[interop]"'
            ) from None
        if not (folder / "SystemStructureDescription.xsd").is_file():
            raise SystemDefinitionError(f"{where}: the installed pyssp-standard has no SSP 2.0 schemas in {folder}")
        return folder
    import fmpy.ssp.ssd as fmpy_ssd

    return Path(fmpy_ssd.__file__).parent / "schema"


def validate(root: Any, schema_file: str, where: str) -> None:
    """Check a document against the SSP schema of its version (1.0 or 2.0); SystemDefinitionError on the first
    error, naming the version."""
    from lxml import etree

    version = root.get("version") or "1.0"
    schema = etree.XMLSchema(file=str(schema_dir(version, where) / schema_file))
    if not schema.validate(root):
        first = schema.error_log[0]
        label = "SSP 2.0" if version.startswith("2.") else "SSP 1.0"
        raise SystemDefinitionError(f"{where}: not valid {label} (line {first.line}: {first.message})")
