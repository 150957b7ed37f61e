"""File parsers: cases, model outputs, prior ratings and media → neutral ``Located`` records.

No database here: each parser is a generator over one file, and ``medreview.storage`` ingests
the stream in one transaction. Start with ``medreview.importers.detect.parse_file``; the
formats and their field mappings are described in ``docs/IMPORT_FORMATS.md``.
"""
