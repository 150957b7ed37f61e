"""The PySide6 desktop screens. The only package that imports Qt; reaches data via services."""
