"""DocSTN workers package."""
