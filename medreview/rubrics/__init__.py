"""Rubric and taxonomy files: the documented format, its validating loader, built-in templates.

``load`` reads and writes ``medreview-form/1`` files (YAML or JSON), ``schema`` holds the
vocabulary of that format, ``templates`` lists the forms shipped in ``resources/rubrics``.
"""
