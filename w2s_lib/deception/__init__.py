"""Paper 4 (Yang et al.): weak-to-strong deception under conflicting objectives."""
