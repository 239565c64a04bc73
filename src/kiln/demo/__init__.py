"""The demo pipeline `kiln demo` runs."""
