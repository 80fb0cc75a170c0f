"""Paper 3 (Lyu et al.): MACPO, the multi-agent contrastive preference loop, and its baselines."""
