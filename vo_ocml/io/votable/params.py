"""PARAMs and INFOs: kept from the input (``meta["votable_params"]``, ``meta["votable_infos"]``)
and written with vo_ocml's own provenance (``meta["ocml_params"]``, which replace same-named ones).
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from astropy import units as u
from astropy.io import votable
from astropy.table import Table



_PARAM_ATTRS = ("name", "datatype", "arraysize", "ucd", "unit", "utype", "xtype")
_INFO_ATTRS = ("name", "value", "ucd", "unit", "utype", "xtype")


def _store_params_infos(table: Table, vot: votable.tree.VOTableFile) -> None:
    """Copy the document's PARAMs and INFOs into ``table.meta`` as lists of dicts."""
    params = list(_param_dicts(getattr(vot, "params", [])))
    infos = list(_info_dicts(vot.infos))
    for resource in _walk_resources(vot.resources):
        params.extend(_param_dicts(resource.params))
        infos.extend(_info_dicts(resource.infos))
        for element in resource.tables:
            params.extend(_param_dicts(element.params))
            infos.extend(_info_dicts(element.infos))
    if params:
        table.meta["votable_params"] = params
    if infos:
        table.meta["votable_infos"] = infos


def _walk_resources(resources: Iterable[Any]) -> Iterable[Any]:
    """Yield RESOURCE elements depth-first, nested ones included."""
    for resource in resources:
        yield resource
        yield from _walk_resources(resource.resources)


def _param_dicts(params: Iterable[Any]) -> Iterable[dict[str, str]]:
    """Yield PARAMs as dicts of their XML attribute strings."""
    for param in params:
        entry = {key: _attr_text(getattr(param, key, None)) for key in _PARAM_ATTRS}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entry["value"] = param.converter.output(param.value, False)
        entry["description"] = param.description
        yield {key: val for key, val in entry.items() if val is not None}


def _info_dicts(infos: Iterable[Any]) -> Iterable[dict[str, str]]:
    """Yield INFOs as dicts of their XML attribute strings and content."""
    for info in infos:
        entry = {key: _attr_text(getattr(info, key, None)) for key in _INFO_ATTRS}
        entry["content"] = info.content
        yield {key: val for key, val in entry.items() if val is not None}


def _attr_text(value: Any) -> str | None:
    """Return an attribute as XML text (units in VOUnit syntax)."""
    if value is None:
        return None
    if isinstance(value, u.UnitBase):
        return _unit_text(value)
    return str(value)


def _unit_text(unit: u.UnitBase) -> str | None:
    """Return ``unit`` as a VOUnit string, or its plain text if it has no VOUnit form."""
    if unit == u.dimensionless_unscaled:
        return None
    try:
        return unit.to_string("vounit")
    except (ValueError, TypeError):
        return str(unit)


def _all_params(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Preserved input PARAMs followed by ``ocml_params`` (which replace same-named ones)."""
    ocml = [_typed_param(p) for p in meta.get("ocml_params", [])]
    names = {p["name"] for p in ocml}
    kept = [p for p in meta.get("votable_params", []) if p.get("name") not in names]
    return kept + ocml


def _typed_param(param: dict[str, Any]) -> dict[str, Any]:
    """Turn an ``ocml_params`` entry into PARAM attributes with a datatype for its value."""
    value = param.get("value")
    if isinstance(value, (bool, np.bool_)):
        datatype, text, arraysize = "boolean", "T" if value else "F", None
    elif isinstance(value, (int, np.integer)):
        datatype, text, arraysize = "long", str(int(value)), None
    elif isinstance(value, (float, np.floating)):
        datatype, text, arraysize = "double", _float_text(float(value)), None
    else:
        datatype, text, arraysize = "char", "" if value is None else str(value), "*"
    unit = param.get("unit")
    return {"name": param["name"], "datatype": datatype, "arraysize": arraysize,
            "value": text, "ucd": param.get("ucd"),
            "unit": _unit_text(u.Unit(unit, parse_strict="silent")) if unit else None,
            "description": param.get("description")}


def _float_text(value: float) -> str:
    """A float in VOTable syntax (NaN, +Inf, -Inf for the special values)."""
    return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}.get(repr(value), repr(value))


def _param_xml(param: dict[str, Any]) -> str:
    """A PARAM element from a dict of attribute strings and ``description``."""
    attrs = {key: param.get(key) for key in ("name", "datatype", "arraysize", "value",
                                             "ucd", "unit", "utype", "xtype")}
    if attrs["value"] is None:
        attrs["value"] = ""
    inner = _description_xml(param.get("description"))
    attrs_text = _attrs(attrs) + ("" if attrs["value"] else ' value=""')
    return f"   <PARAM{attrs_text}>{inner}</PARAM>" if inner else f"   <PARAM{attrs_text}/>"


def _info_xml(info: dict[str, Any]) -> str:
    """An INFO element from a dict of attribute strings and ``content``."""
    attrs = {key: info.get(key) for key in _INFO_ATTRS}
    attrs["value"] = attrs["value"] or ""
    attrs_text = _attrs(attrs) + ("" if attrs["value"] else ' value=""')
    content = info.get("content")
    return (f"  <INFO{attrs_text}>{escape(str(content))}</INFO>" if content
            else f"  <INFO{attrs_text}/>")


def _astropy_param(vot: votable.tree.VOTableFile, param: dict[str, Any]) -> Any:
    """Build an astropy ``Param`` from a dict of attribute strings."""
    kwargs = {k: v for k, v in param.items()
              if k in ("name", "datatype", "arraysize", "value", "ucd", "unit",
                       "utype", "xtype") and v is not None}
    result = votable.tree.Param(vot, **kwargs)
    result.description = param.get("description")
    return result


def _attrs(values: dict[str, Any]) -> str:
    """Render XML attributes, skipping empty ones."""
    return "".join(f" {key}={quoteattr(str(val))}" for key, val in values.items()
                   if val is not None and val != "")


def _description_xml(text: Any) -> str:
    """A DESCRIPTION element, or nothing."""
    return f"<DESCRIPTION>{escape(str(text))}</DESCRIPTION>" if text else ""
