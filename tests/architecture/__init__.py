"""Guards on the package's structure: layering and import cycles."""
