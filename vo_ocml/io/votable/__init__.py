"""Fast VOTable reading and writing with vectorised numpy decoding and encoding.

astropy's VOTable parser and writer handle every corner of the standard but work row by row:
reading a 2,000,000-row BINARY2 file takes tens of seconds and writing it minutes. This module
handles the common cases with numpy and falls back to astropy for everything else.

Reading splits the document into its data content and the XML around it. The XML without the
data (the *skeleton*, a few kilobytes) is parsed by astropy itself, which yields the column
names, dtypes, units, UCDs, descriptions and null values exactly as astropy's own reader would;
the data content is then decoded in bulk. The result is column-for-column the table that
``astropy.io.votable.parse(...).get_first_table().to_table(use_names_over_ids=True)`` returns.

The fast reader handles one TABLE with its DATA as TABLEDATA (UTF-8, VOTable >= 1.3) or as a
base64 STREAM of BINARY or BINARY2, with FIELDs of datatype boolean, unsignedByte, short, int,
long, float, double (scalars and fixed-size arrays; no boolean arrays in TABLEDATA), char and
unicodeChar (fixed width, or variable length with ``arraysize="*"`` / ``"n*"``). Everything else
goes to astropy: bit, complex, variable-length numeric arrays, multidimensional strings, FITS
serialization, remote or non-base64 STREAMs, several TABLEs, namespace prefixes, TABLEDATA
with comments, CDATA, attributes on TR/TD or hexadecimal integers.

Table-level metadata that astropy's ``to_table`` drops is kept in ``table.meta``:

``meta["votable_params"]``
    list of dicts, one per input PARAM (RESOURCE or TABLE level), with the XML attributes as
    strings (``name``, ``value``, ``datatype``, ``arraysize``, ``ucd``, ``unit``, ``utype``,
    ``xtype``) and ``description``.
``meta["votable_infos"]``
    list of dicts, one per input INFO (document, RESOURCE or TABLE level), with ``name``,
    ``value``, ``ucd``, ``unit``, ``utype``, ``xtype`` and ``content``.

Writing produces BINARY2 (default) or TABLEDATA, with PARAMs from ``meta["ocml_params"]``
(dicts with ``name``, ``value``, ``ucd``, ``unit``, ``description``; they replace preserved
PARAMs of the same name) and the preserved ``votable_params``/``votable_infos``. Boolean,
integer (int8 as short, uint16 as int, uint32 as long), float and string columns, scalar or
1-d arrays, are written by numpy; other columns (complex, uint64, mixins, multidimensional)
send the whole table to astropy's writer.

The fast reader hands a document to astropy only for a named reason (``Unsupported``: one of
the features above, logged at debug level) or when its decoders reject the data content (then
astropy reads it, with a warning asking for the file, or rejects it with its own diagnosis as an
``InputError``); any other exception is a bug and is not hidden.

Modules: :mod:`.reader` (the fast path and the astropy fallback), :mod:`.binary` and
:mod:`.tabledata` (decoding), :mod:`.writer`, :mod:`.params` (PARAM/INFO conventions),
:mod:`.columns` (how each column is written), :mod:`.fields` (how each FIELD is read),
:mod:`.common`.
"""

from vo_ocml.io.votable.reader import read_votable
from vo_ocml.io.votable.writer import write_votable

__all__ = ["read_votable", "write_votable"]
