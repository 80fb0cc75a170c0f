"""w2s_lib — the library behind the w2s-book: weak-to-strong generalization, search, MACPO, deception."""

__version__ = "0.1.0"
