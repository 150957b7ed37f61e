"""Pure domain vocabulary: frozen dataclasses and enums shared by every layer (stdlib only)."""
