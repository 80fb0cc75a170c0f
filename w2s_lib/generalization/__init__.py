"""Paper 1 (Burns et al.): weak-to-strong generalization pipelines."""
