"""DocSTN annotation package."""
