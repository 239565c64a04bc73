"""Hyperparameter tuning where every trial is a pipeline run, and AutoML (see DESIGN.md, `tune`)."""
