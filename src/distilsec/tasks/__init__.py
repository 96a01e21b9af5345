"""Tasks: one module per task (readers, preprocessing, split unit, the models and metrics it declares)."""
