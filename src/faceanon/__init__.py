"""faceanon: find every face in a photo and mask it so that nobody can be re-identified."""

__version__ = "0.1.0"
