"""DocSTN service package."""
