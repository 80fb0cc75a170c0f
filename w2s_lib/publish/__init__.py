"""The book side: papermill runs, the claims scorecard, display helpers, plotting."""
